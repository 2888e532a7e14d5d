package invoker

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/log"
	"github.com/restatego/restate/internal/partition"
	"github.com/restatego/restate/internal/schema"
	"github.com/restatego/restate/internal/storage"
	"github.com/restatego/restate/internal/wire"
)

// effects hands a real processor's leader actions to the invoker, as the server does.
type effects struct{ iv *Invoker }

func (e effects) Invoke(p *partition.Processor, inv ids.InvocationID) { e.iv.Invoke(p, inv) }
func (e effects) Notify(inv ids.InvocationID, index uint32, en partition.Entry) {
	e.iv.Notify(inv, index, en)
}
func (e effects) Abort(inv ids.InvocationID)                                 { e.iv.Abort(inv) }
func (e effects) StepDown(p *partition.Processor)                            { e.iv.AbortPartition(p) }
func (e effects) Respond(partition.Sink, ids.InvocationID, partition.Result) {}

// resolver serves one deployment for every handler, or an error when dep is nil.
type resolver struct {
	dep  *schema.Deployment
	opts schema.ResolvedOptions
}

func (r resolver) Resolve(service, handler string) (*schema.Deployment, schema.ResolvedOptions, error) {
	if r.dep == nil {
		return nil, r.opts, errors.New("deployment is gone")
	}
	return r.dep, r.opts, nil
}

func (r resolver) Callee(string, string, bool) (partition.Target, int64, error) {
	return partition.Target{}, 0, errors.New("no callees here")
}

// holdingDeployment answers every attempt with response headers and then nothing, holding the
// stream open until the invoker ends it. It counts streams opened and ended.
type holdingDeployment struct {
	url string

	mu            sync.Mutex
	opened, ended int
	changed       chan struct{}
}

func startHoldingDeployment(t *testing.T) *holdingDeployment {
	t.Helper()
	d := &holdingDeployment{changed: make(chan struct{}, 100)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Protocols: &protocols, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.count(&d.opened)
		defer d.count(&d.ended)
		w.Header().Set("content-type", wire.InvocationContentType(5))
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	d.url = "http://" + ln.Addr().String()
	return d
}

func (d *holdingDeployment) count(n *int) {
	d.mu.Lock()
	*n++
	d.mu.Unlock()
	d.changed <- struct{}{}
}

func (d *holdingDeployment) counts() (opened, ended int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opened, d.ended
}

// attemptGoroutines counts the goroutines running the invoker's task and attempt code.
func attemptGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "invoker.(*task)") || strings.Contains(g, "invoker.(*attempt)") {
			count++
		}
	}
	return count
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type fixture struct {
	iv   *Invoker
	proc *partition.Processor
}

// newFixture runs a leading processor of partition 0 on a local log, wired to an invoker.
func newFixture(t *testing.T, res resolver) *fixture {
	t.Helper()
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l, err := log.OpenLocal(db, 1)
	if err != nil {
		t.Fatal(err)
	}
	iv := New(Options{Resolver: res, DefaultRetryPolicy: schema.RetryPolicy{
		InitialInterval: 300 * time.Millisecond, Factor: 1, MaxAttempts: 1000}})
	proc := partition.New(partition.Config{ID: 0, Node: 1, DB: db, Log: l, Effects: effects{iv}})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { proc.Run(ctx); close(stopped) }()
	t.Cleanup(func() {
		ctx, cancelStop := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancelStop()
		if left := iv.Shutdown(ctx); len(left) > 0 {
			t.Errorf("the invoker did not stop within 5s: %v still running", left)
			return // the tasks still use the processor and storage
		}
		cancel()
		<-stopped
		l.Close()
		db.Close()
	})
	waitFor(t, 5*time.Second, "processor leads", proc.IsLeader)
	return &fixture{iv: iv, proc: proc}
}

