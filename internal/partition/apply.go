package partition

import (
	"container/heap"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/metrics"
	"github.com/restatego/restate/internal/storage"
	"github.com/restatego/restate/internal/wire"
)

// journalVersion is the protocol version used to encode the entries we create (input and
// notifications). Fields newer than V5 are optional in every version we speak, and the
// deployment-facing encoding of failures drops V6 metadata when needed.
const journalVersion = 7

// apply runs one record against the partition's tables. It must be deterministic: it reads
// only the batch and the record, never clocks or the network.
func (p *Processor) apply(t *txn, r *Record) error {
	if r.Kind == KindAnnounceLeader {
		return p.applyAnnounceLeader(t, r)
	}
	if r.Epoch != 0 && r.Epoch < p.epoch {
		return nil // from a deposed leader
	}
	if dup, err := p.duplicate(t, r); err != nil || dup {
		return err
	}
	switch r.Kind {
	case KindInvoke:
		return p.applyInvoke(t, r)
	case KindJournalAppend:
		return p.applyJournalAppend(t, r)
	case KindRunCompletion:
		return p.applyRunCompletion(t, r)
	case KindEnd:
		return p.applyEnd(t, r)
	case KindSuspend:
		return p.applySuspend(t, r)
	case KindAttemptFailed:
		return p.applyAttemptFailed(t, r)
	case KindTerminate:
		return p.applyTerminate(t, r)
	case KindPause:
		return p.applyPause(t, r)
	case KindTimerFired:
		return p.applyTimerFired(t, r)
	case KindCleanup:
		return p.applyCleanup(t, r)
	case KindResponse:
		return p.applyResponse(t, r)
	case KindSignal:
		return p.applySignal(t, r)
	case KindCancel:
		return p.applyCancel(t, r)
	case KindKill:
		return p.applyKill(t, r)
	case KindAttach:
		return p.applyAttach(t, r)
	case KindPurge, KindPurgeJournal:
		return p.applyPurge(t, r)
	case KindResume:
		return p.applyResume(t, r)
	case KindPauseRequest:
		return p.applyPauseRequest(t, r)
	case KindRestartAsNew:
		return p.applyRestartAsNew(t, r)
	case KindOutboxTruncate:
		return p.applyOutboxTruncate(t, r)
	case KindSetState:
		return p.applySetState(t, r)
	case KindSnapshotTaken:
		return p.applySnapshotTaken(t, r)
	}
	return fmt.Errorf("unknown record kind %s", r.Kind)
}

func (p *Processor) applyAnnounceLeader(t *txn, r *Record) error {
	if r.Epoch <= p.epoch {
		return nil
	}
	p.epoch = r.Epoch
	p.epochSeen.Store(r.Epoch)
	wasLeader := p.leader.Load()
	if r.Node == p.cfg.Node && r.Epoch == p.proposed {
		p.leaderEpoch.Store(r.Epoch)
		p.leader.Store(true)
		p.logger.Debug("leader", "epoch", r.Epoch)
		p.effect(func() { metrics.PartitionLeaderChanges.WithLabelValues(p.idLabel(), "gained").Inc() })
		return p.startLeading(t)
	}
	if wasLeader {
		p.stepDown()
	}
	return nil
}

