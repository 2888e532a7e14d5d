package partition

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/restatego/restate/internal/codec"
	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/storage"
	"github.com/restatego/restate/internal/wire"
)

func malformed(typ wire.MessageType, err error) *Failure {
	return &Failure{Code: wire.CodeProtocolViolation, Message: fmt.Sprintf("malformed %s command: %v", typ, err)}
}

// applyCommand performs the side effect of a stored command and appends any notification it
// produces right away. It returns a failure when the command is not allowed.
func (p *Processor) applyCommand(t *txn, r *Record, st *Status, typ wire.MessageType, index uint32) (*Failure, error) {
	tg := st.Target
	cmd, err := wire.DecodeCommand(typ, r.Payload)
	if err != nil {
		if typ.IsCustomEntry() {
			return nil, nil
		}
		return malformed(typ, err), nil
	}
	switch c := cmd.(type) {
	case *wire.OutputCommand:
		res := &Result{Value: append([]byte{}, c.Value...)}
		if c.Kind == wire.ResultFailure && c.Failure != nil {
			res = &Result{Failure: FailureFromWire(c.Failure)}
		}
		st.Output = res

	case *wire.GetLazyStateCommand:
		if !tg.Keyed() {
			return &Failure{Code: 400, Message: "state is only available to virtual objects and workflows"}, nil
		}
		v, ok, err := t.stateValue(tg.Service, tg.Key, c.Key)
		if err != nil {
			return nil, err
		}
		res := wire.VoidResult()
		if ok {
			res = wire.ValueResult(v)
		}
		p.notify(t, r.Inv, st, wire.NewCompletion(wire.TypeGetLazyStateCompletion, c.ResultCompletionID, res))

	case *wire.GetLazyStateKeysCommand:
		if !tg.Keyed() {
			return &Failure{Code: 400, Message: "state is only available to virtual objects and workflows"}, nil
		}
		entries, err := t.state(tg.Service, tg.Key)
		if err != nil {
			return nil, err
		}
		keys := make([][]byte, 0, len(entries))
		for _, e := range entries {
			keys = append(keys, e.Key)
		}
		p.notify(t, r.Inv, st, wire.NewCompletion(wire.TypeGetLazyStateKeysCompletion, c.ResultCompletionID, wire.StateKeysResult(keys)))

	case *wire.SetStateCommand, *wire.ClearStateCommand, *wire.ClearAllStateCommand:
		if !tg.Keyed() || !tg.Exclusive() {
			return &Failure{Code: 400, Message: fmt.Sprintf("handler %s cannot write state: only exclusive handlers of virtual objects and workflow run handlers can", tg)}, nil
		}
		switch c := c.(type) {
		case *wire.SetStateCommand:
			t.setState(tg.Service, tg.Key, c.Key, c.Value)
		case *wire.ClearStateCommand:
			t.clearState(tg.Service, tg.Key, c.Key)
		default:
			t.clearAllState(tg.Service, tg.Key)
		}

	case *wire.SleepCommand:
		p.putTimer(t, timerRef{wakeMs: int64(c.WakeUpTime), inv: r.Inv, kind: timerSleep, cid: c.ResultCompletionID})

	case *wire.CallCommand:
		return p.applyCall(t, r, st, index, c.ServiceName, c.Key, c.IdempotencyKey, c.Headers, c.Parameter,
			c.InvocationIDNotificationIdx, c.ResultCompletionID, true, 0)

	case *wire.OneWayCallCommand:
		return p.applyCall(t, r, st, index, c.ServiceName, c.Key, c.IdempotencyKey, c.Headers, c.Parameter,
			c.InvocationIDNotificationIdx, 0, false, int64(c.InvokeTime))

	case *wire.SendSignalCommand:
		target, err := ids.ParseInvocationID(c.TargetInvocationID)
		if err != nil {
			return &Failure{Code: 400, Message: fmt.Sprintf("bad target invocation id %q: %v", c.TargetInvocationID, err)}, nil
		}
		if c.Signal.Kind == wire.IDSignal && c.Signal.ID == wire.SignalCancel {
			return nil, p.sendToInvocation(t, target, &Record{Kind: KindCancel, Inv: target, CreatedAt: r.CreatedAt})
		}
		sig := &Record{Kind: KindSignal, Inv: target, CreatedAt: r.CreatedAt}
		if c.Signal.Kind == wire.IDSignalName {
			sig.SignalName = c.Signal.Name
		} else {
			sig.SignalID = c.Signal.ID
		}
		setRecordResult(sig, c.Result)
		return nil, p.sendToInvocation(t, target, sig)

	case *wire.CompleteAwakeableCommand:
		target, idx, legacy, err := ids.ParseAwakeableID(c.AwakeableID)
		if err != nil {
			return &Failure{Code: 400, Message: fmt.Sprintf("bad awakeable id %q: %v", c.AwakeableID, err)}, nil
		}
		if legacy {
			return &Failure{Code: 400, Message: "legacy awakeable ids (prom_1…) are not supported"}, nil
		}
		sig := &Record{Kind: KindSignal, Inv: target, SignalID: idx, CreatedAt: r.CreatedAt}
		setRecordResult(sig, c.Result)
		return nil, p.sendToInvocation(t, target, sig)

	case *wire.AttachInvocationCommand:
		return p.applyAttachCommand(t, r, c.Target, c.ResultCompletionID, wire.TypeAttachInvocationCompletion, false)

	case *wire.GetInvocationOutputCommand:
		return p.applyAttachCommand(t, r, c.Target, c.ResultCompletionID, wire.TypeGetInvocationOutputCompletion, true)

	case *wire.GetPromiseCommand:
		return p.applyGetPromise(t, r, st, c.Key, c.ResultCompletionID, false)

	case *wire.PeekPromiseCommand:
		return p.applyGetPromise(t, r, st, c.Key, c.ResultCompletionID, true)

	case *wire.CompletePromiseCommand:
		return p.applyCompletePromise(t, r, st, c)

	case *wire.GetEagerStateCommand, *wire.GetEagerStateKeysCommand, *wire.RunCommand:
		// Results are inline (eager state) or arrive later (run).

	default:
		if !typ.IsCustomEntry() {
			return &Failure{Code: 501, Message: fmt.Sprintf("%s is not supported by this server yet", typ)}, nil
		}
	}
	return nil, nil
}

