// Package testservices holds sdk-go services the integration tests run against the server.
// They record what they did in a Recorder, so tests can assert how many times a side effect
// ran, independently of what the server reports.
package testservices

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	restate "github.com/restatedev/sdk-go"
	"github.com/restatedev/sdk-go/server"
)

// Recorder counts named events across attempts.
type Recorder struct {
	mu     sync.Mutex
	counts map[string]int
}

// NewRecorder creates an empty recorder.
func NewRecorder() *Recorder { return &Recorder{counts: map[string]int{}} }

// Inc adds one to name and returns the new count.
func (r *Recorder) Inc(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[name]++
	return r.counts[name]
}

// Get returns the count of name.
func (r *Recorder) Get(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[name]
}

// Greeter is a plain service.
type Greeter struct{}

func (Greeter) Greet(ctx restate.Context, name string) (string, error) {
	return "hello " + name, nil
}

// Echo returns its input unchanged, to check byte-exact payloads.
func (Greeter) Echo(ctx restate.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil }

// Failing exercises retries and terminal errors.
type Failing struct{ Rec *Recorder }

// FailTimesRequest asks FailTimes to fail Times attempts under Key before succeeding.
type FailTimesRequest struct {
	Key   string `json:"key"`
	Times int    `json:"times"`
}

// FailTimes fails with a retryable error until it has been attempted more than Times times.
func (f Failing) FailTimes(ctx restate.Context, req FailTimesRequest) (int, error) {
	n := f.Rec.Inc("attempt/" + req.Key)
	if n <= req.Times {
		return 0, fmt.Errorf("planned failure %d of %d", n, req.Times)
	}
	return n, nil
}

// Terminal fails for good with code 418 and the given message.
func (Failing) Terminal(ctx restate.Context, msg string) (string, error) {
	return "", restate.ToTerminalError(errors.New(msg), restate.WithErrorCode(418))
}

// RunThenFail runs a side effect once, then fails Times attempts after it: the retries must
// replay the side effect's stored result instead of running it again.
func (f Failing) RunThenFail(ctx restate.Context, req FailTimesRequest) (string, error) {
	v, err := restate.Run(ctx, func(restate.RunContext) (string, error) {
		return fmt.Sprintf("effect-%d", f.Rec.Inc("effect/"+req.Key)), nil
	})
	if err != nil {
		return "", err
	}
	if f.Rec.Inc("after/"+req.Key) <= req.Times {
		return "", fmt.Errorf("planned failure after the side effect")
	}
	return v, nil
}

// Sleeper sleeps durably.
type Sleeper struct{ Rec *Recorder }

// SleepRequest asks for a side effect, a durable sleep, then a second side effect.
type SleepRequest struct {
	Key    string `json:"key"`
	Millis int64  `json:"millis"`
}

// RunSleepRun records a side effect before and after a durable sleep.
func (s Sleeper) RunSleepRun(ctx restate.Context, req SleepRequest) (string, error) {
	a, err := restate.Run(ctx, func(restate.RunContext) (int, error) { return s.Rec.Inc("before/" + req.Key), nil })
	if err != nil {
		return "", err
	}
	if err := restate.Sleep(ctx, time.Duration(req.Millis)*time.Millisecond); err != nil {
		return "", err
	}
	b, err := restate.Run(ctx, func(restate.RunContext) (int, error) { return s.Rec.Inc("after/" + req.Key), nil })
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d/%d", a, b), nil
}

// Counter is a virtual object keeping a number per key.
type Counter struct{}

func (Counter) Add(ctx restate.ObjectContext, delta int64) (int64, error) {
	v, err := restate.Get[int64](ctx, "count")
	if err != nil {
		return 0, err
	}
	v += delta
	restate.Set(ctx, "count", v)
	return v, nil
}

func (Counter) Get(ctx restate.ObjectSharedContext) (int64, error) {
	return restate.Get[int64](ctx, "count")
}

func (Counter) Reset(ctx restate.ObjectContext) error {
	restate.ClearAll(ctx)
	return nil
}

// Endpoint is a running sdk-go endpoint.
type Endpoint struct {
	URL      string
	Recorder *Recorder
	srv      *http.Server
}

// Close stops the endpoint.
func (e *Endpoint) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = e.srv.Shutdown(ctx)
}

// Start serves every test service on a random loopback port with h2c and HTTP/1.1.
// bidirectional false makes the endpoint ask for request-response mode.
func Start(bidirectional bool) (*Endpoint, error) {
	rec := NewRecorder()
	r := server.NewRestate().Bidirectional(bidirectional).
		Bind(restate.Reflect(Greeter{})).
		Bind(restate.Reflect(Failing{Rec: rec})).
		Bind(restate.Reflect(Sleeper{Rec: rec})).
		Bind(restate.Reflect(Counter{})).
		Bind(restate.Reflect(KeyProxy{})).
		Bind(restate.Reflect(Marker{Rec: rec}))
	h, err := r.Handler()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: &protocols}
	go srv.Serve(ln)
	return &Endpoint{URL: "http://" + ln.Addr().String(), Recorder: rec, srv: srv}, nil
}

// Marker records that an invocation ran, through a side effect, so acknowledged work can be
// checked after crashes.
type Marker struct{ Rec *Recorder }

// Mark records key once per executed side effect.
func (m Marker) Mark(ctx restate.Context, key string) (int, error) {
	return restate.Run(ctx, func(restate.RunContext) (int, error) { return m.Rec.Inc("mark/" + key), nil })
}
