package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestShutdownIsBounded: a request that never finishes and a component that never stops do
// not hold Shutdown past its deadline; the request's connection is closed after the drain
// share of the budget, and the error names the step that was still running.
func TestShutdownIsBounded(t *testing.T) {
	n := &Node{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	defer n.cancel()

	requestEnded := make(chan struct{})
	addr, err := n.serve("test", "127.0.0.1:0", nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done() // a caller waiting for a result that never comes
		close(requestEnded)
	}))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	// A processor that ignores its context.
	n.wg.Add(1)
	defer n.wg.Done()

	const budget = 600 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	start := time.Now()
	err = n.Shutdown(ctx)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "partition processors") {
		t.Fatalf("Shutdown = %v, want an error naming the partition processors", err)
	}
	if took < budget-50*time.Millisecond || took > budget+300*time.Millisecond {
		t.Fatalf("Shutdown returned after %s; its budget was %s", took, budget)
	}
	select {
	case <-requestEnded:
	default:
		t.Fatal("the hanging request was still running after Shutdown")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("the listener still accepts after Shutdown")
	}
}

func TestHTTPDrain(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, c := range []struct {
		budget time.Duration // 0: no deadline
		want   time.Duration
	}{
		{0, maxHTTPDrain},
		{3 * time.Second, 1500 * time.Millisecond},
		{time.Minute, maxHTTPDrain},
	} {
		ctx := context.Background()
		if c.budget > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, now.Add(c.budget))
			defer cancel()
		}
		if got := httpDrain(ctx, now).Sub(now); got != c.want {
			t.Errorf("budget %s: drain %s, want %s", c.budget, got, c.want)
		}
	}
}
