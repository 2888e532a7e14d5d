package invoker

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/metrics"
	"github.com/restatego/restate/internal/partition"
	"github.com/restatego/restate/internal/redact"
	"github.com/restatego/restate/internal/schema"
	"github.com/restatego/restate/internal/tracing"
	"github.com/restatego/restate/internal/wire"
)

// task drives one invocation on this node through successive attempts.
type task struct {
	iv     *Invoker
	inv    ids.InvocationID
	proc   *partition.Processor
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	restart bool
	aborted bool
	// While an attempt is being prepared, notifications are buffered in early; once it streams,
	// they go to att.
	collecting bool
	early      []pendingEntry
	att        *attempt

	// traceParent and traceState are the invocation's span context, read by the last attempt
	// when tracing is configured.
	traceParent, traceState string

	proposals  sync.WaitGroup
	proposeMu  sync.Mutex
	proposeErr error
}

type pendingEntry struct {
	index uint32
	e     partition.Entry
}

type outcomeKind int

const (
	outcomeEnded outcomeKind = iota
	outcomeSuspended
	outcomeFailed
	outcomeAborted
)

type outcome struct {
	kind     outcomeKind
	failure  partition.Failure
	related  uint32
	retryIn  *time.Duration
	behavior wire.ErrorBehavior
}

func failed(code uint32, format string, args ...any) outcome {
	// Failure messages quote the deployment URI and end up in sys_invocation and logs: its
	// user info is hidden there.
	return outcome{kind: outcomeFailed, failure: partition.Failure{Code: code, Message: redact.Text(fmt.Sprintf(format, args...))}}
}

func (t *task) run() {
	defer t.iv.wg.Done()
	defer metrics.InvokerInflight.WithLabelValues().Dec()
	defer t.cancel()
	for {
		done := t.runAttempts()
		if t.iv.finish(t) || done {
			if done {
				t.iv.mu.Lock()
				if t.iv.tasks[t.inv] == t {
					delete(t.iv.tasks, t.inv)
				}
				t.iv.mu.Unlock()
			}
			return
		}
	}
}

// runAttempts runs attempts until the invocation ends, suspends or is aborted. It returns
// true when the task must stop for good (aborted or shut down).
func (t *task) runAttempts() bool {
	for {
		if t.ctx.Err() != nil {
			return true
		}
		t.mu.Lock()
		t.collecting, t.early = true, nil
		t.mu.Unlock()

		in, err := t.proc.ReadInvocation(t.inv, true)
		if err != nil {
			t.iv.logger.Error("reading invocation", "invocation_id", t.inv, "err", err)
			if !t.sleep(time.Second) {
				return true
			}
			continue
		}
		if in == nil {
			t.stopCollecting()
			return false // completed, suspended elsewhere or killed
		}
		// A handler that cannot be resolved (its deployment was removed) is a failed attempt
		// like any other: the resolver still returns the options to retry it with.
		dep, opts, err := t.iv.opts.Resolver.Resolve(in.Status.Target.Service, in.Status.Target.Handler)
		var out outcome
		if err != nil {
			t.stopCollecting()
			out = failed(500, "%v", err)
		} else {
			metrics.InvokerTasks.WithLabelValues(metrics.TaskStarted, t.partitionLabel(), "").Inc()
			start := time.Now()
			out = t.attempt(in, dep, opts)
			metrics.InvokerTaskDuration.WithLabelValues().Observe(time.Since(start).Seconds())
		}
		// Every record proposed by this attempt must be durable before the next one starts, so
		// it replays a journal that holds everything the previous attempt produced.
		t.proposals.Wait()
		t.proposeMu.Lock()
		perr := t.proposeErr
		t.proposeErr = nil
		t.proposeMu.Unlock()
		if perr != nil && out.kind != outcomeAborted {
			t.iv.logger.Warn("proposing to the log failed", "invocation_id", t.inv, "err", perr)
			if !t.sleep(time.Second) {
				return true
			}
			continue
		}
		switch out.kind {
		case outcomeEnded:
			metrics.InvokerTasks.WithLabelValues(metrics.TaskCompleted, t.partitionLabel(), "").Inc()
			return false
		case outcomeSuspended:
			metrics.InvokerTasks.WithLabelValues(metrics.TaskSuspended, t.partitionLabel(), "").Inc()
			return false
		case outcomeAborted:
			return true
		}
		if !t.handleFailure(in.Status, opts, out) {
			return true
		}
	}
}

