package log

import (
	"testing"

	"github.com/restatego/restate/internal/storage"
)

// The trim point only moves forward, and reads after a trim start past it.
func TestTrimPrefixNeverMovesBack(t *testing.T) {
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := OpenLocal(db, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan error, 10)
	for range 10 {
		l.Append(0, []byte("r"), func(_ uint64, err error) { done <- err })
	}
	for range 10 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if err := l.TrimPrefix(0, 6); err != nil {
		t.Fatal(err)
	}
	if err := l.TrimPrefix(0, 3); err != nil {
		t.Fatal(err)
	}
	if tp := l.TrimPoint(0); tp != 6 {
		t.Fatalf("trim point %d after trimming to 6 then 3, want 6", tp)
	}
	entries, err := l.Read(0, 1, 100)
	if err != nil || len(entries) != 4 || entries[0].LSN != 7 {
		t.Fatalf("read after trim: %d entries (first %+v), %v", len(entries), entries, err)
	}
}
