package storage

import "encoding/binary"

// Key space prefixes.
const (
	spacePartition byte = 0x01
	spaceLog       byte = 0x02
	spaceMeta      byte = 0x03
)

// Tables inside a partition's span. "service | key" is ObjectPrefix's pair of length-prefixed
// components.
const (
	TableMeta        byte = 'm' // partition bookkeeping: applied lsn, leader epoch, counters
	TableStatus      byte = 's' // invocation id -> status
	TableJournal     byte = 'j' // invocation id | index u32 -> entry
	TableState       byte = 'k' // service | key | state key -> value
	TableLock        byte = 'l' // service | key -> invocation id holding the exclusive lock
	TableInbox       byte = 'i' // service | key | seq u64 -> invocation id
	TableTimer       byte = 't' // wake time ms u64 | invocation id | kind | id -> timer
	TableIdempotency byte = 'd' // reserved; nothing writes it (idempotent requests have derived ids)
	TablePromise     byte = 'p' // service | key | promise name -> completion
	TableOutbox      byte = 'o' // seq u64 -> message for another partition
	TableDedup       byte = 'x' // reserved; nothing writes it
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

// Variable-length components of composite keys (service names, object keys) carry their
// length in front, so that the components of one key can never be read as the components of
// another, and a scan of one object's prefix never reaches into another object's entries:
//
//	length < 0xFFFF:   length u16 | bytes
//	length >= 0xFFFF:  0xFFFF | length u64 | bytes
//
// Every length has exactly one encoding, so the set of encoded components is prefix-free: a
// reader that has seen a component's header knows where it ends. Encoded components sort by
// length, then bytes. Components shorter than 0xFFFF bytes are encoded as format 1 encoded them
// (format 1 had only the 16-bit form, which wrapped at 64 KiB; see migrate.go).
const extendedLen = 0xFFFF

// AppendLenPrefixed appends the length-prefixed encoding of s to dst.
func AppendLenPrefixed(dst []byte, s string) []byte {
	if len(s) < extendedLen {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	} else {
		dst = binary.BigEndian.AppendUint16(dst, extendedLen)
		dst = binary.BigEndian.AppendUint64(dst, uint64(len(s)))
	}
	return append(dst, s...)
}

// LenPrefixed returns the length-prefixed encoding of s.
func LenPrefixed(s string) []byte {
	return AppendLenPrefixed(make([]byte, 0, 10+len(s)), s)
}

// CutLenPrefixed splits one length-prefixed component off the front of b. ok is false when b
// is too short for the length it announces or the length is not in its one valid form.
func CutLenPrefixed(b []byte) (s string, rest []byte, ok bool) {
	if len(b) < 2 {
		return "", nil, false
	}
	n, hdr := uint64(binary.BigEndian.Uint16(b)), 2
	if n == extendedLen {
		if len(b) < 10 {
			return "", nil, false
		}
		n, hdr = binary.BigEndian.Uint64(b[2:]), 10
		if n < extendedLen {
			return "", nil, false
		}
	}
	if uint64(len(b)-hdr) < n {
		return "", nil, false
	}
	end := hdr + int(n)
	return string(b[hdr:end]), b[end:], true
}

// ObjectPrefix is the prefix of every entry of table t that belongs to the object (or
// workflow) key of service: state, lock, inbox and promise entries.
func ObjectPrefix(p uint16, t byte, service, key string) []byte {
	k := make([]byte, 0, 4+10+len(service)+10+len(key)+16)
	k = append(k, spacePartition, byte(p>>8), byte(p), t)
	k = AppendLenPrefixed(k, service)
	return AppendLenPrefixed(k, key)
}

// CutObjectPrefix is the inverse of ObjectPrefix: given the rest of a key after its table
// prefix, it returns the service, the object key and what follows them.
func CutObjectPrefix(b []byte) (service, key string, rest []byte, ok bool) {
	service, b, ok = CutLenPrefixed(b)
	if !ok {
		return "", "", nil, false
	}
	key, b, ok = CutLenPrefixed(b)
	if !ok {
		return "", "", nil, false
	}
	return service, key, b, true
}

// BE32 and BE64 encode integers so that byte order equals numeric order.
func BE32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func BE64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
