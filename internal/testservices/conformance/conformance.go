// Package conformance holds sdk-go services that follow the contracts of Restate's SDK
// conformance suite (restatedev/e2e sdk-tests): the same service and handler names and the
// same JSON shapes, so the suite's scenarios can be replayed against our server from Go tests.
//
// The services are written here from those contracts. They are a separate deployment from
// package testservices; both define a Counter, so never register the two endpoints on one
// server.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	restate "github.com/restatedev/sdk-go"
	"github.com/restatedev/sdk-go/server"
)

// Option changes how Start serves the services.
type Option func(*config)

type config struct {
	bidirectional bool
	logs          slog.Handler
}

// RequestResponse makes the endpoint announce request-response mode in discovery, so every
// suspension point ends the HTTP exchange instead of waiting on a bidirectional stream.
func RequestResponse() Option { return func(c *config) { c.bidirectional = false } }

// WithLogs sends the SDK's logs to h. By default only warnings and errors are logged, to
// stderr.
func WithLogs(h slog.Handler) Option { return func(c *config) { c.logs = h } }

// Endpoint is a running sdk-go HTTP endpoint serving every conformance service.
type Endpoint struct {
	// URL is the base URL to register with the admin API, e.g. http://127.0.0.1:40123.
	URL string

	mu      sync.Mutex
	addr    string
	handler http.Handler
	srv     *http.Server
	closed  bool
}

// Start serves all conformance services on a random 127.0.0.1 port, with h2c and HTTP/1.1.
// The endpoint closes when ctx ends or Close is called.
func Start(ctx context.Context, opts ...Option) (*Endpoint, error) {
	cfg := config{
		bidirectional: true,
		logs:          slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}),
	}
	for _, o := range opts {
		o(&cfg)
	}
	r := server.NewRestate().Bidirectional(cfg.bidirectional).WithLogger(cfg.logs, true)
	for _, def := range definitions(newRegistry()) {
		r = r.Bind(def)
	}
	h, err := r.Handler()
	if err != nil {
		return nil, fmt.Errorf("building the conformance endpoint handler: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the conformance endpoint: %w", err)
	}
	e := &Endpoint{URL: "http://" + ln.Addr().String(), addr: ln.Addr().String(), handler: h}
	e.serve(ln)
	if done := ctx.Done(); done != nil {
		go func() {
			<-done
			e.Close()
		}()
	}
	return e, nil
}

func (e *Endpoint) serve(ln net.Listener) {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	e.srv = &http.Server{Handler: e.handler, Protocols: &protocols}
	go e.srv.Serve(ln)
}

// Close stops the endpoint, dropping open connections.
func (e *Endpoint) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	_ = e.srv.Close()
}

// Restart drops every open connection and listens again on the same address, which is what
// the server sees when the service process is killed and comes back. In-memory attempt
// counters of the services are kept.
func (e *Endpoint) Restart(down time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("restarting a closed conformance endpoint")
	}
	_ = e.srv.Close()
	time.Sleep(down)
	var ln net.Listener
	var err error
	// The port may take a moment to be free again after the old listener closed.
	for range 100 {
		if ln, err = net.Listen("tcp", e.addr); err == nil {
			e.serve(ln)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("listening again on %s: %w", e.addr, err)
}

// registry is the in-process memory some services need across attempts: attempt counters
// for retry scenarios and the alternation state of NonDeterministic. It lives outside the
// journal on purpose, like the atomic counters of the suite's reference services.
type registry struct {
	mu       sync.Mutex
	counters map[string]int
}

func newRegistry() *registry { return &registry{counters: map[string]int{}} }

// inc adds one to the named counter and returns the new value.
func (r *registry) inc(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counters[name]++
	return r.counters[name]
}

// get returns the named counter.
func (r *registry) get(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counters[name]
}

func definitions(reg *registry) []restate.ServiceDefinition {
	return []restate.ServiceDefinition{
		counterService(),
		proxyService(),
		listObjectService(),
		mapObjectService(),
		awakeableHolderService(),
		blockAndWaitWorkflow(),
		cancelTestRunnerService(),
		cancelTestBlockingService(),
		killTestRunnerService(),
		killTestSingletonService(),
		failingService(reg),
		nonDeterministicService(reg),
		testUtilsService(),
		interpreterService(),
	}
}
