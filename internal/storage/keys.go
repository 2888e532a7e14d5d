package storage

import "encoding/binary"

// Key space prefixes.
const (
	spacePartition byte = 0x01
	spaceLog       byte = 0x02
	spaceMeta      byte = 0x03
)

// Tables inside a partition's span.
const (
	TableMeta        byte = 'm' // partition bookkeeping: applied lsn, leader epoch, counters
	TableStatus      byte = 's' // invocation id -> status
	TableJournal     byte = 'j' // invocation id | index u32 -> entry
	TableState       byte = 'k' // service | key | state key -> value
	TableLock        byte = 'l' // service | key -> invocation id holding the exclusive lock
	TableInbox       byte = 'i' // service | key | seq u64 -> invocation id
	TableTimer       byte = 't' // wake time ms u64 | invocation id | kind | id -> timer
	TableIdempotency byte = 'd' // service | key | handler | idempotency key -> invocation id
	TablePromise     byte = 'p' // service | key | promise name -> completion
	TableOutbox      byte = 'o' // seq u64 -> message for another partition
	TableDedup       byte = 'x' // producer -> last sequence number seen
	TableExpiry      byte = 'e' // expiry ms u64 | invocation id -> cleanup of completed invocations
)

// PartitionPrefix is the first key of a partition's span.
func PartitionPrefix(p uint16) []byte {
	return []byte{spacePartition, byte(p >> 8), byte(p)}
}

// PartitionSpan returns [start, end) of a partition's span.
func PartitionSpan(p uint16) (start, end []byte) {
	start = PartitionPrefix(p)
	end = []byte{spacePartition, byte((p + 1) >> 8), byte(p + 1)}
	if p == 0xFFFF {
		end = []byte{spacePartition + 1}
	}
	return start, end
}

// TableKey builds a key of table t in partition p followed by the given parts.
func TableKey(p uint16, t byte, parts ...[]byte) []byte {
	n := 4
	for _, part := range parts {
		n += len(part)
	}
	k := make([]byte, 0, n)
	k = append(k, spacePartition, byte(p>>8), byte(p), t)
	for _, part := range parts {
		k = append(k, part...)
	}
	return k
}

// TablePrefixEnd returns the exclusive end of the span of keys starting with prefix.
func TablePrefixEnd(prefix []byte) []byte {
	end := append([]byte{}, prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// LogKey is the key of record lsn in partition p's log.
func LogKey(p uint16, lsn uint64) []byte {
	k := make([]byte, 11)
	k[0] = spaceLog
	binary.BigEndian.PutUint16(k[1:], p)
	binary.BigEndian.PutUint64(k[3:], lsn)
	return k
}

// LogSpan returns [start, end) of partition p's log.
func LogSpan(p uint16) (start, end []byte) {
	start = []byte{spaceLog, byte(p >> 8), byte(p)}
	return start, TablePrefixEnd(start)
}

// LSNFromLogKey extracts the lsn of a log key.
func LSNFromLogKey(k []byte) uint64 { return binary.BigEndian.Uint64(k[3:]) }

// MetaKey is a key in the node-local metadata space.
func MetaKey(name string) []byte { return append([]byte{spaceMeta}, name...) }

// U16 length-prefixes a component so composite keys stay unambiguous and prefix-scannable.
func U16(s string) []byte {
	b := make([]byte, 2, 2+len(s))
	binary.BigEndian.PutUint16(b, uint16(len(s)))
	return append(b, s...)
}

// BE32 and BE64 encode integers so that byte order equals numeric order.
func BE32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func BE64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
