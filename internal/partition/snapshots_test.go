package partition

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/log"
	"github.com/restatego/restate/internal/snapshot"
	"github.com/restatego/restate/internal/storage"
)

// Announced snapshots move the trim point to the previous snapshot, on every replica, and
// older announcements are ignored.
func TestSnapshotAnnouncementsTrimToThePreviousSnapshot(t *testing.T) {
	var mu sync.Mutex
	var trims []uint64
	h := newHarnessWith(t, t.TempDir(), func(c *Config) {
		c.Trim = func(p uint16, upTo uint64) { mu.Lock(); trims = append(trims, upTo); mu.Unlock() }
	})
	defer h.stop()
	h.submit(t, &Record{Kind: KindSnapshotTaken, UpTo: 2, SnapshotID: "snap_a"})
	if got := h.proc.SnapshotLSN(); got != 2 {
		t.Fatalf("snapshot lsn = %d, want 2", got)
	}
	mu.Lock()
	if len(trims) != 0 {
		t.Fatalf("trimmed %v after the first snapshot; the log must keep what the previous one needs", trims)
	}
	mu.Unlock()
	h.submit(t, &Record{Kind: KindSnapshotTaken, UpTo: 3, SnapshotID: "snap_b"})
	h.submit(t, &Record{Kind: KindSnapshotTaken, UpTo: 1, SnapshotID: "snap_old"}) // late, ignored
	if got, tt := h.proc.SnapshotLSN(), h.proc.TrimTarget(); got != 3 || tt != 2 {
		t.Fatalf("snapshot lsn %d trim target %d, want 3 and 2", got, tt)
	}
	if h.proc.SnapshotCreatedAt() == 0 {
		t.Fatal("no creation time recorded for the newest snapshot")
	}
	mu.Lock()
	if len(trims) != 1 || trims[0] != 2 {
		t.Fatalf("trims = %v, want [2]", trims)
	}
	mu.Unlock()
}

// A replica told that the log starts after its state restores a snapshot (retrying until one
// is available), then applies only what follows it.
func TestRestoreFromSnapshotWhenTheLogStartsLater(t *testing.T) {
	src := newHarness(t, t.TempDir())
	inv := ids.NewInvocationID(11)
	src.submit(t, invokeRecord(inv, Target{Service: "S", Handler: "h"}))
	src.fx.await(t, "invoke")
	exportDir := t.TempDir()
	lsn, err := snapshot.ExportPartition(src.db, 0, exportDir)
	if err != nil {
		t.Fatal(err)
	}
	src.stop()
	if lsn == 0 {
		t.Fatal("exported an empty partition")
	}

	var attempts int
	var mu sync.Mutex
	dst := newHarnessWith(t, t.TempDir(), func(c *Config) {
		c.Restore = func(ctx context.Context, p uint16, minLSN uint64) error {
			mu.Lock()
			attempts++
			first := attempts == 1
			mu.Unlock()
			if minLSN != lsn {
				t.Errorf("restore asked for lsn %d, want %d", minLSN, lsn)
			}
			if first {
				return errors.New("object store unreachable")
			}
			return snapshot.ImportPartition(c.DB, p, exportDir)
		}
	})
	defer dst.stop()
	dst.proc.enqueue([]log.Entry{{LSN: lsn, Restore: true}})
	deadline := time.Now().Add(10 * time.Second)
	for dst.proc.Restores() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the processor never restored")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := dst.proc.AppliedLSN(); got != lsn {
		t.Fatalf("applied %d after restore, want %d", got, lsn)
	}
	st, err := dst.proc.ReadStatus(inv)
	if err != nil || st == nil || st.Phase != PhaseInvoked {
		t.Fatalf("restored status = %+v, %v", st, err)
	}
	mu.Lock()
	if attempts != 2 {
		t.Fatalf("restore attempts = %d, want 2 (one failure, one retry)", attempts)
	}
	mu.Unlock()
	// A marker at or below what the replica has is a no-op.
	dst.proc.enqueue([]log.Entry{{LSN: 1, Restore: true}})
	time.Sleep(50 * time.Millisecond)
	if dst.proc.Restores() != 1 {
		t.Fatal("restored again for a gap the state already covers")
	}
}

// A replica that starts without state takes the newest snapshot when configured to; with no
// snapshot in the repository it simply starts empty.
func TestRestoreWhenEmpty(t *testing.T) {
	src := newHarness(t, t.TempDir())
	inv := ids.NewInvocationID(12)
	src.submit(t, invokeRecord(inv, Target{Service: "S", Handler: "h"}))
	exportDir := t.TempDir()
	lsn, err := snapshot.ExportPartition(src.db, 0, exportDir)
	src.stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, available := range []bool{true, false} {
		db, err := storage.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		l, err := log.OpenLocal(db, 1)
		if err != nil {
			t.Fatal(err)
		}
		p := New(Config{ID: 0, Node: 2, DB: db, Log: l, Effects: newFakeEffects(), RaftLeadership: true, RestoreWhenEmpty: true,
			Restore: func(ctx context.Context, id uint16, minLSN uint64) error {
				if !available {
					return ErrNoSnapshot
				}
				return snapshot.ImportPartition(db, id, exportDir)
			}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = p.Run(ctx); close(done) }()
		for deadline := time.Now().Add(5 * time.Second); available && p.Restores() == 0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		st, _ := p.ReadStatus(inv)
		if available && (p.AppliedLSN() != lsn || p.Restores() != 1 || st == nil) {
			t.Errorf("with a snapshot: applied %d (want %d), restores %d, status %+v", p.AppliedLSN(), lsn, p.Restores(), st)
		}
		if !available && (p.AppliedLSN() != 0 || p.Restores() != 0 || st != nil) {
			t.Errorf("without a snapshot: applied %d, restores %d, status %+v", p.AppliedLSN(), p.Restores(), st)
		}
		cancel()
		<-done
		l.Close()
		db.Close()
	}
}