func (f *fixture) submit(t *testing.T, r *partition.Record) {
	t.Helper()
	if r.CreatedAt == 0 {
		r.CreatedAt = time.Now().UnixMilli()
	}
	if err := f.proc.Submit(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) invoke(t *testing.T) ids.InvocationID {
	t.Helper()
	inv := ids.NewInvocationID(0)
	f.submit(t, &partition.Record{Kind: partition.KindInvoke, Inv: inv,
		Target: partition.Target{Service: "Holder", Handler: "Hold"}, Body: []byte(`"x"`)})
	return inv
}

func bidiOptions() schema.ResolvedOptions {
	return schema.ResolvedOptions{InactivityTimeout: time.Hour, AbortTimeout: time.Hour,
		RetryPolicy: schema.RetryPolicy{InitialInterval: time.Second, Factor: 1}}
}

// TestKillAndPauseEndTheAttempt: killing or pausing an invocation whose deployment holds the
// stream open ends the attempt at once: the stream closes, the task stops, and no goroutine of
// the attempt stays behind.
func TestKillAndPauseEndTheAttempt(t *testing.T) {
	for _, kind := range []partition.Kind{partition.KindKill, partition.KindPauseRequest} {
		t.Run(kind.String(), func(t *testing.T) {
			dep := startHoldingDeployment(t)
			f := newFixture(t, resolver{dep: &schema.Deployment{URI: dep.url, ProtocolVersion: 5}, opts: bidiOptions()})

			inv := f.invoke(t)
			waitFor(t, 5*time.Second, "attempt reaches the deployment", func() bool { o, _ := dep.counts(); return o == 1 })
			if f.iv.Running() != 1 {
				t.Fatalf("running tasks = %d, want 1", f.iv.Running())
			}
			// The task, the request body's writer and the watchdog.
			if n := attemptGoroutines(); n < 3 {
				t.Fatalf("%d goroutines of the running attempt, want at least 3", n)
			}

			start := time.Now()
			f.submit(t, &partition.Record{Kind: kind, Inv: inv})
			waitFor(t, time.Second, "stream closed", func() bool { _, e := dep.counts(); return e == 1 })
			waitFor(t, time.Second, "task stopped", func() bool { return f.iv.Running() == 0 })
			t.Logf("%s ended the attempt in %s", kind, time.Since(start).Round(time.Microsecond))
			waitFor(t, time.Second, "attempt goroutines gone", func() bool { return attemptGoroutines() == 0 })
			if o, _ := dep.counts(); o != 1 {
				t.Fatalf("%d attempts after %s, want 1", o, kind)
			}
		})
	}
}

// TestShutdownEndsHeldAttempts: Shutdown aborts attempts whose deployment never answers and
// returns promptly with nothing left running.
func TestShutdownEndsHeldAttempts(t *testing.T) {
	dep := startHoldingDeployment(t)
	f := newFixture(t, resolver{dep: &schema.Deployment{URI: dep.url, ProtocolVersion: 5}, opts: bidiOptions()})
	for range 3 {
		f.invoke(t)
	}
	waitFor(t, 5*time.Second, "attempts reach the deployment", func() bool { o, _ := dep.counts(); return o == 3 })

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if left := f.iv.Shutdown(ctx); len(left) != 0 {
		t.Fatalf("still running after Shutdown: %v", left)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Shutdown took %s", took)
	}
	waitFor(t, time.Second, "streams closed", func() bool { _, e := dep.counts(); return e == 3 })
	// A stopped invoker starts nothing new.
	f.invoke(t)
	if o, _ := dep.counts(); o != 3 || f.iv.Running() != 0 {
		t.Fatalf("after Shutdown: %d attempts, %d running", o, f.iv.Running())
	}
}

// TestEveryFailureBacksOff: whatever makes an attempt fail (its deployment is gone, refuses
// the connection, answers an error status or breaks the protocol), the failure is recorded and
// the next attempt waits the policy's backoff: the resolver's options, or, when it gives none,
// the invoker's default policy. Never at once.
func TestEveryFailureBacksOff(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + closed.Addr().String()
	closed.Close()
	answering := func(status int, contentType string) string {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("content-type", contentType)
			w.WriteHeader(status)
		})}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		return "http://" + ln.Addr().String()
	}
	policy := schema.ResolvedOptions{RetryPolicy: schema.RetryPolicy{InitialInterval: 400 * time.Millisecond, Factor: 1}}
	dep := func(uri string) *schema.Deployment {
		return &schema.Deployment{URI: uri, ProtocolVersion: 5, UseHTTP11: true}
	}
	for _, c := range []struct {
		name    string
		res     resolver
		failure string
		want    int64 // ms between attempts
	}{
		{"deployment gone", resolver{opts: policy}, "deployment is gone", 400},
		{"deployment gone, no options", resolver{}, "deployment is gone", 300},
		{"connection refused", resolver{dep: dep(refused), opts: policy}, "connection refused", 400},
		{"error status", resolver{dep: dep(answering(500, "text/plain")), opts: policy}, "answered HTTP 500", 400},
		{"protocol mismatch", resolver{dep: dep(answering(200, "application/json")), opts: policy}, "content-type", 400},
		{"protocol mismatch, no options", resolver{dep: dep(answering(200, "application/json"))}, "content-type", 300},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.res)
			inv := f.invoke(t)
			var st *partition.Status
			waitFor(t, 5*time.Second, "first failure recorded", func() bool {
				st, _ = f.proc.ReadStatus(inv)
				return st != nil && st.RetryCount >= 1
			})
			if st.LastFailure == nil || !strings.Contains(st.LastFailure.Message, c.failure) {
				t.Fatalf("last failure = %+v, want one mentioning %q", st.LastFailure, c.failure)
			}
			if wait := st.NextRetryAt - st.ModifiedAt; wait < c.want-50 {
				t.Fatalf("next retry %dms after the failure, want %dms", wait, c.want)
			}
			// Over a second, at most 1000/want more attempts.
			most := st.RetryCount + uint32(1000/c.want) + 1
			deadline := time.Now().Add(time.Second)
			for time.Now().Before(deadline) {
				st, _ = f.proc.ReadStatus(inv)
				if st.RetryCount > most {
					t.Fatalf("%d attempts within about a second", st.RetryCount)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
