package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// writeCommits opens a database in dir, commits n synced batches as writer "log" (each with its
// own key) and closes it cleanly.
func writeCommits(t *testing.T, dir string, n int) {
	t.Helper()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		b := db.NewBatch()
		if err := b.Set(fmt.Appendf(nil, "\x02k%05d", i), make([]byte, 256), nil); err != nil {
			t.Fatal(err)
		}
		if err := db.CommitSynced("log", b); err != nil {
			t.Fatal(err)
		}
		b.Close()
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// walFiles lists the database's write-ahead log files, oldest first.
func walFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

func TestReopenAfterCleanCloseKeepsCommits(t *testing.T) {
	dir := t.TempDir()
	writeCommits(t, dir, 50)
	raw, err := os.ReadFile(filepath.Join(dir, MarksFile))
	if err != nil {
		t.Fatalf("no marks file after a clean close: %v", err)
	}
	marks, err := decodeMarks(raw)
	if err != nil || marks["log"] != 50 {
		t.Fatalf("marks = %v, %v; want log 50", marks, err)
	}
	// A second life continues the numbering and still opens.
	writeCommits(t, dir, 10)
	db, err := Open(dir)
	if err != nil {
		t.Fatalf("reopen of an intact database: %v", err)
	}
	defer db.Close()
	if n, _ := readCommit(db.DB, "log"); n != 60 {
		t.Fatalf("commit number = %d, want 60", n)
	}
}

// Each way of damaging the write-ahead log of a stopped node must stop the next open with
// ErrDataLoss and advice, instead of opening without the lost writes.
func TestDamagedWALRefusesToOpen(t *testing.T) {
	damage := map[string]func(t *testing.T, wal string){
		"truncated": func(t *testing.T, wal string) {
			st, _ := os.Stat(wal)
			if err := os.Truncate(wal, st.Size()/2); err != nil {
				t.Fatal(err)
			}
		},
		"scribbled": func(t *testing.T, wal string) {
			f, err := os.OpenFile(wal, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			st, _ := f.Stat()
			if _, err := f.WriteAt([]byte(strings.Repeat("\xa5", 4096)), st.Size()/3); err != nil {
				t.Fatal(err)
			}
			f.Close()
		},
		"deleted": func(t *testing.T, wal string) {
			if err := os.Remove(wal); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeCommits(t, dir, 200)
			wals := walFiles(t, dir)
			if len(wals) == 0 {
				t.Fatal("no write-ahead log file to damage")
			}
			f(t, wals[len(wals)-1])
			db, err := Open(dir)
			if err == nil {
				n, _ := readCommit(db.DB, "log")
				db.Close()
				t.Fatalf("opened a damaged database (it holds commit %d of 200)", n)
			}
			if !errors.Is(err, ErrDataLoss) {
				t.Fatalf("error %v does not wrap ErrDataLoss", err)
			}
			for _, want := range []string{dir, "To recover", "move"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestWipedDatabaseWithMarksRefusesToOpen(t *testing.T) {
	dir := t.TempDir()
	writeCommits(t, dir, 5)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != MarksFile {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	if _, err := Open(dir); !errors.Is(err, ErrDataLoss) {
		t.Fatalf("open of a database emptied under its marks: %v, want ErrDataLoss", err)
	}
}

func TestDamagedMarksFileRefusesToOpen(t *testing.T) {
	dir := t.TempDir()
	writeCommits(t, dir, 5)
	path := filepath.Join(dir, MarksFile)
	raw, _ := os.ReadFile(path)
	raw[len(marksHeader)+3] ^= 0x01 // a digit of the "log" line
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	if !errors.Is(err, ErrDataLoss) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("open with a damaged marks file: %v", err)
	}
}

func TestMarksRoundTrip(t *testing.T) {
	for _, m := range []map[string]uint64{{}, {"log": 1}, {"log": 1 << 63, "raft": 7}} {
		got, err := decodeMarks(encodeMarks(m))
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(m) {
			t.Fatalf("round trip of %v gave %v", m, got)
		}
	}
}

func FuzzDecodeMarks(f *testing.F) {
	f.Add(encodeMarks(map[string]uint64{"log": 42, "raft": 9}))
	f.Add([]byte(marksHeader + "\ncrc32c 00000000\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		marks, err := decodeMarks(raw)
		if err != nil {
			return
		}
		// Whatever decodes must encode back to a file that decodes to the same marks.
		again, err := decodeMarks(encodeMarks(marks))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(marks) {
			t.Fatalf("re-decode of %v: %v, %v", marks, again, err)
		}
	})
}
