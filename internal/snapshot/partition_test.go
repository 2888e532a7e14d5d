package snapshot

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/restatego/restate/internal/storage"
)

func openDB(t *testing.T) *storage.DB {
	t.Helper()
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func fill(t *testing.T, db *storage.DB, p uint16, n int, tag string, applied uint64) {
	t.Helper()
	b := db.NewBatch()
	for i := range n {
		k := storage.ObjectPrefix(p, storage.TableState, "svc", fmt.Sprintf("k%05d", i))
		if err := b.Set(k, []byte(fmt.Sprintf("%s-%d", tag, i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Set(appliedKey(p), storage.BE64(applied), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func dump(t *testing.T, db *storage.DB, p uint16) map[string]string {
	t.Helper()
	start, end := storage.PartitionSpan(p)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
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

func TestExportImportRoundTrip(t *testing.T) {
	src := openDB(t)
	fill(t, src, 3, 500, "p3", 42)
	fill(t, src, 4, 10, "p4", 7)
	dir := t.TempDir()
	lsn, err := ExportPartition(src, 3, dir)
	if err != nil {
		t.Fatal(err)
	}
	if lsn != 42 {
		t.Fatalf("exported applied lsn %d, want 42", lsn)
	}
	// Changes after the export are not in it.
	fill(t, src, 3, 600, "later", 99)

	dst := openDB(t)
	fill(t, dst, 3, 1000, "stale", 5) // replaced entirely, including keys the snapshot lacks
	fill(t, dst, 4, 3, "neighbour", 1)
	if err := ImportPartition(dst, 3, dir); err != nil {
		t.Fatal(err)
	}
	got := dump(t, dst, 3)
	if len(got) != 501 {
		t.Fatalf("imported %d keys, want 501", len(got))
	}
	for i := range 500 {
		k := storage.ObjectPrefix(3, storage.TableState, "svc", fmt.Sprintf("k%05d", i))
		if got[string(k)] != fmt.Sprintf("p3-%d", i) {
			t.Fatalf("key %d = %q", i, got[string(k)])
		}
	}
	if v := got[string(appliedKey(3))]; binary.BigEndian.Uint64([]byte(v)) != 42 {
		t.Fatal("applied lsn not imported")
	}
	if n := len(dump(t, dst, 4)); n != 4 {
		t.Fatalf("neighbour partition has %d keys, want 4 untouched", n)
	}
	if err := ImportPartition(dst, 4, dir); err == nil || !strings.Contains(err.Error(), "partition 3, not 4") {
		t.Fatalf("import into wrong partition: %v", err)
	}
}

func TestImportCorruptFileLeavesDBUntouched(t *testing.T) {
	src := openDB(t)
	fill(t, src, 2, 100, "v", 9)
	dir := t.TempDir()
	if _, err := ExportPartition(src, 2, dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, PartitionDataFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dst := openDB(t)
	fill(t, dst, 2, 5, "keep", 1)
	before := dump(t, dst, 2)
	flipped := bytes.Clone(b)
	flipped[len(b)/2] ^= 0x40
	for name, data := range map[string][]byte{"flipped": flipped, "truncated": b[:len(b)-3], "empty": nil} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := ImportPartition(dst, 2, dir); err == nil {
			t.Fatalf("%s file imported", name)
		}
		if after := dump(t, dst, 2); len(after) != len(before) {
			t.Fatalf("%s file changed the database (%d keys, had %d)", name, len(after), len(before))
		}
	}
}

// The partition export goes through a repository unchanged: the full restore path.
func TestExportPutFetchImport(t *testing.T) {
	ctx := context.Background()
	src := openDB(t)
	fill(t, src, 1, 50, "x", 77)
	exp := t.TempDir()
	lsn, err := ExportPartition(src, 1, exp)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := openFileRepo(t, 0)
	m := meta(1, lsn)
	if _, err := r.Put(ctx, m, exp); err != nil {
		t.Fatal(err)
	}
	dl := t.TempDir()
	got, err := r.Fetch(ctx, 1, "c1", "fp1", dl)
	if err != nil {
		t.Fatal(err)
	}
	dst := openDB(t)
	if err := ImportPartition(dst, 1, dl); err != nil {
		t.Fatal(err)
	}
	if got.MinAppliedLSN != 77 || len(dump(t, dst, 1)) != 51 {
		t.Fatalf("restore: lsn %d, %d keys", got.MinAppliedLSN, len(dump(t, dst, 1)))
	}
}

func FuzzReadKV(f *testing.F) {
	var buf bytes.Buffer
	w := newKVWriter(&buf, 1, 5)
	w.add(storage.TableKey(1, storage.TableMeta, []byte("applied")), storage.BE64(5))
	w.add(storage.TableKey(1, storage.TableState, []byte("k")), []byte("v"))
	if err := w.finish(); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:kvHeaderLen])
	v1 := kvFile(f, 1, 1, 5, map[string]string{string(v1StateKey(1, "svc", strings.Repeat("k", 0xFFFF), "n")): "v"})
	f.Add(v1)
	f.Add([]byte(kvMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		start, end := storage.PartitionSpan(1)
		var prev []byte
		// Format 1 keys are upgraded as they are read, which need not keep their order.
		ordered := len(b) >= kvHeaderLen && binary.BigEndian.Uint32(b[8:]) != 1
		_, err := readKV(bufio.NewReader(bytes.NewReader(b)), 1, func(k, v []byte) error {
			if bytes.Compare(k, start) < 0 || bytes.Compare(k, end) >= 0 || (ordered && prev != nil && bytes.Compare(k, prev) <= 0) {
				t.Fatalf("yielded out-of-span or unordered key %x", k)
			}
			prev = append(prev[:0], k...)
			return nil
		})
		_ = err
	})
}
