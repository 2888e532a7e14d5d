package workload

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestTargetsRoundRobin(t *testing.T) {
	tg := NewTargets("a", "b", "c")
	var got []string
	for range 5 {
		got = append(got, tg.Next())
	}
	if want := []string{"a", "b", "c", "a", "b"}; !equal(got, want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// refusedURL is a loopback address nobody listens on.
func refusedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestCallerOutcomes(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	failures := 2
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		keys = append(keys, r.Header.Get("idempotency-key"))
		if failures > 0 {
			failures--
			http.Error(w, `{"message":"unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`"ok"`))
	}))
	defer flaky.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no quorum", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	refused := refusedURL(t)

	t.Run("acked after retries with one idempotency key", func(t *testing.T) {
		tl := NewTimeline()
		c := &Caller{Targets: NewTargets(refused, flaky.URL), OpTimeout: 5 * time.Second, Timeline: tl}
		res := c.Call(context.Background(), "/X/k/Do", 1, "op-1", "x")
		if res.Outcome != Acked || string(res.Body) != `"ok"` {
			t.Fatalf("result = %+v", res)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(keys) != 3 || keys[0] != "op-1" || keys[1] != "op-1" || keys[2] != "op-1" {
			t.Fatalf("idempotency keys = %v", keys)
		}
		if tl.Count(time.Now().Add(-time.Minute), time.Now()) != 1 {
			t.Fatalf("success not recorded in the timeline")
		}
	})
	t.Run("never reached a server", func(t *testing.T) {
		c := &Caller{Targets: NewTargets(refused), OpTimeout: 300 * time.Millisecond}
		if res := c.Call(context.Background(), "/X/k/Do", 1, "op-2", "x"); res.Outcome != Failed || res.Attempts < 2 {
			t.Fatalf("result = %+v", res)
		}
	})
	t.Run("reached but never acknowledged", func(t *testing.T) {
		c := &Caller{Targets: NewTargets(down.URL, refused), OpTimeout: 300 * time.Millisecond}
		if res := c.Call(context.Background(), "/X/k/Do", 1, "op-3", "x"); res.Outcome != Maybe {
			t.Fatalf("result = %+v", res)
		}
	})
	t.Run("attempt timeout on a server that never answers", func(t *testing.T) {
		hang := make(chan struct{})
		stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
		defer stuck.Close()
		defer close(hang)
		c := &Caller{Targets: NewTargets(stuck.URL), AttemptTimeout: 100 * time.Millisecond, OpTimeout: 250 * time.Millisecond}
		start := time.Now()
		res := c.Call(context.Background(), "/X/k/Do", 1, "op-4", "x")
		if res.Outcome != Maybe || time.Since(start) > 2*time.Second {
			t.Fatalf("result = %+v after %s", res, time.Since(start))
		}
	})
}

func TestCallerMovesOffAFailedTarget(t *testing.T) {
	var hits sync.Map
	mk := func(name string, status int) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := hits.LoadOrStore(name, new(int))
			*n.(*int)++
			w.WriteHeader(status)
		}))
	}
	bad, good := mk("bad", http.StatusServiceUnavailable), mk("good", http.StatusOK)
	defer bad.Close()
	defer good.Close()
	c := &Caller{Targets: NewTargets(bad.URL, bad.URL, good.URL), OpTimeout: 5 * time.Second}
	if res := c.Call(context.Background(), "/X/k/Do", nil, "", ""); res.Outcome != Acked || res.Attempts != 2 {
		t.Fatalf("result = %+v", res)
	}
	if n, _ := hits.Load("bad"); *n.(*int) != 1 {
		t.Fatalf("failed target tried %d times in a row", *n.(*int))
	}
}
