package partition

import (
	"strconv"

	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/wire"
)

// Operations on invocations requested by operators (admin API) or other invocations.

func (p *Processor) applySignal(t *txn, r *Record) error {
	st, err := t.status(r.Inv)
	if err != nil || st == nil || !st.active() {
		return err
	}
	id := wire.SignalID(r.SignalID)
	if r.SignalName != "" {
		id = wire.NamedSignal(r.SignalName)
	}
	if done, err := p.hasNotification(t, r.Inv, st, id); err != nil || done {
		return err // an awakeable completes once
	}
	res := wire.ValueResult(r.Payload)
	switch {
	case r.Void:
		res = wire.VoidResult()
	case r.Failure != nil:
		res = r.Failure.Wire()
	}
	p.notify(t, r.Inv, st, wire.NewSignal(id, res))
	t.putStatus(r.Inv, st)
	return nil
}

func (p *Processor) applyCancel(t *txn, r *Record) error {
	st, err := p.operand(t, r, refuseCompleted)
	if err != nil || st == nil {
		return err
	}
	if st.Phase == PhaseInboxed || st.Phase == PhaseScheduled {
		if err := p.complete(t, r.Inv, st, Result{Failure: &Failure{Code: 409, Message: "canceled"}}, r.CreatedAt); err != nil {
			return err
		}
		return p.reply(t, r.Reply, Result{Status: ReplyDone, InvocationID: r.Inv})
	}
	// Running: the handler gets the cancel signal and decides how to unwind.
	cancel := wire.SignalID(wire.SignalCancel)
	done, err := p.hasNotification(t, r.Inv, st, cancel)
	if err != nil {
		return err
	}
	if !done {
		if st.Phase == PhasePaused {
			p.run(t, r.Inv, st)
		}
		p.notify(t, r.Inv, st, wire.NewSignal(cancel, wire.VoidResult()))
		t.putStatus(r.Inv, st)
	}
	return p.reply(t, r.Reply, Result{Status: ReplyAppended, InvocationID: r.Inv})
}

func (p *Processor) applyKill(t *txn, r *Record) error {
	st, err := p.operand(t, r, refuseCompleted)
	if err != nil || st == nil {
		return err
	}
	// Killing a call tree kills the calls still running in it.
	for _, child := range st.Children {
		if err := p.sendToInvocation(t, child, &Record{Kind: KindKill, Inv: child, CreatedAt: r.CreatedAt}); err != nil {
			return err
		}
	}
	p.effect(func() { p.cfg.Effects.Abort(r.Inv) })
	if err := p.complete(t, r.Inv, st, Result{Failure: &Failure{Code: 409, Message: "killed"}}, r.CreatedAt); err != nil {
		return err
	}
	return p.reply(t, r.Reply, Result{Status: ReplyDone, InvocationID: r.Inv})
}

func (p *Processor) applyAttach(t *txn, r *Record) error {
	st, err := t.status(r.Inv)
	if err != nil {
		return err
	}
	switch {
	case st == nil:
		return p.reply(t, r.Sink, Result{Status: ReplyNotFound, InvocationID: r.Inv})
	case st.Phase == PhaseCompleted && st.Result != nil:
		return p.reply(t, r.Sink, p.resultOf(r.Inv, st))
	case r.NoWait:
		return p.reply(t, r.Sink, Result{Status: ReplyNotReady, InvocationID: r.Inv})
	}
	if r.Sink != nil {
		st.Sinks = append(st.Sinks, *r.Sink)
		t.putStatus(r.Inv, st)
	}
	return nil
}

func (p *Processor) applyPurge(t *txn, r *Record) error {
	st, err := p.operand(t, r, refuseUnfinished)
	if err != nil || st == nil {
		return err
	}
	t.deleteJournal(r.Inv)
	if r.Kind == KindPurge {
		t.deleteStatus(r.Inv)
		if st.Target.HandlerType == HandlerWorkflow {
			p.dropWorkflowData(t, st.Target)
		}
	} else {
		st.JournalLen = 0
		t.putStatus(r.Inv, st)
	}
	return p.reply(t, r.Reply, Result{Status: ReplyDone, InvocationID: r.Inv})
}

