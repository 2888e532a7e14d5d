package nodenet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

func serve(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IsGRPC(r) {
			s.ServeHTTP(w, r)
			return
		}
		w.Write([]byte("plain"))
	})
	srv := &http.Server{Handler: mux, Protocols: &protocols}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/"
}

func TestCallStreamAndFaults(t *testing.T) {
	s := NewServer()
	s.Handle("echo", func(ctx context.Context, from uint64, req []byte) ([]byte, error) {
		return append([]byte(fmt.Sprintf("from %d: ", from)), req...), nil
	})
	s.Handle("fail", func(ctx context.Context, from uint64, req []byte) ([]byte, error) {
		return nil, errors.New("nope")
	})
	var mu sync.Mutex
	var got []string
	s.HandleStream(func(from uint64, p []byte) {
		mu.Lock()
		got = append(got, string(p))
		mu.Unlock()
	})
	addr := serve(t, s)
	c := NewClient(7, func(n uint64) (string, bool) { return addr, n == 1 }, nil, nil)
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := c.Call(ctx, 1, "echo", []byte("hi"))
	if err != nil || string(out) != "from 7: hi" {
		t.Fatalf("echo: %q %v", out, err)
	}
	if _, err := c.Call(ctx, 1, "fail", nil); err == nil {
		t.Fatal("a failing handler returned no error")
	}
	if _, err := c.Call(ctx, 2, "echo", nil); err == nil {
		t.Fatal("calling a node without an address succeeded")
	}
	// The plain HTTP routes of the port still work.
	resp, err := http.Get(addr + "health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	for i := 0; i < 100; i++ {
		c.Stream(1, []byte(fmt.Sprint(i)))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Wait for the last payload, not a count: payloads may be dropped while the stream
		// connects, and the last ones may still be in flight when most have arrived.
		mu.Lock()
		done := len(got) > 0 && got[len(got)-1] == "99"
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	// Streamed payloads arrive in order (some may be dropped while the stream connects).
	prev := -1
	for _, g := range got {
		var v int
		fmt.Sscan(g, &v)
		if v <= prev {
			t.Fatalf("payloads out of order: %v", got)
		}
		prev = v
	}
	mu.Unlock()
	if prev != 99 {
		t.Fatalf("last payload %d, want 99", prev)
	}

	s.SetBlocked(func(peer uint64) bool { return peer == 7 })
	if _, err := c.Call(ctx, 1, "echo", nil); err == nil {
		t.Fatal("a blocked peer's call went through")
	}
}

// TestStreamReachesReturningPeer keeps streaming to a peer that is down for longer than
// gRPC's default reconnect backoff takes to grow past a second, then starts it: raft traffic
// must reach it within a heartbeat or two of its return, not after the backoff runs out.
func TestStreamReachesReturningPeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the peer is down: connections to addr are refused

	c := NewClient(7, func(n uint64) (string, bool) { return "http://" + addr + "/", n == 1 }, nil, nil)
	defer c.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				c.Stream(1, []byte("heartbeat"))
			}
		}
	}()
	time.Sleep(5 * time.Second) // gRPC's default backoff: 1s, 1.6s, 2.6s, then 4.1s

	got := make(chan struct{}, 1)
	s := NewServer()
	s.HandleStream(func(from uint64, p []byte) {
		select {
		case got <- struct{}{}:
		default:
		}
	})
	if ln, err = net.Listen("tcp", addr); err != nil {
		t.Skipf("the peer's port was taken meanwhile: %v", err)
	}
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: s, Protocols: &protocols}
	go srv.Serve(ln)
	defer srv.Close()
	back := time.Now()
	select {
	case <-got:
		t.Logf("first payload %s after the peer came back", time.Since(back).Round(time.Millisecond))
	case <-time.After(time.Second):
		t.Fatalf("no payload reached the peer within 1s of its return")
	}
}
