package partition

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/log"
	"github.com/restatego/restate/internal/storage"
	"github.com/restatego/restate/internal/wire"
)

// fakeEffects records what the leader asked for.
type fakeEffects struct {
	mu        sync.Mutex
	invoked   []ids.InvocationID
	notified  []Entry
	responses map[ids.InvocationID]Result
	ch        chan string
}

func newFakeEffects() *fakeEffects {
	return &fakeEffects{responses: map[ids.InvocationID]Result{}, ch: make(chan string, 100)}
}

func (f *fakeEffects) Invoke(p *Processor, inv ids.InvocationID) {
	f.mu.Lock()
	f.invoked = append(f.invoked, inv)
	f.mu.Unlock()
	f.ch <- "invoke"
}
func (f *fakeEffects) Notify(inv ids.InvocationID, index uint32, e Entry) {
	f.mu.Lock()
	f.notified = append(f.notified, e)
	f.mu.Unlock()
	f.ch <- "notify"
}
func (f *fakeEffects) Abort(inv ids.InvocationID) {}
func (f *fakeEffects) StepDown(p *Processor)      {}
func (f *fakeEffects) Respond(sink Sink, inv ids.InvocationID, res Result) {
	f.mu.Lock()
	f.responses[inv] = res
	f.mu.Unlock()
	f.ch <- "respond"
}

func (f *fakeEffects) await(t *testing.T, what string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case got := <-f.ch:
			if got == what {
				return
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

type harness struct {
	db   *storage.DB
	log  *log.Local
	proc *Processor
	fx   *fakeEffects
	stop func()
}

func newHarness(t *testing.T, dir string) *harness {
	t.Helper()
	return newHarnessWith(t, dir, nil)
}

func newHarnessWith(t *testing.T, dir string, configure func(*Config)) *harness {
	t.Helper()
	db, err := storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := log.OpenLocal(db, 1)
	if err != nil {
		t.Fatal(err)
	}
	fx := newFakeEffects()
	cfg := Config{ID: 0, Node: 1, DB: db, Log: l, Effects: fx}
	if configure != nil {
		configure(&cfg)
	}
	p := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for !p.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("processor never became leader")
		}
		time.Sleep(5 * time.Millisecond)
	}
	h := &harness{db: db, log: l, proc: p, fx: fx}
	h.stop = func() { cancel(); <-done; l.Close(); db.Close() }
	return h
}