// startLeading hands every invocation that should be running to the invoker and loads the
// timers. It reads through the batch, so records applied later in the batch add their own
// effects on top without duplicates.
func (p *Processor) startLeading(t *txn) error {
	prefix := storage.TableKey(p.id, storage.TableStatus)
	it, err := t.b.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: storage.TablePrefixEnd(prefix)})
	if err != nil {
		return err
	}
	var running []ids.InvocationID
	for ok := it.First(); ok; ok = it.Next() {
		st, err := decodeStatus(it.Value())
		if err != nil {
			it.Close()
			return err
		}
		if st.Phase == PhaseInvoked {
			id, err := ids.InvocationIDFromBytes(it.Key()[len(prefix):])
			if err != nil {
				it.Close()
				return err
			}
			running = append(running, id)
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	for _, id := range running {
		id := id
		p.effect(func() { p.cfg.Effects.Invoke(p, id) })
	}

	tprefix := storage.TableKey(p.id, storage.TableTimer)
	tit, err := t.b.NewIter(&pebble.IterOptions{LowerBound: tprefix, UpperBound: storage.TablePrefixEnd(tprefix)})
	if err != nil {
		return err
	}
	defer tit.Close()
	p.timers = p.timers[:0]
	for ok := tit.First(); ok; ok = tit.Next() {
		tr, err := parseTimerKey(p.id, tit.Key())
		if err != nil {
			p.logger.Error("skipping malformed timer", "err", err)
			continue
		}
		p.timers = append(p.timers, tr)
	}
	heap.Init(&p.timers)
	p.effect(p.armTimer)
	p.effect(p.reshipOutbox)
	return nil
}

func (p *Processor) applyInvoke(t *txn, r *Record) error {
	existing, err := t.status(r.Inv)
	if err != nil {
		return err
	}
	if existing != nil {
		return p.invokeExisting(t, r, existing)
	}
	st := &Status{
		Target:         r.Target,
		IdempotencyKey: r.IdempotencyKey,
		CreatedAt:      r.CreatedAt,
		ModifiedAt:     r.CreatedAt,
		LastEntryAt:    r.CreatedAt,
		ExecuteAt:      r.ExecuteAt,
		Retention:      r.Retention,
		JournalLen:     1,
		CommandsLen:    1,
		InvokedBy:      r.InvokedBy,
	}
	if r.Sink != nil {
		st.Sinks = []Sink{*r.Sink}
	}
	input := wire.InputCommand{Value: r.Body}
	for _, h := range r.Headers {
		input.Headers = append(input.Headers, wire.Header{Key: h.Key, Value: h.Value})
	}
	t.putEntry(r.Inv, 0, Entry{Type: uint16(wire.TypeInputCommand), Payload: input.Marshal()})
	if err := p.reply(t, r.Reply, Result{Status: ReplyAccepted, InvocationID: r.Inv}); err != nil {
		return err
	}
	if r.ExecuteAt > r.CreatedAt {
		st.Phase = PhaseScheduled
		t.putStatus(r.Inv, st)
		p.putTimer(t, timerRef{wakeMs: r.ExecuteAt, inv: r.Inv, kind: timerSchedule})
		return nil
	}
	return p.schedule(t, r.Inv, st)
}

// invokeExisting handles an Invoke for an invocation id that already exists: a repeated
// idempotent request, a second submission of a workflow run, or a message delivered twice.
func (p *Processor) invokeExisting(t *txn, r *Record, st *Status) error {
	if st.Phase == PhaseCompleted && st.ExpiresAt > 0 && st.ExpiresAt <= r.CreatedAt {
		// The retention passed but the cleanup has not run yet: the old invocation is gone as
		// far as anyone can tell, so this starts a new one.
		p.forget(t, r.Inv, st)
		return p.applyInvoke(t, r)
	}
	if err := p.reply(t, r.Reply, Result{Status: ReplyPreviouslyAccepted, InvocationID: r.Inv}); err != nil {
		return err
	}
	if r.Sink == nil {
		return nil
	}
	if st.Target.HandlerType == HandlerWorkflow {
		return p.reply(t, r.Sink, Result{InvocationID: r.Inv,
			Failure: &Failure{Code: 409, Message: "the workflow method was already invoked"}})
	}
	if st.Phase == PhaseCompleted && st.Result != nil {
		return p.reply(t, r.Sink, p.resultOf(r.Inv, st))
	}
	st.Sinks = append(st.Sinks, *r.Sink)
	t.putStatus(r.Inv, st)
	return nil
}

func (p *Processor) resultOf(inv ids.InvocationID, st *Status) Result {
	res := Result{InvocationID: inv, ExpiresAt: st.ExpiresAt, Target: st.Target}
	if st.Result != nil {
		res.Value, res.Failure = st.Result.Value, st.Result.Failure
	}
	return res
}

// schedule moves a new invocation to running, or to its object's inbox when the key is locked.
func (p *Processor) schedule(t *txn, inv ids.InvocationID, st *Status) error {
	if st.Target.Keyed() && st.Target.Exclusive() {
		holder, locked, err := t.lockHolder(st.Target.Service, st.Target.Key)
		if err != nil {
			return err
		}
		if locked && holder != inv {
			seq, err := t.metaU64("inboxseq")
			if err != nil {
				return err
			}
			seq++
			t.putMetaU64("inboxseq", seq)
			st.Phase = PhaseInboxed
			st.InboxSeq = seq
			t.pushInbox(st.Target.Service, st.Target.Key, seq, inv)
			t.putStatus(inv, st)
			return nil
		}
		t.setLock(st.Target.Service, st.Target.Key, inv)
	}
	p.run(t, inv, st)
	return nil
}

func (p *Processor) run(t *txn, inv ids.InvocationID, st *Status) {
	st.Phase = PhaseInvoked
	st.WaitCompletions, st.WaitSignals, st.WaitNames = nil, nil, nil
	t.putStatus(inv, st)
	p.effect(func() { p.cfg.Effects.Invoke(p, inv) })
}

func (p *Processor) putTimer(t *txn, tr timerRef) {
	tr.key = timerKey(p.id, tr.wakeMs, tr.inv, tr.kind, tr.cid)
	_ = t.b.Set(tr.key, nil, nil)
	p.effect(func() { p.addTimer(tr) })
}

// runningStatus loads the status of an invocation that a leader-proposed record refers to.
// Records about invocations that are no longer running (killed, completed, or from a stale
// attempt) are dropped.
func (p *Processor) runningStatus(t *txn, inv ids.InvocationID) (*Status, error) {
	st, err := t.status(inv)
	if err != nil || st == nil || st.Phase != PhaseInvoked {
		return nil, err
	}
	return st, nil
}

func (p *Processor) applyJournalAppend(t *txn, r *Record) error {
	st, err := p.runningStatus(t, r.Inv)
	if err != nil || st == nil {
		return err
	}
	typ := wire.MessageType(r.EntryType)
	index := st.JournalLen
	t.putEntry(r.Inv, index, Entry{Type: r.EntryType, Payload: r.Payload})
	st.JournalLen++
	st.CommandsLen++
	st.LastEntryAt = r.CreatedAt
	st.ModifiedAt = r.CreatedAt
	st.RetryCountSince = 0

	failure, err := p.applyCommand(t, r, st, typ, index)
	if err != nil {
		return err
	}
	if failure != nil {
		// A command the invocation may not issue (for example a state write from a shared
		// handler) ends the invocation, as Restate does.
		t.putStatus(r.Inv, st)
		p.effect(func() { p.cfg.Effects.Abort(r.Inv) })
		return p.complete(t, r.Inv, st, Result{Failure: failure}, r.CreatedAt)
	}
	t.putStatus(r.Inv, st)
	return nil
}

// notify appends a notification to an invocation's journal and tells whoever waits for it.
func (p *Processor) notify(t *txn, inv ids.InvocationID, st *Status, n wire.Notification) {
	index := st.JournalLen
	e := Entry{Type: uint16(n.Type), Payload: n.Marshal(journalVersion)}
	t.putEntry(inv, index, e)
	st.JournalLen++
	switch st.Phase {
	case PhaseInvoked:
		p.effect(func() { p.cfg.Effects.Notify(inv, index, e) })
	case PhaseSuspended:
		if st.awaits(n.ID) {
			p.run(t, inv, st)
		}
	}
}

func (st *Status) awaits(id wire.NotificationID) bool {
	switch id.Kind {
	case wire.IDCompletion:
		for _, c := range st.WaitCompletions {
			if c == id.ID {
				return true
			}
		}
	case wire.IDSignal:
		for _, s := range st.WaitSignals {
			if s == id.ID {
				return true
			}
		}
	case wire.IDSignalName:
		for _, s := range st.WaitNames {
			if s == id.Name {
				return true
			}
		}
	}
	return false
}

func (p *Processor) applyRunCompletion(t *txn, r *Record) error {
	st, err := p.runningStatus(t, r.Inv)
	if err != nil || st == nil {
		return err
	}
	res := wire.ValueResult(r.Payload)
	if r.Payload == nil {
		res = wire.ValueResult([]byte{})
	}
	if r.Failure != nil {
		res = r.Failure.Wire()
	}
	st.LastEntryAt = r.CreatedAt
	st.ModifiedAt = r.CreatedAt
	st.RetryCountSince = 0
	p.notify(t, r.Inv, st, wire.NewCompletion(wire.TypeRunCompletion, r.CompletionID, res))
	t.putStatus(r.Inv, st)
	return nil
}

func (p *Processor) applyEnd(t *txn, r *Record) error {
	st, err := p.runningStatus(t, r.Inv)
	if err != nil || st == nil {
		return err
	}
	res := Result{Failure: &Failure{Code: wire.CodeProtocolViolation, Message: "the deployment ended the invocation without writing an output"}}
	if st.Output != nil {
		res = *st.Output
	}
	return p.complete(t, r.Inv, st, res, r.CreatedAt)
}

// complete ends an invocation: the result goes to every waiting party, the object lock passes
// to the next inboxed invocation, and the status and journal stay for the retention period.
func (p *Processor) complete(t *txn, inv ids.InvocationID, st *Status, res Result, now int64) error {
	wasRunning := st.active()
	if st.Phase == PhaseInboxed {
		t.removeInbox(st.Target.Service, st.Target.Key, st.InboxSeq)
	}
	st.Phase = PhaseCompleted
	st.Result = &Result{Value: res.Value, Failure: res.Failure}
	st.Output = nil
	st.CompletedAt = now
	st.ModifiedAt = now
	st.WaitCompletions, st.WaitSignals, st.WaitNames = nil, nil, nil
	sinks := st.Sinks
	st.Sinks = nil
	if st.Retention > 0 {
		st.ExpiresAt = now + st.Retention
		t.putStatus(inv, st)
		_ = t.b.Set(expiryKey(p.id, st.ExpiresAt, inv), nil, nil)
	} else {
		t.deleteJournal(inv)
		t.deleteStatus(inv)
		if st.Target.HandlerType == HandlerWorkflow {
			p.dropWorkflowData(t, st.Target)
		}
	}
	out := p.resultOf(inv, st)
	for i := range sinks {
		if err := p.reply(t, &sinks[i], out); err != nil {
			return err
		}
	}
	if wasRunning && st.Target.Keyed() && st.Target.Exclusive() {
		holder, locked, err := t.lockHolder(st.Target.Service, st.Target.Key)
		if err != nil {
			return err
		}
		if locked && holder == inv {
			t.releaseLock(st.Target.Service, st.Target.Key)
			return p.startNextInboxed(t, st.Target.Service, st.Target.Key)
		}
	}
	return nil
}

// forget removes a completed invocation and what belongs to it.
func (p *Processor) forget(t *txn, inv ids.InvocationID, st *Status) {
	t.deleteStatus(inv)
	t.deleteJournal(inv)
	if st.ExpiresAt > 0 {
		_ = t.b.Delete(expiryKey(p.id, st.ExpiresAt, inv), nil)
	}
	if st.Target.HandlerType == HandlerWorkflow {
		p.dropWorkflowData(t, st.Target)
	}
}

// dropWorkflowData removes a finished workflow's state and promises.
func (p *Processor) dropWorkflowData(t *txn, tg Target) {
	t.clearAllState(tg.Service, tg.Key)
	prefix := promisePrefix(p.id, tg.Service, tg.Key)
	_ = t.b.DeleteRange(prefix, storage.TablePrefixEnd(prefix), nil)
}

func (p *Processor) startNextInboxed(t *txn, service, key string) error {
	for {
		next, ok, err := t.popInbox(service, key)
		if err != nil || !ok {
			return err
		}
		nst, err := t.status(next)
		if err != nil {
			return err
		}
		if nst == nil || nst.Phase != PhaseInboxed {
			continue
		}
		t.setLock(service, key, next)
		p.run(t, next, nst)
		return nil
	}
}

func (p *Processor) applySuspend(t *txn, r *Record) error {
	st, err := p.runningStatus(t, r.Inv)
	if err != nil || st == nil {
		return err
	}
	st.WaitCompletions, st.WaitSignals, st.WaitNames = r.WaitCompletions, r.WaitSignals, r.WaitNames
	// A notification may have been stored after the deployment last heard from us; if one it
	// waits for is already in the journal, resume at once instead of suspending.
	journal, err := t.journal(r.Inv, st.JournalLen)
	if err != nil {
		return err
	}
	for _, e := range journal {
		mt := wire.MessageType(e.Type)
		if !mt.IsNotification() {
			continue
		}
		var n wire.Notification
		if err := n.Unmarshal(e.Payload); err != nil {
			continue
		}
		if st.awaits(n.ID) {
			p.run(t, r.Inv, st)
			return nil
		}
	}
	st.Phase = PhaseSuspended
	st.ModifiedAt = r.CreatedAt
	t.putStatus(r.Inv, st)
	return nil
}

func (p *Processor) applyAttemptFailed(t *txn, r *Record) error {
	st, err := p.runningStatus(t, r.Inv)
	if err != nil || st == nil {
		return err
	}
	st.RetryCount++
	st.RetryCountSince++
	st.LastFailure = r.Failure
	st.LastFailureEntry = r.RelatedEntry
	st.NextRetryAt = r.NextRetryAt
	st.ModifiedAt = r.CreatedAt
	t.putStatus(r.Inv, st)
	return nil
}

func (p *Processor) applyTerminate(t *txn, r *Record) error {
	st, err := t.status(r.Inv)
	if err != nil || st == nil || st.Phase == PhaseCompleted {
		return err
	}
	f := r.Failure
	if f == nil {
		f = &Failure{Code: 409, Message: "killed"}
	}
	p.effect(func() { p.cfg.Effects.Abort(r.Inv) })
	return p.complete(t, r.Inv, st, Result{Failure: f}, r.CreatedAt)
}

func (p *Processor) applyPause(t *txn, r *Record) error {
	st, err := p.runningStatus(t, r.Inv)
	if err != nil || st == nil {
		return err
	}
	st.Phase = PhasePaused
	st.ModifiedAt = r.CreatedAt
	t.putStatus(r.Inv, st)
	return nil
}

func (p *Processor) applyTimerFired(t *txn, r *Record) error {
	tr, err := parseTimerKey(p.id, r.TimerKey)
	if err != nil {
		return nil
	}
	_, present, err := storage.GetCopy(t.b, tr.key)
	if err != nil || !present {
		return err // already fired
	}
	_ = t.b.Delete(tr.key, nil)
	st, err := t.status(tr.inv)
	if err != nil || st == nil {
		return err
	}
	switch tr.kind {
	case timerSleep:
		if st.Phase == PhaseCompleted {
			return nil
		}
		p.notify(t, tr.inv, st, wire.NewCompletion(wire.TypeSleepCompletion, tr.cid, wire.VoidResult()))
		t.putStatus(tr.inv, st)
	case timerSchedule:
		if st.Phase == PhaseScheduled {
			return p.schedule(t, tr.inv, st)
		}
	}
	return nil
}

func (p *Processor) applyCleanup(t *txn, r *Record) error {
	prefix := storage.TableKey(p.id, storage.TableExpiry)
	end := storage.TableKey(p.id, storage.TableExpiry, storage.BE64(uint64(r.CreatedAt)+1))
	it, err := t.b.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: end})
	if err != nil {
		return err
	}
	var keys [][]byte
	var invs []ids.InvocationID
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		id, err := ids.InvocationIDFromBytes(k[len(prefix)+8:])
		if err != nil {
			continue
		}
		keys = append(keys, append([]byte{}, k...))
		invs = append(invs, id)
	}
	if err := it.Close(); err != nil {
		return err
	}
	for i, k := range keys {
		_ = t.b.Delete(k, nil)
		st, err := t.status(invs[i])
		if err != nil {
			return err
		}
		if st != nil && st.Phase == PhaseCompleted && st.ExpiresAt <= r.CreatedAt {
			p.forget(t, invs[i], st)
		}
	}
	return nil
}