// handleFailure records a failed attempt and acts on Decide's verdict: it waits out the
// backoff and returns true, or pauses or ends the invocation and returns false (as it does when
// the task is aborted while waiting).
func (t *task) handleFailure(st *partition.Status, opts schema.ResolvedOptions, out outcome) bool {
	attempts := st.RetryCount + 1 // attempts made so far, this one included
	d := Decide(opts.RetryPolicy, t.iv.opts.DefaultRetryPolicy,
		FailedAttempt{Attempts: attempts, Behavior: out.behavior, RetryIn: out.retryIn})
	f := out.failure
	t.iv.logger.Info("invocation attempt failed", "invocation_id", t.inv, "target", st.Target.String(), "attempt", attempts,
		"code", f.Code, "err", f.Message, "next", d.Action.String(), "delay", d.Delay)

	transient := "false"
	if d.Action == ActionRetry {
		transient = "true"
	}
	metrics.InvokerTasks.WithLabelValues(metrics.TaskFailed, t.partitionLabel(), transient).Inc()
	failedRec := &partition.Record{Kind: partition.KindAttemptFailed, Inv: t.inv, Failure: &f, RelatedEntry: out.related}
	switch d.Action {
	case ActionFail:
		t.propose(&partition.Record{Kind: partition.KindTerminate, Inv: t.inv, Failure: &f})
		t.traceFailedEnd(st, f)
		return false
	case ActionPause:
		t.propose(failedRec)
		t.propose(&partition.Record{Kind: partition.KindPause, Inv: t.inv})
		return false
	case ActionKill:
		t.propose(failedRec)
		t.propose(&partition.Record{Kind: partition.KindTerminate, Inv: t.inv, Failure: &f})
		t.traceFailedEnd(st, f)
		return false
	}
	failedRec.NextRetryAt = time.Now().Add(d.Delay).UnixMilli()
	t.propose(failedRec)
	t.proposals.Wait()
	return t.sleep(d.Delay)
}

// partitionLabel is the partition_id label of the task's invocation, as Restate's invoker
// labels its task counters.
func (t *task) partitionLabel() string { return strconv.Itoa(int(t.proc.ID())) }

// countingReader counts the bytes read from a deployment's response.
type countingReader struct {
	r io.Reader
	c prometheus.Counter
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.c.Add(float64(n))
	return n, err
}

func (t *task) sleep(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-t.ctx.Done():
		return false
	}
}

func (t *task) stopCollecting() {
	t.mu.Lock()
	t.collecting, t.early, t.att = false, nil, nil
	t.mu.Unlock()
}

// propose appends a record for this invocation; failures surface before the next attempt.
func (t *task) propose(r *partition.Record) {
	t.proposals.Add(1)
	t.proc.Propose(r, func(_ uint64, err error) {
		if err != nil {
			t.proposeMu.Lock()
			t.proposeErr = err
			t.proposeMu.Unlock()
		}
		t.proposals.Done()
	})
}

func (t *task) notify(index uint32, e partition.Entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.att != nil {
		t.att.forward(index, e)
	} else if t.collecting {
		t.early = append(t.early, pendingEntry{index, e})
	}
}

// attempt is one HTTP exchange with the deployment.
type attempt struct {
	t       *task
	version int
	known   uint32 // entries replayed in the request; later ones are forwarded live

	mu          sync.Mutex
	out         chan []byte // frames for the request body, in order
	inputClosed bool
	ackWanted   map[uint32]bool
	lastActive  time.Time

	span          *tracing.Attempt // nil unless tracing is configured
	outputFailure *wire.Failure    // the OutputCommand's failure, for the invocation-end span
}

func (a *attempt) touch() {
	a.mu.Lock()
	a.lastActive = time.Now()
	a.mu.Unlock()
}

