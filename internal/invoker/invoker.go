// Package invoker runs invocation attempts against deployments: one HTTP request per attempt
// (h2c, HTTPS or HTTP/1.1), replaying the stored journal and streaming what the deployment
// sends back into the partition's log. It owns retries with backoff and the inactivity and
// abort timeouts. Nothing it does is durable by itself: every outcome is a proposed record.
package invoker

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/restatego/restate/internal/identity"
	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/metrics"
	"github.com/restatego/restate/internal/partition"
	"github.com/restatego/restate/internal/schema"
)

// Resolver finds the deployment and effective options for a handler.
type Resolver interface {
	// Resolve returns the handler's deployment and options. When the handler cannot be
	// resolved (its service, handler or deployment is gone) the error says which, and the
	// options are still the ones to retry it with: the server's defaults.
	Resolve(service, handler string) (*schema.Deployment, schema.ResolvedOptions, error)
	// Callee describes the target of a call made by a handler, and how long its result is
	// kept once it completes (ms). The error names what does not exist.
	Callee(service, handler string, idempotent bool) (partition.Target, int64, error)
}

// Options configures the invoker.
type Options struct {
	Resolver Resolver
	Logger   *slog.Logger
	// ConcurrencyLimit bounds attempts in flight on this node; 0 = unlimited.
	ConcurrencyLimit int
	// MaxMessageSize bounds one protocol message from a deployment.
	MaxMessageSize uint32
	// ClusterName is sent to deployments as x-restate-cluster-name.
	ClusterName string
	// Identity, when set, signs every attempt with Restate's request identity v1.
	Identity *identity.Signer
	// DefaultRetryPolicy applies when a handler's own policy is missing (its deployment,
	// service or handler cannot be resolved); zero means Restate's default.
	DefaultRetryPolicy schema.RetryPolicy
	// DialContext, if set, opens connections to deployments instead of a plain dialer (the
	// server passes one that enforces deployment-allowed-addresses).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Invoker runs invocations for the partitions this node leads.
type Invoker struct {
	opts   Options
	logger *slog.Logger
	h2c    *http.Client
	h2tls  *http.Client
	h1     *http.Client
	sem    chan struct{}

	mu    sync.Mutex
	tasks map[ids.InvocationID]*task
	done  bool
	wg    sync.WaitGroup
}

// New creates an invoker.
func New(opts Options) *Invoker {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxMessageSize == 0 {
		opts.MaxMessageSize = 32 << 20
	}
	iv := &Invoker{
		opts:   opts,
		logger: opts.Logger.With("component", "invoker"),
		tasks:  make(map[ids.InvocationID]*task),
	}
	if opts.ConcurrencyLimit > 0 {
		iv.sem = make(chan struct{}, opts.ConcurrencyLimit)
	}
	metrics.InvokerConcurrencyLimit.WithLabelValues().Set(float64(opts.ConcurrencyLimit))
	dial := opts.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}

	var h2cProtocols http.Protocols
	h2cProtocols.SetUnencryptedHTTP2(true)
	iv.h2c = &http.Client{Transport: &http.Transport{
		DialContext:         dial,
		Protocols:           &h2cProtocols,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: 15 * time.Second,
			PingTimeout:     15 * time.Second,
		},
	}}
	iv.h2tls = &http.Client{Transport: &http.Transport{
		DialContext:         dial,
		ForceAttemptHTTP2:   true,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 64,
	}}
	var h1Protocols http.Protocols
	h1Protocols.SetHTTP1(true)
	iv.h1 = &http.Client{Transport: &http.Transport{
		DialContext:         dial,
		Protocols:           &h1Protocols,
		MaxIdleConnsPerHost: 256,
	}}
	return iv
}

// Close aborts every running attempt and waits for the tasks to stop.
func (iv *Invoker) Close() { iv.Shutdown(context.Background()) }

// Shutdown stops taking invocations, aborts every running attempt (closing its stream) and
// waits until their tasks have stopped or ctx ends. It returns the invocations whose tasks
// were still running when ctx ended; nil means everything stopped. Invocations it aborted
// stay running in their partitions and get a new attempt from the next leader.
func (iv *Invoker) Shutdown(ctx context.Context) []ids.InvocationID {
	iv.mu.Lock()
	iv.done = true
	for _, t := range iv.tasks {
		t.cancel()
	}
	iv.mu.Unlock()
	stopped := make(chan struct{})
	go func() { iv.wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
	}
	iv.mu.Lock()
	defer iv.mu.Unlock()
	left := make([]ids.InvocationID, 0, len(iv.tasks))
	for inv := range iv.tasks {
		left = append(left, inv)
	}
	return left
}

// Invoke starts (or restarts) the invocation. If a task is already active for it, the task
// runs one more attempt after its current one instead of exiting, so a resume that races with
// a suspension is never lost.
func (iv *Invoker) Invoke(p *partition.Processor, inv ids.InvocationID) {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	if iv.done {
		return
	}
	if t, ok := iv.tasks[inv]; ok {
		t.mu.Lock()
		aborted := t.aborted
		if !aborted {
			t.restart = true
		}
		t.mu.Unlock()
		if !aborted {
			return
		}
		// An aborted task is on its way out (a pause resumed at once): it must not swallow
		// this start, so a new task takes its place.
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &task{iv: iv, inv: inv, proc: p, ctx: ctx, cancel: cancel}
	iv.tasks[inv] = t
	metrics.InvokerEnqueue.WithLabelValues(t.partitionLabel()).Inc()
	metrics.InvokerInflight.WithLabelValues().Inc()
	iv.wg.Add(1)
	go t.run()
}

// Notify forwards a journal entry stored while an attempt may be streaming.
func (iv *Invoker) Notify(inv ids.InvocationID, index uint32, e partition.Entry) {
	iv.mu.Lock()
	t := iv.tasks[inv]
	iv.mu.Unlock()
	if t != nil {
		t.notify(index, e)
	}
}

// Abort stops the invocation's task, if any.
func (iv *Invoker) Abort(inv ids.InvocationID) {
	iv.mu.Lock()
	t := iv.tasks[inv]
	iv.mu.Unlock()
	if t != nil {
		t.mu.Lock()
		t.aborted = true
		t.mu.Unlock()
		t.cancel()
	}
}

// AbortPartition stops every task of a partition (on loss of leadership).
func (iv *Invoker) AbortPartition(p *partition.Processor) {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	for _, t := range iv.tasks {
		if t.proc == p {
			t.mu.Lock()
			t.aborted = true
			t.mu.Unlock()
			t.cancel()
		}
	}
}

// Running is the number of active invocation tasks.
func (iv *Invoker) Running() int {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	return len(iv.tasks)
}

func (iv *Invoker) finish(t *task) bool {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.restart && !t.aborted && !iv.done {
		t.restart = false
		return false
	}
	if iv.tasks[t.inv] == t {
		delete(iv.tasks, t.inv)
	}
	return true
}

func (iv *Invoker) client(d *schema.Deployment) *http.Client {
	switch {
	case d.UseHTTP11:
		return iv.h1
	case len(d.URI) >= 8 && d.URI[:8] == "https://":
		return iv.h2tls
	default:
		return iv.h2c
	}
}