func (p *Processor) applyResume(t *txn, r *Record) error {
	st, err := p.operand(t, r, refuseNotRunning)
	if err != nil || st == nil {
		return err
	}
	switch {
	case st.Phase == PhasePaused || st.Phase == PhaseSuspended:
		st.RetryCountSince = 0
		p.run(t, r.Inv, st)
	case st.Phase == PhaseInvoked:
		// Running or backing off: start an attempt now.
		p.effect(func() { p.cfg.Effects.Invoke(p, r.Inv) })
	}
	return p.reply(t, r.Reply, Result{Status: ReplyDone, InvocationID: r.Inv})
}

func (p *Processor) applyPauseRequest(t *txn, r *Record) error {
	st, err := p.operand(t, r, refuseNotRunning)
	if err != nil || st == nil {
		return err
	}
	switch {
	case st.Phase == PhaseInvoked:
		// A running attempt is stopped; the handler sees it as an aborted attempt.
		p.effect(func() { p.cfg.Effects.Abort(r.Inv) })
		st.Phase = PhasePaused
		st.ModifiedAt = r.CreatedAt
		t.putStatus(r.Inv, st)
		return p.reply(t, r.Reply, Result{Status: ReplyAppended, InvocationID: r.Inv})
	case st.Phase == PhaseSuspended:
		// Nothing runs while suspended; as in Restate, a completion arriving later still wakes
		// it, so pausing changes nothing now.
	}
	return p.reply(t, r.Reply, Result{Status: ReplyDone, InvocationID: r.Inv})
}

func (p *Processor) applyRestartAsNew(t *txn, r *Record) error {
	st, err := p.operand(t, r, refuseUnfinished)
	if err != nil || st == nil {
		return err
	}
	switch {
	case st.Target.HandlerType == HandlerWorkflow:
		return p.reply(t, r.Reply, Result{Status: ReplyWrongState, InvocationID: r.Inv})
	case st.JournalLen == 0:
		return p.reply(t, r.Reply, Result{Status: ReplyGone, InvocationID: r.Inv})
	}
	journal, err := t.journal(r.Inv, 1)
	if err != nil {
		return err
	}
	var input wire.InputCommand
	if len(journal) == 0 || input.Unmarshal(journal[0].Payload) != nil {
		return p.reply(t, r.Reply, Result{Status: ReplyGone, InvocationID: r.Inv})
	}
	newID := ids.DeterministicInvocationID(r.Inv.PartitionKey, "restart", r.Inv.String(), strconv.FormatInt(r.CreatedAt, 10), strconv.FormatUint(r.DedupSeq, 10))
	inv := &Record{Kind: KindInvoke, Inv: newID, Target: st.Target, Body: append([]byte{}, input.Value...),
		Retention: st.Retention, CreatedAt: r.CreatedAt}
	for _, h := range input.Headers {
		inv.Headers = append(inv.Headers, Header{Key: h.Key, Value: h.Value})
	}
	if err := p.applyInvoke(t, inv); err != nil {
		return err
	}
	return p.reply(t, r.Reply, Result{Status: ReplyDone, InvocationID: r.Inv, NewID: newID})
}

func (p *Processor) applySetState(t *txn, r *Record) error {
	t.clearAllState(r.Target.Service, r.Target.Key)
	for _, s := range r.State {
		t.setState(r.Target.Service, r.Target.Key, s.Key, s.Value)
	}
	return p.reply(t, r.Reply, Result{Status: ReplyDone})
}

// operand loads the invocation an operation is about. When refuse says the operation does not
// apply (or the invocation is unknown), it answers the requester and returns nil.
func (p *Processor) operand(t *txn, r *Record, refuse func(*Status) Reply) (*Status, error) {
	st, err := t.status(r.Inv)
	if err != nil {
		return nil, err
	}
	reason := ReplyNotFound
	if st != nil {
		reason = refuse(st)
	}
	if reason != ReplyResult {
		return nil, p.reply(t, r.Reply, Result{Status: reason, InvocationID: r.Inv})
	}
	return st, nil
}

// refuseCompleted refuses operations on completed invocations.
func refuseCompleted(st *Status) Reply {
	if st.Phase == PhaseCompleted {
		return ReplyCompleted
	}
	return ReplyResult
}

// refuseNotRunning refuses operations on invocations that ended or never started.
func refuseNotRunning(st *Status) Reply {
	if st.Phase == PhaseInboxed || st.Phase == PhaseScheduled {
		return ReplyWrongState
	}
	return refuseCompleted(st)
}

// refuseUnfinished refuses operations on invocations that have not completed.
func refuseUnfinished(st *Status) Reply {
	if st.Phase != PhaseCompleted {
		return ReplyNotCompleted
	}
	return ReplyResult
}