// forward queues a stored entry for the deployment. Called with t.mu held.
func (a *attempt) forward(index uint32, e partition.Entry) {
	if index < a.known {
		return
	}
	mt := wire.MessageType(e.Type)
	if !mt.IsNotification() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inputClosed {
		return
	}
	frame := wire.AppendFrame(nil, mt, 0, e.Payload)
	if mt == wire.TypeRunCompletion && a.version >= 7 && len(a.ackWanted) > 0 {
		var n wire.Notification
		if n.Unmarshal(e.Payload) == nil && n.ID.Kind == wire.IDCompletion && a.ackWanted[n.ID.ID] {
			delete(a.ackWanted, n.ID.ID)
			ack := wire.ProposeRunCompletionAck{CompletionID: n.ID.ID}
			frame = ack.AppendFrame(nil)
		}
	}
	select {
	case a.out <- frame:
	default:
		// The deployment is not reading fast enough: end this attempt's input; the SDK suspends
		// and the next attempt replays everything from the journal.
		a.closeInputLocked()
	}
}

func (a *attempt) closeInput() {
	a.mu.Lock()
	a.closeInputLocked()
	a.mu.Unlock()
}

func (a *attempt) closeInputLocked() {
	if !a.inputClosed {
		a.inputClosed = true
		close(a.out)
	}
}

func (t *task) attempt(in *partition.Invocation, dep *schema.Deployment, opts schema.ResolvedOptions) (out outcome) {
	if sem := t.iv.sem; sem != nil {
		select {
		case sem <- struct{}{}:
			metrics.InvokerSlotsAcquired.WithLabelValues().Inc()
			defer func() {
				<-sem
				metrics.InvokerSlotsReleased.WithLabelValues().Inc()
			}()
		case <-t.ctx.Done():
			t.stopCollecting()
			return outcome{kind: outcomeAborted}
		}
	}
	st := in.Status
	version := dep.ProtocolVersion
	if version == 0 {
		version = 5
	}
	ctx, cancel := context.WithCancel(t.ctx)
	defer cancel()

	a := &attempt{t: t, version: version, known: uint32(len(in.Journal)), out: make(chan []byte, 1024),
		ackWanted: map[uint32]bool{}, lastActive: time.Now()}
	if tr := tracing.Current(); tr.Enabled() {
		defer func() { t.traceOutcome(tr, in, a, out) }()
		tp, ts := traceContext(in)
		t.traceParent, t.traceState = tp, ts
		a.span = tr.StartAttempt(tp, ts, t.inv.String(), traceTarget(st.Target),
			tracing.Deployment{ID: dep.ID, Address: redact.Text(dep.URI), ProtocolVersion: version})
	}

	// Start + the stored journal, then live notifications.
	raw := t.inv.Bytes()
	start := wire.StartMessage{
		ID:                             raw[:],
		DebugID:                        t.inv.String(),
		KnownEntries:                   uint32(len(in.Journal)),
		Key:                            st.Target.Key,
		RetryCountSinceLastStoredEntry: st.RetryCountSince,
		RandomSeed:                     seedOf(raw[:]),
		IdempotencyKey:                 st.IdempotencyKey,
	}
	if st.LastEntryAt > 0 {
		if d := time.Now().UnixMilli() - st.LastEntryAt; d > 0 {
			start.DurationSinceLastStoredEntry = uint64(d)
		}
	}
	if st.Target.Keyed() && !opts.EnableLazyState {
		for _, s := range in.State {
			start.StateMap = append(start.StateMap, wire.StateEntry{Key: s.Key, Value: s.Value})
		}
	} else {
		start.PartialState = true
	}
	buf := start.AppendFrame(nil, version)
	for _, e := range in.Journal {
		buf = wire.AppendFrame(buf, wire.MessageType(e.Type), 0, e.Payload)
	}
	a.out <- buf

	t.mu.Lock()
	early := t.early
	t.early, t.collecting, t.att = nil, false, a
	for _, pe := range early {
		a.forward(pe.index, pe.e)
	}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		if t.att == a {
			t.att = nil
		}
		t.mu.Unlock()
		a.closeInput()
	}()

	requestResponse := dep.ProtocolType == schema.ProtocolTypeRequestResponse || opts.InactivityTimeout == 0
	if requestResponse {
		a.closeInput()
	}
	clientType := "Http/bidi-stream"
	if requestResponse {
		clientType = "Http/request-response"
	}
	sentBytes := metrics.InvokerSentBytes.WithLabelValues(clientType)

	pr, pw := io.Pipe()
	// Ending the attempt (kill, pause, step-down, shutdown, abort timeout) must end its stream
	// at once. The HTTP/2 transport notices a canceled request only between reads of the
	// request body, and this body blocks until our next frame, which may never come: failing
	// the body makes the transport reset the stream now.
	stopBody := context.AfterFunc(ctx, func() { pw.CloseWithError(context.Cause(ctx)) })
	defer stopBody()
	go func() {
		for frame := range a.out {
			if _, err := pw.Write(frame); err != nil {
				break
			}
			sentBytes.Add(float64(len(frame)))
			a.touch()
		}
		pw.Close()
		// Drain frames queued after a write error so forward never blocks on a full channel.
		for range a.out {
		}
	}()

	path := "/invoke/" + st.Target.Service + "/" + st.Target.Handler
	url := strings.TrimSuffix(dep.URI, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, pr)
	if err != nil {
		return failed(500, "building request to %s: %v", url, err)
	}
	ct := wire.InvocationContentType(version)
	req.Header.Set("content-type", ct)
	req.Header.Set("accept", ct)
	req.Header.Set("x-restate-invocation-id", t.inv.String())
	if t.iv.opts.ClusterName != "" {
		req.Header.Set("x-restate-cluster-name", t.iv.opts.ClusterName)
	}
	for k, v := range dep.AdditionalHeaders {
		req.Header.Set(k, v)
	}
	a.span.SetHeaders(req.Header)
	if signer := t.iv.opts.Identity; signer != nil {
		// As Restate: the audience is the path below the deployment URI, and calls to virtual
		// objects and workflows name the key.
		var sub *string
		if st.Target.Keyed() {
			sub = &st.Target.Key
		}
		signer.SetHeaders(req.Header, path, sub)
	}

	go a.watchdog(ctx, cancel, opts, requestResponse)

	resp, err := t.iv.client(dep).Do(req)
	if err != nil {
		if t.isAborted() {
			return outcome{kind: outcomeAborted}
		}
		return failed(503, "calling deployment %s: %v", dep.URI, err)
	}
	defer resp.Body.Close()
	metrics.InvokerClientRequests.WithLabelValues(clientType, strconv.Itoa(resp.StatusCode)).Inc()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		code := uint32(resp.StatusCode)
		if code < 400 || code > 599 {
			code = 500
		}
		return failed(code, "deployment %s answered HTTP %d: %s", dep.URI, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if got := resp.Header.Get("content-type"); got != ct {
		return failed(415, "deployment %s answered with content-type %q, expected %q", dep.URI, got, ct)
	}
	dec := wire.NewDecoder(countingReader{resp.Body, metrics.InvokerReceivedBytes.WithLabelValues(clientType)}, t.iv.opts.MaxMessageSize)
	for {
		f, err := dec.Next()
		if err != nil {
			if t.isAborted() {
				return outcome{kind: outcomeAborted}
			}
			if errors.Is(err, io.EOF) {
				return failed(571, "the deployment closed the stream without ending, suspending or failing the attempt")
			}
			if ctx.Err() != nil {
				return failed(500, "attempt timed out: no progress within the inactivity and abort timeouts")
			}
			return failed(571, "reading from deployment: %v", err)
		}
		a.touch()
		if out, end := t.handleFrame(a, f); end {
			a.closeInput()
			// Let the SDK finish its response; it stops reading our input once it sent a
			// terminal message.
			drainTimer := time.AfterFunc(5*time.Second, cancel)
			_, _ = io.Copy(io.Discard, resp.Body)
			drainTimer.Stop()
			return out
		}
	}
}

