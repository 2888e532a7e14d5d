// Package workload drives a Restate cluster with checkable load and checks the outcome: an
// append-only Ledger object whose contents must hold every acknowledged append exactly once,
// and a Register object whose history must be linearizable (checked with porcupine). It also
// keeps a timeline of successful requests to measure how long failovers stall clients.
package workload

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	restate "github.com/restatedev/sdk-go"
	"github.com/restatedev/sdk-go/server"
)

// Ledger is a virtual object holding an append-only list of strings. It does not deduplicate:
// an append executed twice shows up twice, which is what the exactly-once check looks for.
type Ledger struct{}

const ledgerState = "entries"

// Append adds entry to the end of the list and returns the new length.
func (Ledger) Append(ctx restate.ObjectContext, entry string) (int, error) {
	entries, err := restate.Get[[]string](ctx, ledgerState)
	if err != nil {
		return 0, err
	}
	entries = append(entries, entry)
	restate.Set(ctx, ledgerState, entries)
	return len(entries), nil
}

// Get returns the list.
func (Ledger) Get(ctx restate.ObjectSharedContext) ([]string, error) {
	entries, err := restate.Get[[]string](ctx, ledgerState)
	if entries == nil {
		entries = []string{}
	}
	return entries, err
}

// Register is a virtual object holding one int64 (0 until written).
type Register struct{}

const registerState = "value"

// Write stores v.
func (Register) Write(ctx restate.ObjectContext, v int64) error {
	restate.Set(ctx, registerState, v)
	return nil
}

// Read returns the value from an exclusive handler, ordered with the writes.
func (Register) Read(ctx restate.ObjectContext) (int64, error) {
	return restate.Get[int64](ctx, registerState)
}

// Get returns the value from a shared handler, which runs concurrently with the exclusive
// ones and must still not return stale state.
func (Register) Get(ctx restate.ObjectSharedContext) (int64, error) {
	return restate.Get[int64](ctx, registerState)
}

// CasRequest asks Cas to replace Expect by New.
type CasRequest struct {
	Expect int64 `json:"expect"`
	New    int64 `json:"new"`
}

// Cas stores req.New if the value is req.Expect and reports whether it did.
func (Register) Cas(ctx restate.ObjectContext, req CasRequest) (bool, error) {
	v, err := restate.Get[int64](ctx, registerState)
	if err != nil {
		return false, err
	}
	if v != req.Expect {
		return false, nil
	}
	restate.Set(ctx, registerState, req.New)
	return true, nil
}

// ServiceNames are the services StartEndpoint serves.
var ServiceNames = []string{"Ledger", "Register"}

// Endpoint is a running sdk-go endpoint serving Ledger and Register.
type Endpoint struct {
	URL string
	srv *http.Server
}

// StartEndpoint serves Ledger and Register on a random loopback port (h2c and HTTP/1.1,
// bidirectional protocol).
func StartEndpoint() (*Endpoint, error) {
	// Only errors: the SDK warns about every client disconnect, which faults cause by design.
	quiet := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})
	h, err := server.NewRestate().
		WithLogger(quiet, true).
		Bind(restate.Reflect(Ledger{})).
		Bind(restate.Reflect(Register{})).
		Handler()
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
	return &Endpoint{URL: "http://" + ln.Addr().String(), srv: srv}, nil
}

// Close stops the endpoint.
func (e *Endpoint) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = e.srv.Shutdown(ctx)
}
