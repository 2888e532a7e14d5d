package storage

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"syscall"
	"time"
)

// SpaceGuard watches the free space of the file system holding the node's data. Below the
// configured minimum the node refuses new work, so that a full disk never fails a write of
// work already accepted (which Pebble cannot take back) and reads keep being served; new work
// is accepted again as soon as space returns.
type SpaceGuard struct {
	dir    string
	min    uint64
	logger *slog.Logger
	// freeSpace reports the bytes available to the process under dir; a variable for tests.
	freeSpace func(dir string) (uint64, error)

	free atomic.Uint64
	low  atomic.Bool
}

// spaceCheckInterval is how often free space is measured: a write burst must not fill the
// reserve between two checks.
const spaceCheckInterval = 500 * time.Millisecond

// NewSpaceGuard measures once and returns the guard; minFree 0 disables it.
func NewSpaceGuard(dir string, minFree uint64, logger *slog.Logger) *SpaceGuard {
	g := &SpaceGuard{dir: dir, min: minFree, logger: logger, freeSpace: statfsFree}
	g.check()
	return g
}

// Run re-measures until ctx ends.
func (g *SpaceGuard) Run(ctx context.Context) {
	if g.min == 0 {
		return
	}
	t := time.NewTicker(spaceCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.check()
		}
	}
}

func (g *SpaceGuard) check() {
	if g.min == 0 {
		return
	}
	free, err := g.freeSpace(g.dir)
	if err != nil {
		g.logger.Warn("cannot measure free disk space", "dir", g.dir, "err", err)
		return
	}
	g.free.Store(free)
	wasLow := g.low.Load()
	isLow := free < g.min
	if isLow == wasLow {
		return
	}
	g.low.Store(isLow)
	if isLow {
		g.logger.Error("disk nearly full: refusing new work until space is freed; reads continue",
			"dir", g.dir, "free", free, "min-free-disk-space", g.min)
	} else {
		g.logger.Info("disk space recovered: accepting new work again", "dir", g.dir, "free", free)
	}
}

// Err is nil while there is enough space, and otherwise says how much is left.
func (g *SpaceGuard) Err() error {
	if !g.low.Load() {
		return nil
	}
	return fmt.Errorf("the node's disk is nearly full (%s free under %s, below min-free-disk-space %s): new work is refused until space is freed",
		humanBytes(g.free.Load()), g.dir, humanBytes(g.min))
}

func statfsFree(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

func humanBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