// handleFrame acts on one message from the deployment; end reports a terminal message.
func (t *task) handleFrame(a *attempt, f wire.Frame) (outcome, bool) {
	mt := f.Type
	switch {
	case mt.IsCommand() || mt.IsCustomEntry():
		if mt == wire.TypeInputCommand {
			return failed(571, "the deployment sent an InputCommand"), true
		}
		rec := &partition.Record{Kind: partition.KindJournalAppend, Inv: t.inv, EntryType: uint16(mt), Payload: append([]byte{}, f.Payload...)}
		if a.span != nil {
			a.traceCommand(mt, f.Payload)
		}
		if mt == wire.TypeCallCommand || mt == wire.TypeOneWayCallCommand {
			t.resolveCallee(rec, mt, f.Payload)
		}
		t.propose(rec)
		return outcome{}, false
	}
	switch mt {
	case wire.TypeProposeRunCompletion:
		var m wire.ProposeRunCompletion
		if err := m.Unmarshal(f.Payload); err != nil {
			return failed(571, "malformed ProposeRunCompletion: %v", err), true
		}
		r := &partition.Record{Kind: partition.KindRunCompletion, Inv: t.inv, CompletionID: m.ResultCompletionID}
		if m.Kind == wire.ResultFailure && m.Failure != nil {
			r.Failure = partition.FailureFromWire(m.Failure)
		} else {
			r.Payload = append([]byte{}, m.Value...)
		}
		if f.RequestedAck() && a.version >= 7 {
			a.mu.Lock()
			a.ackWanted[m.ResultCompletionID] = true
			a.mu.Unlock()
		}
		t.propose(r)
		return outcome{}, false
	case wire.TypeAwaitingOn:
		return outcome{}, false
	case wire.TypeSuspension:
		var m wire.SuspensionMessage
		if err := m.Unmarshal(f.Payload); err != nil {
			return failed(571, "malformed SuspensionMessage: %v", err), true
		}
		fut := m.Awaiting()
		c, s, n := fut.Leaves()
		if len(c) == 0 && len(s) == 0 && len(n) == 0 {
			return failed(571, "the deployment suspended without waiting for anything"), true
		}
		t.propose(&partition.Record{Kind: partition.KindSuspend, Inv: t.inv, WaitCompletions: c, WaitSignals: s, WaitNames: n})
		return outcome{kind: outcomeSuspended}, true
	case wire.TypeError:
		var m wire.ErrorMessage
		if err := m.Unmarshal(f.Payload); err != nil {
			return failed(571, "malformed ErrorMessage: %v", err), true
		}
		out := outcome{kind: outcomeFailed, behavior: m.Behavior,
			failure: partition.Failure{Code: m.Code, Message: m.Message}}
		if m.Stacktrace != "" {
			out.failure.Message += "\n" + m.Stacktrace
		}
		if m.RelatedCommandIndex != nil {
			out.related = *m.RelatedCommandIndex
		}
		if m.NextRetryDelay != nil {
			d := time.Duration(*m.NextRetryDelay) * time.Millisecond
			out.retryIn = &d
		}
		return out, true
	case wire.TypeEnd:
		t.propose(&partition.Record{Kind: partition.KindEnd, Inv: t.inv})
		return outcome{kind: outcomeEnded}, true
	}
	return failed(571, "unexpected message %s from the deployment", mt), true
}