func setRecordResult(r *Record, res wire.Result) {
	switch res.Kind {
	case wire.ResultFailure:
		if res.Failure != nil {
			r.Failure = FailureFromWire(res.Failure)
		}
	case wire.ResultValue:
		r.Payload = append([]byte{}, res.Value...)
	default:
		r.Void = true
	}
}

// childID derives the id of an invocation created by a command: deterministic, so that every
// replica and every replay creates the same one.
func childID(parent ids.InvocationID, index uint32, callee Target, idemKey string) ids.InvocationID {
	seed := ids.DeterministicInvocationID(0, "child", parent.String(), strconv.FormatUint(uint64(index), 10))
	var pk uint64
	switch {
	case callee.Keyed():
		pk = ids.PartitionKeyForKey(callee.Key)
	case idemKey != "":
		pk = ids.PartitionKeyForKey(idemKey)
	default:
		pk = binary.BigEndian.Uint64(seed.UUID[:8])
	}
	switch {
	case callee.HandlerType == HandlerWorkflow:
		return ids.WorkflowRunID(pk, "", callee.Service, callee.Key)
	case idemKey != "":
		return ids.IdempotentRequestID(pk, "", callee.Service, callee.Key, callee.Keyed(), callee.Handler, idemKey)
	}
	seed.PartitionKey = pk
	return seed
}

