package storage

import (
	"encoding/binary"

	"github.com/cockroachdb/pebble/v2"
)

// Format 1 prefixed service names and object keys with a plain 16-bit length. A component of
// 64 KiB or more wrapped: a key of 65,536+7 bytes beginning with "victim1" was written with
// length 7, so its entries landed inside victim1's span. Format 2 (LenPrefixed) keeps the
// 16-bit form below 0xFFFF and gives 0xFFFF the meaning "a 64-bit length follows".
//
// So the only format 1 keys whose bytes mean something else in format 2 are those with a
// component of exactly 0xFFFF bytes; the upgrade rewrites those and nothing else. Entries that
// format 1 wrote for keys longer than that cannot be told apart from the entries of the short
// key they collided with (the bytes are the same): they keep the meaning format 1 gave them.

// objectTables are the tables whose keys start with ObjectPrefix's two components.
var objectTables = []byte{TableState, TableLock, TableInbox, TablePromise}

func isObjectTable(t byte) bool {
	for _, o := range objectTables {
		if t == o {
			return true
		}
	}
	return false
}

// cutV1 splits a format 1 component: 16-bit length, bytes.
func cutV1(b []byte) (string, []byte, bool) {
	if len(b) < 2 {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return "", nil, false
	}
	return string(b[2 : 2+n]), b[2+n:], true
}

// UpgradeKeyV1 converts a key written by format 1 into format 2. It returns the key itself
// (and false) when the two formats agree on it, which is every key without a component of
// exactly 0xFFFF bytes.
func UpgradeKeyV1(k []byte) ([]byte, bool) {
	if len(k) < 4 || k[0] != spacePartition || !isObjectTable(k[3]) {
		return k, false
	}
	service, rest, ok := cutV1(k[4:])
	if !ok {
		return k, false
	}
	key, rest, ok := cutV1(rest)
	if !ok || (len(service) != extendedLen && len(key) != extendedLen) {
		return k, false
	}
	p := binary.BigEndian.Uint16(k[1:])
	return append(ObjectPrefix(p, k[3], service, key), rest...), true
}

// upgradeFromV1 rewrites the keys that format 2 reads differently and records format 2, in
// one synced batch: a crash leaves either the old data and marker or the new ones.
func (db *DB) upgradeFromV1() (rewritten int, err error) {
	b := db.NewBatch()
	defer b.Close()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{spacePartition}, UpperBound: []byte{spacePartition + 1}})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	// Visit only the object tables: from any other table, seek to the next table of the same
	// partition (journals and statuses are most of the data and never need a look).
	for ok := it.First(); ok; {
		k := it.Key()
		if len(k) < 4 {
			ok = it.Next()
			continue
		}
		if !isObjectTable(k[3]) {
			if k[3] == 0xFF {
				ok = it.SeekGE(TablePrefixEnd(k[:4]))
			} else {
				ok = it.SeekGE([]byte{k[0], k[1], k[2], k[3] + 1})
			}
			continue
		}
		if nk, changed := UpgradeKeyV1(k); changed {
			if err := b.Set(nk, it.Value(), nil); err != nil {
				return 0, err
			}
			if err := b.Delete(k, nil); err != nil {
				return 0, err
			}
			rewritten++
		}
		ok = it.Next()
	}
	if err := it.Error(); err != nil {
		return 0, err
	}
	if err := b.Set(formatKey, binary.BigEndian.AppendUint32(nil, 2), nil); err != nil {
		return 0, err
	}
	return rewritten, b.Commit(pebble.Sync)
}