// resolveCallee attaches the callee's service and handler types to a call command, so the
// state machine (which has no schema) can route and schedule it.
func (t *task) resolveCallee(rec *partition.Record, mt wire.MessageType, payload []byte) {
	var service, handler, idem string
	switch mt {
	case wire.TypeCallCommand:
		var c wire.CallCommand
		if c.Unmarshal(payload) != nil {
			return
		}
		service, handler, idem = c.ServiceName, c.HandlerName, c.IdempotencyKey
	default:
		var c wire.OneWayCallCommand
		if c.Unmarshal(payload) != nil {
			return
		}
		service, handler, idem = c.ServiceName, c.HandlerName, c.IdempotencyKey
	}
	target, retention, err := t.iv.opts.Resolver.Callee(service, handler, idem != "")
	if err != nil {
		rec.Failure = &partition.Failure{Code: 404, Message: err.Error()}
		return
	}
	rec.Callee = &target
	rec.CalleeRetention = retention
}

func (t *task) isAborted() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.aborted || t.ctx.Err() != nil
}

// watchdog enforces the inactivity timeout (close our input so the SDK suspends) and then the
// abort timeout (give up on the attempt).
func (a *attempt) watchdog(ctx context.Context, cancel context.CancelFunc, opts schema.ResolvedOptions, requestResponse bool) {
	inactivity, abort := opts.InactivityTimeout, opts.AbortTimeout
	if abort <= 0 {
		abort = time.Minute
	}
	var closedAt time.Time
	if requestResponse {
		closedAt = time.Now()
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			a.mu.Lock()
			idle := now.Sub(a.lastActive)
			closed := a.inputClosed
			a.mu.Unlock()
			if !closed && inactivity > 0 && idle > inactivity {
				a.closeInput()
				closedAt = now
				continue
			}
			if closed && closedAt.IsZero() {
				closedAt = now
			}
			if closed && now.Sub(closedAt) > abort && idle > abort {
				cancel()
				return
			}
		}
	}
}

func seedOf(id []byte) uint64 {
	h := fnv.New64a()
	h.Write(id)
	return h.Sum64()
}