func (p *Processor) applyCall(t *txn, r *Record, st *Status, index uint32, service, key, idemKey string, headers []wire.Header,
	param []byte, idNotification, resultCompletion uint32, wait bool, invokeAt int64) (*Failure, error) {
	if r.Callee == nil {
		f := r.Failure
		if f == nil {
			f = &Failure{Code: 404, Message: fmt.Sprintf("service '%s' not found", service)}
		}
		// The callee does not exist: fail the call itself, like a call to a failing handler.
		if idNotification != 0 {
			p.notify(t, r.Inv, st, wire.NewCompletion(wire.TypeCallInvocationIDCompletion, idNotification, f.Wire()))
		}
		if wait {
			p.notify(t, r.Inv, st, wire.NewCompletion(wire.TypeCallCompletion, resultCompletion, f.Wire()))
		}
		return nil, nil
	}
	callee := *r.Callee
	callee.Key = key
	child := childID(r.Inv, index, callee, idemKey)
	if idNotification != 0 {
		p.notify(t, r.Inv, st, wire.NewCompletion(wire.TypeCallInvocationIDCompletion, idNotification, wire.InvocationIDResult(child.String())))
	}
	inv := &Record{Kind: KindInvoke, Inv: child, Target: callee, Body: append([]byte{}, param...),
		IdempotencyKey: idemKey, Retention: r.CalleeRetention, CreatedAt: r.CreatedAt, InvokedBy: r.Inv}
	for _, h := range headers {
		inv.Headers = append(inv.Headers, Header{Key: h.Key, Value: h.Value})
	}
	if wait {
		inv.Sink = &Sink{Kind: SinkInvocation, Caller: r.Inv, CompletionID: resultCompletion, NotifyType: uint16(wire.TypeCallCompletion)}
		st.Children = append(st.Children, child)
	}
	if invokeAt > r.CreatedAt {
		inv.ExecuteAt = invokeAt
	}
	return nil, p.sendToInvocation(t, child, inv)
}

func (p *Processor) applyAttachCommand(t *txn, r *Record, target wire.InvocationTarget, cid uint32, notify wire.MessageType, noWait bool) (*Failure, error) {
	var inv ids.InvocationID
	switch target.Kind {
	case wire.TargetInvocationID:
		id, err := ids.ParseInvocationID(target.InvocationID)
		if err != nil {
			return &Failure{Code: 400, Message: fmt.Sprintf("bad invocation id %q: %v", target.InvocationID, err)}, nil
		}
		inv = id
	case wire.TargetIdempotentRequest:
		it := target.IdempotentRequest
		pk := ids.PartitionKeyForKey(it.IdempotencyKey)
		if it.HasServiceKey {
			pk = ids.PartitionKeyForKey(it.ServiceKey)
		}
		inv = ids.IdempotentRequestID(pk, "", it.ServiceName, it.ServiceKey, it.HasServiceKey, it.HandlerName, it.IdempotencyKey)
	case wire.TargetWorkflow:
		w := target.Workflow
		inv = ids.WorkflowRunID(ids.PartitionKeyForKey(w.WorkflowKey), "", w.WorkflowName, w.WorkflowKey)
	default:
		return &Failure{Code: 400, Message: "attach without a target"}, nil
	}
	return nil, p.sendToInvocation(t, inv, &Record{Kind: KindAttach, Inv: inv, NoWait: noWait, CreatedAt: r.CreatedAt,
		Sink: &Sink{Kind: SinkInvocation, Caller: r.Inv, CompletionID: cid, NotifyType: uint16(notify)}})
}

// ---- durable promises (workflows) ----

const promiseFormat = 1

type promise struct {
	completed bool
	result    Result
	listeners []promiseListener
}

type promiseListener struct {
	inv ids.InvocationID
	cid uint32
}

func promisePrefix(p uint16, service, key string) []byte {
	return storage.ObjectPrefix(p, storage.TablePromise, service, key)
}

