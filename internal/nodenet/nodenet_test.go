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
	c := NewClient(7, func(n uint64) (string, bool) { return addr, n == 1 }, nil)
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
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 90 || time.Now().After(deadline) {
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
