package invoker

import (
	"github.com/restatego/restate/internal/partition"
	"github.com/restatego/restate/internal/tracing"
	"github.com/restatego/restate/internal/wire"
)

// This file holds the invoker's tracing hooks; they run only when tracing is configured.

func traceTarget(t partition.Target) tracing.Target {
	return tracing.Target{Service: t.Service, Handler: t.Handler, Key: t.Key, Keyed: t.Keyed()}
}

// traceContext reads the invocation's span context from the headers of its input command,
// where the ingress stored it (traceparent and tracestate).
func traceContext(in *partition.Invocation) (traceparent, tracestate string) {
	if len(in.Journal) == 0 || wire.MessageType(in.Journal[0].Type) != wire.TypeInputCommand {
		return "", ""
	}
	var c wire.InputCommand
	if c.Unmarshal(in.Journal[0].Payload) != nil {
		return "", ""
	}
	for _, h := range c.Headers {
		switch h.Key {
		case "traceparent":
			traceparent = h.Value
		case "tracestate":
			tracestate = h.Value
		}
	}
	return traceparent, tracestate
}

// traceCommand adds a journal command to the attempt span, with Restate's type label
// ("Command/SetState") and the command's name when the SDK gave one.
func (a *attempt) traceCommand(mt wire.MessageType, payload []byte) {
	typ := "Command/" + mt.String()
	if mt.IsCustomEntry() {
		typ = mt.String()
	}
	name := ""
	if c, err := wire.DecodeCommand(mt, payload); err == nil && c != nil {
		name = c.CommandName()
		if o, ok := c.(*wire.OutputCommand); ok && o.Failure != nil {
			a.outputFailure = o.Failure
		}
	}
	a.span.Command(typ, name)
}

// traceOutcome ends the attempt span and, when the attempt ended the invocation, records the
// invocation-end span.
func (t *task) traceOutcome(tr *tracing.Tracer, in *partition.Invocation, a *attempt, out outcome) {
	switch out.kind {
	case outcomeFailed:
		a.span.End(out.failure.Message)
	case outcomeSuspended:
		a.span.Suspended()
		a.span.End("")
	default:
		a.span.End("")
	}
	if out.kind == outcomeEnded {
		failure, code := "", uint32(0)
		if f := a.outputFailure; f != nil {
			failure, code = f.Message, f.Code
		}
		tr.InvocationEnd(t.traceParent, t.traceState, t.inv.String(), traceTarget(in.Status.Target), failure, code)
	}
}

// traceFailedEnd records the invocation-end span of an invocation the retry policy ended with
// a failure.
func (t *task) traceFailedEnd(st *partition.Status, f partition.Failure) {
	if tr := tracing.Current(); tr.Enabled() {
		tr.InvocationEnd(t.traceParent, t.traceState, t.inv.String(), traceTarget(st.Target), f.Message, f.Code)
	}
}