func (t *txn) promise(service, key, name string) (*promise, error) {
	v, ok, err := storage.GetCopy(t.b, append(promisePrefix(t.p, service, key), name...))
	if err != nil || !ok {
		return &promise{}, err
	}
	d := codec.NewDecoder(v)
	if f := d.Byte(); f != promiseFormat {
		return nil, fmt.Errorf("partition: unknown promise format %d", f)
	}
	pr := &promise{completed: d.Bool()}
	if r := decodeResult(d); r != nil {
		pr.result = *r
	}
	n := d.Uvarint()
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		raw := d.Raw(24)
		cid := uint32(d.Uvarint())
		if raw != nil {
			id, err := ids.InvocationIDFromBytes(raw)
			if err != nil {
				return nil, err
			}
			pr.listeners = append(pr.listeners, promiseListener{id, cid})
		}
	}
	return pr, d.Err()
}

func (t *txn) putPromise(service, key, name string, pr *promise) {
	e := codec.Encoder{}
	e.Byte(promiseFormat)
	e.Bool(pr.completed)
	encodeResult(&e, &pr.result)
	e.Uvarint(uint64(len(pr.listeners)))
	for _, l := range pr.listeners {
		b := l.inv.Bytes()
		e.Raw(b[:])
		e.Uvarint(uint64(l.cid))
	}
	_ = t.b.Set(append(promisePrefix(t.p, service, key), name...), e.Buf, nil)
}

func promiseResult(r Result) wire.Result {
	if r.Failure != nil {
		return r.Failure.Wire()
	}
	return wire.ValueResult(r.Value)
}

func (p *Processor) applyGetPromise(t *txn, r *Record, st *Status, name string, cid uint32, peek bool) (*Failure, error) {
	tg := st.Target
	if tg.ServiceType != ServiceWorkflow {
		return &Failure{Code: 400, Message: "durable promises are only available to workflows"}, nil
	}
	pr, err := t.promise(tg.Service, tg.Key, name)
	if err != nil {
		return nil, err
	}
	typ := wire.TypeGetPromiseCompletion
	if peek {
		typ = wire.TypePeekPromiseCompletion
	}
	switch {
	case pr.completed:
		p.notify(t, r.Inv, st, wire.NewCompletion(typ, cid, promiseResult(pr.result)))
	case peek:
		p.notify(t, r.Inv, st, wire.NewCompletion(typ, cid, wire.VoidResult()))
	default:
		pr.listeners = append(pr.listeners, promiseListener{r.Inv, cid})
		t.putPromise(tg.Service, tg.Key, name, pr)
	}
	return nil, nil
}

func (p *Processor) applyCompletePromise(t *txn, r *Record, st *Status, c *wire.CompletePromiseCommand) (*Failure, error) {
	tg := st.Target
	if tg.ServiceType != ServiceWorkflow {
		return &Failure{Code: 400, Message: "durable promises are only available to workflows"}, nil
	}
	pr, err := t.promise(tg.Service, tg.Key, c.Key)
	if err != nil {
		return nil, err
	}
	if pr.completed {
		p.notify(t, r.Inv, st, wire.NewCompletion(wire.TypeCompletePromiseCompletion, c.ResultCompletionID,
			wire.FailureResult(409, "promise was already completed")))
		return nil, nil
	}
	pr.completed = true
	pr.result = Result{Value: append([]byte{}, c.Value...)}
	if c.Kind == wire.ResultFailure && c.Failure != nil {
		pr.result = Result{Failure: FailureFromWire(c.Failure)}
	}
	listeners := pr.listeners
	pr.listeners = nil
	t.putPromise(tg.Service, tg.Key, c.Key, pr)
	for _, l := range listeners {
		n := wire.NewCompletion(wire.TypeGetPromiseCompletion, l.cid, promiseResult(pr.result))
		if l.inv == r.Inv {
			p.notify(t, r.Inv, st, n)
			continue
		}
		lst, err := t.status(l.inv)
		if err != nil {
			return nil, err
		}
		if lst == nil || !lst.active() {
			continue
		}
		p.notify(t, l.inv, lst, n)
		t.putStatus(l.inv, lst)
	}
	p.notify(t, r.Inv, st, wire.NewCompletion(wire.TypeCompletePromiseCompletion, c.ResultCompletionID, wire.VoidResult()))
	return nil, nil
}