func (h *harness) submit(t *testing.T, r *Record) {
	t.Helper()
	if err := h.proc.Submit(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	// Wait until the processor applied everything in the log so reads see the record.
	tail := h.log.Tail(0)
	deadline := time.Now().Add(5 * time.Second)
	for h.proc.AppliedLSN() < tail {
		if time.Now().After(deadline) {
			t.Fatalf("record at %d not applied", tail)
		}
		time.Sleep(time.Millisecond)
	}
}

func invokeRecord(inv ids.InvocationID, tg Target) *Record {
	return &Record{Kind: KindInvoke, Inv: inv, Target: tg, Body: []byte(`"x"`),
		Sink: &Sink{Kind: SinkIngress, Node: 1, RequestID: 7}, CreatedAt: time.Now().UnixMilli()}
}

func outputEntry(value string) []byte {
	c := wire.OutputCommand{Result: wire.ValueResult([]byte(value))}
	return c.AppendTo(nil)
}

func TestInvokeRunEnd(t *testing.T) {
	h := newHarness(t, t.TempDir())
	defer h.stop()
	inv := ids.NewInvocationID(1)
	h.submit(t, invokeRecord(inv, Target{Service: "Greeter", Handler: "Greet"}))
	h.fx.await(t, "invoke")

	in, err := h.proc.ReadInvocation(inv, true)
	if err != nil || in == nil {
		t.Fatalf("ReadInvocation: %v %v", in, err)
	}
	if len(in.Journal) != 1 || wire.MessageType(in.Journal[0].Type) != wire.TypeInputCommand {
		t.Fatalf("journal = %+v", in.Journal)
	}
	h.submit(t, &Record{Kind: KindJournalAppend, Inv: inv, EntryType: uint16(wire.TypeRunCommand), Payload: []byte{0x58, 1}})
	h.submit(t, &Record{Kind: KindRunCompletion, Inv: inv, CompletionID: 1, Payload: []byte(`"side"`)})
	h.fx.await(t, "notify")
	h.submit(t, &Record{Kind: KindJournalAppend, Inv: inv, EntryType: uint16(wire.TypeOutputCommand), Payload: outputEntry(`"hi"`)})
	h.submit(t, &Record{Kind: KindEnd, Inv: inv})
	h.fx.await(t, "respond")
	h.fx.mu.Lock()
	res := h.fx.responses[inv]
	h.fx.mu.Unlock()
	if string(res.Value) != `"hi"` || res.Failure != nil {
		t.Fatalf("result = %+v", res)
	}
	st, _ := h.proc.ReadStatus(inv)
	if st != nil {
		t.Fatalf("an invocation without retention must be gone after it ended: %+v", st)
	}

	// With a retention, the status and journal stay, and a repeated request gets the result.
	kept := ids.NewInvocationID(1)
	rec := invokeRecord(kept, Target{Service: "Greeter", Handler: "Greet"})
	rec.Retention = time.Hour.Milliseconds()
	h.submit(t, rec)
	h.fx.await(t, "invoke")
	h.submit(t, &Record{Kind: KindJournalAppend, Inv: kept, EntryType: uint16(wire.TypeOutputCommand), Payload: outputEntry(`"kept"`)})
	h.submit(t, &Record{Kind: KindEnd, Inv: kept})
	h.fx.await(t, "respond")
	st, _ = h.proc.ReadStatus(kept)
	if st == nil || st.Phase != PhaseCompleted || st.JournalLen != 2 || string(st.Result.Value) != `"kept"` {
		t.Fatalf("status after end with retention: %+v", st)
	}
	again := invokeRecord(kept, Target{Service: "Greeter", Handler: "Greet"})
	again.Sink.RequestID = 8
	h.submit(t, again)
	h.fx.await(t, "respond")
	h.fx.mu.Lock()
	res = h.fx.responses[kept]
	h.fx.mu.Unlock()
	if string(res.Value) != `"kept"` {
		t.Fatalf("repeated request got %+v", res)
	}
}

func TestExclusiveHandlersQueuePerKey(t *testing.T) {
	h := newHarness(t, t.TempDir())
	defer h.stop()
	tg := Target{Service: "Counter", Handler: "Add", Key: "k", ServiceType: ServiceVirtualObject, HandlerType: HandlerExclusive}
	a, b := ids.NewInvocationID(5), ids.NewInvocationID(5)
	h.submit(t, invokeRecord(a, tg))
	h.submit(t, invokeRecord(b, tg))
	h.fx.await(t, "invoke")
	stB, _ := h.proc.ReadStatus(b)
	if stB.Phase != PhaseInboxed {
		t.Fatalf("second exclusive invocation of the same key is %s, want inboxed", stB.Phase)
	}
	// A shared handler of the same key runs at once.
	shared := ids.NewInvocationID(5)
	h.submit(t, invokeRecord(shared, Target{Service: "Counter", Handler: "Get", Key: "k", ServiceType: ServiceVirtualObject, HandlerType: HandlerShared}))
	h.fx.await(t, "invoke")

	h.submit(t, &Record{Kind: KindJournalAppend, Inv: a, EntryType: uint16(wire.TypeOutputCommand), Payload: outputEntry("1")})
	h.submit(t, &Record{Kind: KindEnd, Inv: a})
	h.fx.await(t, "invoke") // b gets the lock
	stB, _ = h.proc.ReadStatus(b)
	if stB.Phase != PhaseInvoked {
		t.Fatalf("after the first completed, the second is %s", stB.Phase)
	}
}

func TestStaleEpochIsFenced(t *testing.T) {
	h := newHarness(t, t.TempDir())
	defer h.stop()
	inv := ids.NewInvocationID(9)
	h.submit(t, invokeRecord(inv, Target{Service: "S", Handler: "h"}))
	h.fx.await(t, "invoke")
	stale := &Record{Kind: KindJournalAppend, Inv: inv, Epoch: 0, EntryType: uint16(wire.TypeOutputCommand), Payload: outputEntry("1")}
	stale.Epoch = h.proc.leaderEpoch.Load() - 1
	if stale.Epoch == 0 {
		// Epoch 0 means "unfenced"; make a real stale epoch by announcing a newer one first.
		h.submit(t, &Record{Kind: KindAnnounceLeader, Epoch: h.proc.leaderEpoch.Load() + 5, Node: 2})
		stale.Epoch = h.proc.leaderEpoch.Load() + 1
	}
	h.submit(t, stale)
	time.Sleep(50 * time.Millisecond)
	st, _ := h.proc.ReadStatus(inv)
	if st.JournalLen != 1 || st.Output != nil {
		t.Fatalf("a record from an older epoch was applied: %+v", st)
	}
	if h.proc.IsLeader() {
		t.Fatal("processor stayed leader after another node announced a newer epoch")
	}
}

func TestSleepTimerFiresAndResumes(t *testing.T) {
	h := newHarness(t, t.TempDir())
	defer h.stop()
	inv := ids.NewInvocationID(3)
	h.submit(t, invokeRecord(inv, Target{Service: "S", Handler: "h"}))
	h.fx.await(t, "invoke")
	sleep := wire.SleepCommand{WakeUpTime: uint64(time.Now().Add(100 * time.Millisecond).UnixMilli()), ResultCompletionID: 1}
	h.submit(t, &Record{Kind: KindJournalAppend, Inv: inv, EntryType: uint16(wire.TypeSleepCommand), Payload: sleep.AppendTo(nil)})
	h.submit(t, &Record{Kind: KindSuspend, Inv: inv, WaitCompletions: []uint32{1}, WaitSignals: []uint32{1}})
	time.Sleep(20 * time.Millisecond)
	st, _ := h.proc.ReadStatus(inv)
	if st.Phase != PhaseSuspended {
		t.Fatalf("phase = %s, want suspended", st.Phase)
	}
	h.fx.await(t, "invoke") // the timer fired and the invocation resumed
	in, err := h.proc.ReadInvocation(inv, false)
	if err != nil || in == nil {
		t.Fatalf("ReadInvocation: %v", err)
	}
	last := in.Journal[len(in.Journal)-1]
	if wire.MessageType(last.Type) != wire.TypeSleepCompletion {
		t.Fatalf("last entry is %s, want SleepCompletion", wire.MessageType(last.Type))
	}
}

func TestRecoveryReplaysLog(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, dir)
	inv := ids.NewInvocationID(11)
	h.submit(t, invokeRecord(inv, Target{Service: "S", Handler: "h"}))
	h.fx.await(t, "invoke")
	h.stop()

	h2 := newHarness(t, dir)
	defer h2.stop()
	h2.fx.await(t, "invoke") // the new leader restarts the running invocation
	st, _ := h2.proc.ReadStatus(inv)
	if st == nil || st.Phase != PhaseInvoked {
		t.Fatalf("after restart: %+v", st)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	inv := ids.NewInvocationID(42)
	recs := []*Record{
		{Kind: KindInvoke, Inv: inv, Epoch: 0, CreatedAt: 5, Target: Target{"S", "h", "k", ServiceVirtualObject, HandlerExclusive},
			Headers: []Header{{"a", "b"}}, Body: []byte("body"), Sink: &Sink{Kind: SinkIngress, Node: 1, RequestID: 99}, IdempotencyKey: "idem", ExecuteAt: 77},
		{Kind: KindJournalAppend, Inv: inv, Epoch: 3, EntryType: 0x0403, Payload: []byte{1, 2}},
		{Kind: KindRunCompletion, Inv: inv, CompletionID: 4, Failure: &Failure{Code: 500, Message: "x", Metadata: []FailureMetadata{{"k", "v"}}}},
		{Kind: KindSuspend, Inv: inv, WaitCompletions: []uint32{1, 2}, WaitSignals: []uint32{1}, WaitNames: []string{"n"}},
		{Kind: KindAttemptFailed, Inv: inv, Failure: &Failure{Code: 570, Message: "mismatch"}, RelatedEntry: 3, NextRetryAt: 1000},
		{Kind: KindTimerFired, Inv: inv, TimerKey: []byte("tk")},
		{Kind: KindSnapshotTaken, Epoch: 2, UpTo: 1234, SnapshotID: "snap_abc"},
	}
	for _, r := range recs {
		got, err := DecodeRecord(r.Encode())
		if err != nil {
			t.Fatalf("%s: %v", r.Kind, err)
		}
		if string(got.Encode()) != string(r.Encode()) {
			t.Fatalf("%s: round trip changed the record", r.Kind)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	inv := ids.NewInvocationID(1)
	f.Add((&Record{Kind: KindInvoke, Inv: inv, Body: []byte("x"), Headers: []Header{{"a", "b"}}}).Encode())
	f.Add((&Record{Kind: KindSuspend, Inv: inv, WaitCompletions: []uint32{1}}).Encode())
	f.Add([]byte{1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b)
		if err != nil {
			return
		}
		if _, err := DecodeRecord(r.Encode()); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
	})
}

func FuzzDecodeStatus(f *testing.F) {
	st := &Status{Phase: PhaseInvoked, Target: Target{Service: "S"}, Sinks: []Sink{{Kind: SinkIngress, Node: 1, RequestID: 2}}, Output: &Result{Value: []byte("v")}}
	f.Add(st.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeStatus(b)
		if err != nil {
			return
		}
		if _, err := decodeStatus(s.encode()); err != nil {
			t.Fatalf("re-encoded status does not decode: %v", err)
		}
	})
}

// A follower answers the requests that wait on its own node (not those of other nodes):
// the answer must not depend on the leader surviving until it sent it.
func TestFollowerAnswersRequestsWaitingOnItsNode(t *testing.T) {
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := log.OpenLocal(db, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fx := newFakeEffects()
	p := New(Config{ID: 0, Node: 2, DB: db, Log: l, Effects: fx, RaftLeadership: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	invs := map[uint32]ids.InvocationID{}
	for _, node := range []uint32{3, 2} {
		inv := ids.NewInvocationID(uint64(node))
		invs[node] = inv
		r := &Record{Kind: KindAttach, Inv: inv, NoWait: true, Sink: &Sink{Kind: SinkIngress, Node: node, RequestID: 7}}
		if err := p.Submit(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	fx.await(t, "respond")
	if p.IsLeader() {
		t.Fatal("the processor claimed leadership without raft")
	}
	fx.mu.Lock()
	defer fx.mu.Unlock()
	if len(fx.responses) != 1 || fx.responses[invs[2]].Status != ReplyNotFound {
		t.Fatalf("responses = %+v; want one NotFound for the request on node 2", fx.responses)
	}
}
