package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/restatego/restate/internal/storage"
)

// TestDamagedWALStopsTheServer acknowledges 100 adds to a counter, kills the server with
// SIGKILL, truncates the newest write-ahead log file and starts it again: the server must refuse
// to start, naming the directory and how to recover, instead of starting with adds missing (or
// completed invocations run again). Without the damage the same restart serves the full count.
func TestDamagedWALStopsTheServer(t *testing.T) {
	s := startServer(t)
	ep := startEndpoint(t, true)
	s.Register(t, ep.URL)
	for i := 0; i < 100; i++ {
		if r := s.Call(t, "/Counter/wal/Add", 1); r.Status != http.StatusOK {
			t.Fatalf("add %d: %d %s", i, r.Status, r.Body)
		}
	}
	dbDir := filepath.Join(s.Dir, "data", "n1", "db")
	marks := filepath.Join(dbDir, storage.MarksFile)
	// The marks file follows the log within a fraction of a second; wait until it exists and
	// has stopped changing, so the kill below loses nothing that it names.
	var last []byte
	eventually(t, 5*time.Second, func() error {
		cur, err := os.ReadFile(marks)
		if err != nil || string(cur) != string(last) {
			last = cur
			time.Sleep(400 * time.Millisecond)
			return os.ErrNotExist
		}
		return nil
	})
	s.Kill()

	wals, _ := filepath.Glob(filepath.Join(dbDir, "*.log"))
	sort.Strings(wals)
	if len(wals) == 0 {
		t.Fatal("no write-ahead log file in " + dbDir)
	}
	newest := wals[len(wals)-1]
	st, err := os.Stat(newest)
	if err != nil {
		t.Fatal(err)
	}
	intact, err := os.ReadFile(newest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(newest, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	out := s.StartFailing(20 * time.Second)
	for _, want := range []string{"write-ahead log", dbDir, "To recover"} {
		if !strings.Contains(out, want) {
			t.Errorf("start-up error does not mention %q:\n%s", want, out)
		}
	}

	// Put the log back: the same data directory starts and holds every acknowledged add.
	if err := os.WriteFile(newest, intact, 0o644); err != nil {
		t.Fatal(err)
	}
	s.Start()
	r := s.Call(t, "/Counter/wal/Get", nil)
	if r.Status != http.StatusOK || strings.TrimSpace(string(r.Body)) != "100" {
		t.Fatalf("counter after restart: %d %s, want 100", r.Status, r.Body)
	}
}
