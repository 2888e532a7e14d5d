package snapshot

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/restatego/restate/internal/storage"
)

// v1StateKey is a state key as storage format 1 built it: u16 lengths that wrap.
func v1StateKey(p uint16, service, key, name string) []byte {
	k := storage.TableKey(p, storage.TableState)
	k = binary.BigEndian.AppendUint16(k, uint16(len(service)))
	k = append(k, service...)
	k = binary.BigEndian.AppendUint16(k, uint16(len(key)))
	k = append(k, key...)
	return append(k, name...)
}

// kvFile writes a partition data file of the given format version holding kvs (sorted here).
func kvFile(t testing.TB, version uint32, p uint16, lsn uint64, kvs map[string]string) []byte {
	t.Helper()
	keys := make([]string, 0, len(kvs))
	for k := range kvs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	w := newKVWriter(&buf, p, lsn)
	for _, k := range keys {
		w.add([]byte(k), []byte(kvs[k]))
	}
	if err := w.finish(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// Restamp the version and the checksum over everything before it.
	binary.BigEndian.PutUint32(b[8:], version)
	binary.BigEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
	return b
}

// TestImportFormat1Snapshot restores a snapshot an earlier release wrote (keys in storage
// format 1) and finds every entry under the key this release builds for it.
func TestImportFormat1Snapshot(t *testing.T) {
	k65535 := strings.Repeat("k", 0xFFFF)
	old := map[string]string{
		string(appliedKey(2)):                                                   string(storage.BE64(11)),
		string(v1StateKey(2, "Counter", "victim1", "count")):                    "5",
		string(v1StateKey(2, "Counter", k65535, "count")):                       "7",
		string(storage.TableKey(2, storage.TableStatus, []byte{0xFF, 0xFF, 1})): "status",
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, PartitionDataFile), kvFile(t, 1, 2, 11, old), 0o644); err != nil {
		t.Fatal(err)
	}
	db := openDB(t)
	if err := ImportPartition(db, 2, dir); err != nil {
		t.Fatal(err)
	}
	got := dump(t, db, 2)
	want := map[string]string{
		string(appliedKey(2)): string(storage.BE64(11)),
		string(append(storage.ObjectPrefix(2, storage.TableState, "Counter", "victim1"), "count"...)): "5",
		string(append(storage.ObjectPrefix(2, storage.TableState, "Counter", k65535), "count"...)):    "7",
		string(storage.TableKey(2, storage.TableStatus, []byte{0xFF, 0xFF, 1})):                       "status",
	}
	if len(got) != len(want) {
		t.Fatalf("imported %d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("key of %d bytes: %q, want %q", len(k), got[k], v)
		}
	}

	// A file from a newer format is refused by name.
	if err := os.WriteFile(filepath.Join(dir, PartitionDataFile), kvFile(t, kvFormatVersion+1, 2, 11, old), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ImportPartition(db, 2, dir); err == nil || !strings.Contains(err.Error(), "format 3 is not supported") {
		t.Fatalf("importing a newer format: %v", err)
	}
}

// A key longer than 64 KiB (a long object key plus a state name) survives export and import.
func TestLongKeysRoundTrip(t *testing.T) {
	src := openDB(t)
	long := append(storage.ObjectPrefix(1, storage.TableState, "Counter", "victim1"+strings.Repeat("a", 1<<16)), strings.Repeat("n", 1<<16)...)
	if err := src.Set(long, []byte("v"), nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := ExportPartition(src, 1, dir); err != nil {
		t.Fatal(err)
	}
	dst := openDB(t)
	if err := ImportPartition(dst, 1, dir); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, dst, 1); got[string(long)] != "v" || len(got) != 1 {
		t.Fatalf("imported %d keys", len(got))
	}
}
