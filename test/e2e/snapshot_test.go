package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func snapshotDirs(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "lsn_") {
			n++
		}
	}
	return n
}

// TestTimedSnapshots: with worker.snapshots.snapshot-interval alone, a busy partition is
// snapshotted about once per interval, and an idle one stops being snapshotted.
func TestTimedSnapshots(t *testing.T) {
	repo := t.TempDir()
	s := startServer(t, "RESTATE_DEFAULT_NUM_PARTITIONS=1", "RESTATE_WORKER__SNAPSHOTS__DESTINATION=file://"+repo,
		"RESTATE_WORKER__SNAPSHOTS__SNAPSHOT_INTERVAL=1s")
	ep := startEndpoint(t, true)
	s.Register(t, ep.URL)

	// The first call to a fresh sdk-go endpoint takes a second or more (the reference server
	// sees the same); start timing after it.
	if r := s.Call(t, "/Counter/timed/Add", 1); r.Status != http.StatusOK {
		t.Fatalf("add: %d %s", r.Status, r.Body)
	}
	before := snapshotDirs(t, filepath.Join(repo, "0"))
	start := time.Now()
	for time.Since(start) < 3500*time.Millisecond {
		if r := s.Call(t, "/Counter/timed/Add", 1); r.Status != http.StatusOK {
			t.Fatalf("add: %d %s", r.Status, r.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	busy := snapshotDirs(t, filepath.Join(repo, "0"))
	if n := busy - before; n < 2 || n > 5 {
		t.Fatalf("%d snapshots in 3.5 s of traffic with a 1 s interval, want 2 to 5", n)
	}
	time.Sleep(3500 * time.Millisecond)
	// The last records before the pause may still get one snapshot; then nothing new happens.
	if idle := snapshotDirs(t, filepath.Join(repo, "0")); idle > busy+1 {
		t.Fatalf("%d snapshots after 3.5 s idle, %d before: an idle partition keeps being snapshotted", idle, busy)
	}
}
