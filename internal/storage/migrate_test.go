package storage

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

type kv struct{ k, v []byte }

// writeV1 builds a database as format 1 left it: its marker and keys in format 1's layout.
func writeV1(t *testing.T, dir string, entries []kv) {
	t.Helper()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	_ = b.Set(formatKey, binary.BigEndian.AppendUint32(nil, 1), nil)
	for _, e := range entries {
		_ = b.Set(e.k, e.v, nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func allEntries(t *testing.T, db *DB) map[string]string {
	t.Helper()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{spacePartition}, UpperBound: []byte{spaceMeta + 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	out := map[string]string{}
	for ok := it.First(); ok; ok = it.Next() {
		out[string(it.Key())] = string(it.Value())
	}
	return out
}

func marker(t *testing.T, db *DB) uint32 {
	t.Helper()
	v, ok, err := GetCopy(db, formatKey)
	if err != nil || !ok {
		t.Fatalf("format marker: %v %v", ok, err)
	}
	return binary.BigEndian.Uint32(v)
}

// TestUpgradeFromV1 writes every kind of object-scoped key in format 1's layout next to
// unrelated tables and partitions, opens the directory with this release and reads it all back
// through format 2's key builders.
func TestUpgradeFromV1(t *testing.T) {
	k65535 := strings.Repeat("k", 0xFFFF) // the only length whose format 1 bytes mean something else now
	s65535 := strings.Repeat("s", 0xFFFF)
	k65534 := strings.Repeat("k", 0xFFFE)
	seq := BE64(7)
	var old, want []kv
	add := func(oldKey, newKey []byte, v string) {
		old = append(old, kv{oldKey, []byte(v)})
		want = append(want, kv{newKey, []byte(v)})
	}
	for _, p := range []uint16{0, 3, 0xFFFF} {
		for _, tc := range []struct{ service, key string }{{"Counter", "victim1"}, {"Counter", k65535}, {"Counter", k65534}, {s65535, "k"}, {s65535, k65535}, {"Counter", ""}} {
			add(append(v1ObjectPrefix(p, TableState, tc.service, tc.key), "count"...), append(ObjectPrefix(p, TableState, tc.service, tc.key), "count"...), "state")
			add(v1ObjectPrefix(p, TableLock, tc.service, tc.key), ObjectPrefix(p, TableLock, tc.service, tc.key), "lock")
			add(append(v1ObjectPrefix(p, TableInbox, tc.service, tc.key), seq...), append(ObjectPrefix(p, TableInbox, tc.service, tc.key), seq...), "inbox")
			add(append(v1ObjectPrefix(p, TablePromise, tc.service, tc.key), "p1"...), append(ObjectPrefix(p, TablePromise, tc.service, tc.key), "p1"...), "promise")
		}
		// Tables without object keys stay as they are, even where their bytes look like a
		// 0xFFFF-long component.
		ffff := []byte{0xFF, 0xFF, 1, 2, 3}
		for _, tb := range []byte{TableMeta, TableStatus, TableJournal, TableTimer, TableOutbox, TableExpiry} {
			k := TableKey(p, tb, ffff, []byte(k65535))
			add(k, k, "other")
		}
	}
	lk := LogKey(3, 42)
	add(lk, lk, "log")
	mk := MetaKey("node-id")
	add(mk, mk, "meta")

	dir := t.TempDir()
	writeV1(t, dir, old)
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := marker(t, db); got != FormatVersion {
		t.Fatalf("marker after upgrade = %d, want %d", got, FormatVersion)
	}
	got := allEntries(t, db)
	for _, e := range want {
		if v, ok := got[string(e.k)]; !ok || v != string(e.v) {
			t.Fatalf("entry %q (%d bytes of key) missing after upgrade (found %v %q)", e.v, len(e.k), ok, v)
		}
		delete(got, string(e.k))
	}
	for k, v := range got {
		t.Fatalf("a %d-byte key %x.. with value %q is left over after the upgrade", len(k), k[:min(len(k), 12)], v)
	}
	// The upgraded keys decode to the objects they were written for.
	s, k, rest, ok := CutObjectPrefix(append(ObjectPrefix(3, TableState, s65535, k65535), "count"...)[4:])
	if !ok || s != s65535 || k != k65535 || string(rest) != "count" {
		t.Fatal("upgraded state key does not decode")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Opening again is a no-op.
	db, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := len(allEntries(t, db)); n != len(want) {
		t.Fatalf("second open: %d entries, want %d", n, len(want))
	}
}

func TestUpgradeKeyV1LeavesAgreeingKeysAlone(t *testing.T) {
	k := append(v1ObjectPrefix(1, TableState, "Counter", "victim1"), "count"...)
	if got, changed := UpgradeKeyV1(k); changed || !bytes.Equal(got, k) {
		t.Fatal("a short key was rewritten")
	}
	// Truncated or foreign keys pass through untouched.
	for _, k := range [][]byte{{spacePartition, 0, 1, TableState, 0xFF}, {spaceLog, 0, 1, TableState}, {spacePartition, 0, 1}} {
		if got, changed := UpgradeKeyV1(k); changed || !bytes.Equal(got, k) {
			t.Fatalf("%x was rewritten", k)
		}
	}
}

func TestOpenRefusesNewerFormat(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Set(formatKey, binary.BigEndian.AppendUint32(nil, FormatVersion+1), pebble.Sync)
	db.Close()
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "newer release") {
		t.Fatalf("opening a newer format: %v", err)
	}
}

// FuzzUpgradeKeyV1: keys come from old databases and snapshot files. The upgrade never panics,
// and a key it rewrites decodes in format 2 to the components format 1 read from it.
func FuzzUpgradeKeyV1(f *testing.F) {
	f.Add(append(v1ObjectPrefix(1, TableState, "Counter", "victim1"), "count"...))
	f.Add(append(v1ObjectPrefix(1, TableLock, "C", strings.Repeat("k", 0xFFFF)), "x"...))
	f.Add([]byte{spacePartition, 0, 1, TableInbox, 0xFF, 0xFF, 0})
	f.Add([]byte{spaceLog, 0, 1, TableState})
	f.Fuzz(func(t *testing.T, k []byte) {
		nk, changed := UpgradeKeyV1(k)
		if !changed {
			if !bytes.Equal(nk, k) {
				t.Fatal("unchanged key came back different")
			}
			return
		}
		service, rest, _ := cutV1(k[4:])
		key, tail, _ := cutV1(rest)
		s, kk, ntail, ok := CutObjectPrefix(nk[4:])
		if !ok || s != service || kk != key || !bytes.Equal(ntail, tail) || !bytes.Equal(nk[:4], k[:4]) {
			t.Fatalf("%x upgraded to %x, which does not decode to the same components", k[:min(len(k), 16)], nk[:min(len(nk), 16)])
		}
	})
}
