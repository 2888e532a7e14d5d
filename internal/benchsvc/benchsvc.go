// Package benchsvc holds the sdk-go services that the benchmark tool and
// end-to-end tests invoke through a Restate server. They are deliberately
// tiny so that a measurement reflects the server's cost per invocation, not
// the handler's.
package benchsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	restate "github.com/restatedev/sdk-go"
	"github.com/restatedev/sdk-go/server"
)

// Names under which the services are registered; the ingress paths are
// /BenchService/<handler> and /BenchCounter/<key>/<handler>.
const (
	ServiceName = "BenchService"
	CounterName = "BenchCounter"
	// CounterStateKey is the state entry that BenchCounter keeps per key.
	CounterStateKey = "count"
	// RunOnceResult is what the side effect inside RunOnce returns.
	RunOnceResult = "ran"
)

// BenchService is a plain (unkeyed) service.
type BenchService struct{}

// ServiceName pins the registered name so renaming the Go type cannot
// silently change the ingress path.
func (BenchService) ServiceName() string { return ServiceName }

// Noop echoes its input; it measures the bare invocation round trip.
func (BenchService) Noop(_ restate.Context, in string) (string, error) {
	return in, nil
}

// Sleep suspends on a durable timer for ms milliseconds and returns ms.
// It exercises the timer service and, for long sleeps, suspension/resume.
func (BenchService) Sleep(ctx restate.Context, ms int64) (int64, error) {
	if ms < 0 {
		return 0, restate.ToTerminalError(fmt.Errorf("sleep duration must not be negative, got %d ms", ms), restate.WithErrorCode(400))
	}
	if err := restate.Sleep(ctx, time.Duration(ms)*time.Millisecond); err != nil {
		return 0, err
	}
	return ms, nil
}

// RunOnce journals a single side effect; it measures the cost of one
// acknowledged run entry.
func (BenchService) RunOnce(ctx restate.Context, _ string) (string, error) {
	return restate.Run(ctx, func(restate.RunContext) (string, error) {
		return RunOnceResult, nil
	})
}

// BenchCounter is a virtual object holding one int64 per key.
type BenchCounter struct{}

// ServiceName pins the registered name (see BenchService.ServiceName).
func (BenchCounter) ServiceName() string { return CounterName }

// Add adds delta to the key's counter and returns the new value. It is an
// exclusive handler, so concurrent Adds on one key are serialised by the
// server; the final count therefore equals the number of applied Adds.
func (BenchCounter) Add(ctx restate.ObjectContext, delta int64) (int64, error) {
	count, err := restate.Get[int64](ctx, CounterStateKey)
	if err != nil {
		return 0, err
	}
	count += delta
	restate.Set(ctx, CounterStateKey, count)
	return count, nil
}

// Get returns the key's counter (0 if never set). It is shared, so it may
// run concurrently with an in-flight Add.
func (BenchCounter) Get(ctx restate.ObjectSharedContext) (int64, error) {
	return restate.Get[int64](ctx, CounterStateKey)
}

// NewEndpoint returns an sdk-go endpoint with both services bound. Logging
// goes to stderr at warning level so per-invocation info logs do not distort
// a benchmark.
func NewEndpoint() *server.Restate {
	quiet := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})
	return server.NewRestate().
		WithLogger(quiet, true).
		Bind(restate.Reflect(BenchService{})).
		Bind(restate.Reflect(BenchCounter{}))
}

// Serve starts the endpoint on addr (e.g. "127.0.0.1:0") speaking both h2c
// and HTTP/1.1, and returns the address it is bound to. The server stops
// when ctx is cancelled.
func Serve(ctx context.Context, addr string) (boundAddr string, err error) {
	handler, err := NewEndpoint().Handler()
	if err != nil {
		return "", fmt.Errorf("building bench service handler: %w", err)
	}
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listening for bench services on %s: %w", addr, err)
	}

	// Restate's discovery and invocation use h2c with prior knowledge unless
	// the deployment is registered with use_http_11, so both must be served.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           handler,
		Protocols:         &protocols,
		ReadHeaderTimeout: 5 * time.Second,
	}

	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Bidirectional invocation streams may outlive the grace period;
		// closing them is what the caller asked for by cancelling.
		if err := srv.Shutdown(shutdownCtx); err != nil {
			_ = srv.Close()
		}
	}()
	go func() {
		if err := srv.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("bench service endpoint stopped", "addr", listener.Addr().String(), "err", err)
		}
	}()
	return listener.Addr().String(), nil
}
