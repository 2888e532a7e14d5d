package storage

import (
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
)

func TestSpaceGuardFollowsFreeSpace(t *testing.T) {
	var free atomic.Uint64
	free.Store(10 << 20)
	g := &SpaceGuard{dir: "/data", min: 64 << 20, logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		freeSpace: func(string) (uint64, error) { return free.Load(), nil }}
	g.check()
	err := g.Err()
	if err == nil {
		t.Fatal("10 MiB free under a 64 MiB minimum: no error")
	}
	for _, want := range []string{"10.0 MiB free", "/data", "min-free-disk-space 64.0 MiB"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	free.Store(65 << 20)
	g.check()
	if err := g.Err(); err != nil {
		t.Fatalf("after space returned: %v", err)
	}
}

func TestSpaceGuardDisabled(t *testing.T) {
	g := NewSpaceGuard(t.TempDir(), 0, slog.Default())
	if g.Err() != nil {
		t.Fatal("a disabled guard refuses work")
	}
	g = NewSpaceGuard(t.TempDir(), 1<<62, slog.Default())
	if g.Err() == nil {
		t.Fatal("no file system here has 4 EiB free, yet the guard accepts work")
	}
}
