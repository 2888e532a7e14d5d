// Package tracing emits Restate's OpenTelemetry "services" spans: one span when the ingress
// accepts an invocation, an anchor span for the invocation, one span per attempt (with an event
// per journal command) and one when the invocation ends. Names, attributes and parenting follow
// Restate 1.7 so that dashboards and Jaeger queries written for Restate keep working.
//
// Nothing is recorded unless an exporter is configured: Current returns a disabled Tracer
// whose methods return at once, without allocating.
package tracing

import (
	"context"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/restatego/restate/internal/partition"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Attribute and event names, as Restate's tracing instrumentation spells them.
const (
	AttrInvocationID     = "restate.invocation.id"
	AttrInvocationTarget = "restate.invocation.target"
	AttrInvocationResult = "restate.invocation.result"
	AttrErrorCode        = "restate.invocation.error.code"
	AttrCommandType      = "restate.journal.command.type"
	AttrCommandName      = "restate.journal.command.name"
	AttrDeploymentID     = "restate.deployment.id"
	AttrDeploymentAddr   = "restate.deployment.address"
	AttrProtocolVersion  = "restate.deployment.service_protocol_version"
	AttrRPCService       = "rpc.service"
	AttrRPCMethod        = "rpc.method"
	AttrRPCSystem        = "rpc.system"
	AttrErrorMessage     = "error.message"

	EventNewCommand = "restate.invocation.lifecycle.new_command"
	EventSuspended  = "restate.invocation.lifecycle.suspended"

	// ScopeName is the instrumentation scope of the services spans.
	ScopeName = "services"
)

// Target names what an invocation calls.
type Target struct {
	Service, Handler, Key string
	Keyed                 bool // virtual object or workflow
}

// short is Restate's span-name form of a target: the key is never in a span name, so that
// names stay few.
func (t Target) short() string {
	if t.Keyed {
		return t.Service + "/{key}/" + t.Handler
	}
	return t.Service + "/" + t.Handler
}

// String is the full target, as restate.invocation.target shows it.
func (t Target) String() string {
	if t.Keyed {
		return t.Service + "/" + t.Key + "/" + t.Handler
	}
	return t.Service + "/" + t.Handler
}

func (t Target) attrs(inv string) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String(AttrRPCService, t.Service),
		attribute.String(AttrRPCMethod, t.Handler),
		attribute.String(AttrInvocationID, inv),
		attribute.String(AttrInvocationTarget, t.String()),
	}
}

// Tracer creates the services spans. The zero value and nil are disabled.
type Tracer struct {
	t trace.Tracer
}

// New returns a Tracer recording through tp (tests pass an SDK provider with an in-memory
// exporter). A nil tp gives a disabled Tracer.
func New(tp trace.TracerProvider) *Tracer {
	if tp == nil {
		return &Tracer{}
	}
	return &Tracer{t: tp.Tracer(ScopeName)}
}

var (
	current  atomic.Pointer[Tracer]
	disabled = &Tracer{}
)

// Install makes t the Tracer that Current returns (nil: disabled again).
func Install(t *Tracer) {
	current.Store(t)
}

// Current is the process's Tracer; disabled unless Install was called.
func Current() *Tracer {
	if t := current.Load(); t != nil {
		return t
	}
	return disabled
}

// Enabled reports whether spans are recorded.
func (t *Tracer) Enabled() bool { return t != nil && t.t != nil }

var propagator = propagation.TraceContext{}

// Ingress records that the ingress accepted an invocation: an "ingress" span, a child of the
// caller's W3C traceparent when the request carried a valid one, and the invocation's anchor
// span ("invocation-start"), a child of the ingress span. Both end at once, as in Restate.
// It returns the traceparent (and tracestate) that identify the anchor span: the caller
// stores them with the invocation so that every attempt becomes the anchor's child.
// A disabled Tracer returns empty strings.
func (t *Tracer) Ingress(h http.Header, remoteAddr, inv string, target Target, created time.Time) (traceparent, tracestate string) {
	if !t.Enabled() {
		return "", ""
	}
	parent := propagator.Extract(context.Background(), propagation.HeaderCarrier(h))
	attrs := target.attrs(inv)
	if host, port, err := net.SplitHostPort(remoteAddr); err == nil {
		attrs = append(attrs, attribute.String("client.socket.address", host))
		if p, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, attribute.Int("client.socket.port", p))
		}
	} else if remoteAddr != "" {
		attrs = append(attrs, attribute.String("client.socket.address", remoteAddr))
	}
	ctx, ingress := t.t.Start(parent, "ingress "+target.short(), trace.WithAttributes(attrs...))
	ingress.End()
	ctx, start := t.t.Start(ctx, "invocation-start "+target.short(),
		trace.WithTimestamp(created), trace.WithAttributes(target.attrs(inv)...))
	start.End()
	carrier := propagation.MapCarrier{}
	propagator.Inject(ctx, carrier)
	return carrier["traceparent"], carrier["tracestate"]
}

// contextOf turns a stored traceparent/tracestate back into a parent context.
func contextOf(traceparent, tracestate string) context.Context {
	if traceparent == "" {
		return context.Background()
	}
	c := propagation.MapCarrier{"traceparent": traceparent}
	if tracestate != "" {
		c["tracestate"] = tracestate
	}
	return propagator.Extract(context.Background(), c)
}

// Deployment describes where an attempt runs.
type Deployment struct {
	ID, Address     string
	ProtocolVersion int
}

// Attempt is the span of one attempt to run an invocation on a deployment.
type Attempt struct {
	span trace.Span
	ctx  context.Context
}

// StartAttempt opens an "invocation-attempt" span, a child of the invocation's anchor span
// (given by the traceparent stored at the ingress; none starts a new trace). A disabled Tracer
// returns nil, and every Attempt method accepts nil.
func (t *Tracer) StartAttempt(traceparent, tracestate, inv string, target Target, dep Deployment) *Attempt {
	if !t.Enabled() {
		return nil
	}
	attrs := append(target.attrs(inv),
		attribute.String(AttrRPCSystem, "restate"),
		attribute.String(AttrDeploymentID, dep.ID),
		attribute.String(AttrDeploymentAddr, dep.Address),
		attribute.Int(AttrProtocolVersion, dep.ProtocolVersion))
	ctx, span := t.t.Start(contextOf(traceparent, tracestate), "invocation-attempt "+target.short(),
		trace.WithAttributes(attrs...))
	return &Attempt{span: span, ctx: ctx}
}

// SetHeaders puts the attempt span's traceparent (and tracestate) on the request to the
// deployment, so that the SDK's spans become the attempt's children.
func (a *Attempt) SetHeaders(h http.Header) {
	if a == nil {
		return
	}
	propagator.Inject(a.ctx, propagation.HeaderCarrier(h))
}

// Command records a journal command the deployment proposed.
func (a *Attempt) Command(typ, name string) {
	if a == nil {
		return
	}
	attrs := []attribute.KeyValue{attribute.String(AttrCommandType, typ)}
	if name != "" {
		attrs = append(attrs, attribute.String(AttrCommandName, name))
	}
	a.span.AddEvent(EventNewCommand, trace.WithAttributes(attrs...))
}

// Suspended records that the invocation suspended in this attempt.
func (a *Attempt) Suspended() {
	if a == nil {
		return
	}
	a.span.AddEvent(EventSuspended)
}

// End closes the attempt span; a non-empty failure marks it as an error.
func (a *Attempt) End(failure string) {
	if a == nil {
		return
	}
	if failure != "" {
		a.span.SetStatus(codes.Error, failure)
		a.span.SetAttributes(attribute.String(AttrErrorMessage, failure))
	} else {
		a.span.SetStatus(codes.Ok, "")
	}
	a.span.End()
}

// InvocationEnd records the end of an invocation: an "invocation-end" span, a child of the
// anchor span, with restate.invocation.result "success" or "failure".
func (t *Tracer) InvocationEnd(traceparent, tracestate, inv string, target Target, failure string, code uint32) {
	if !t.Enabled() {
		return
	}
	_, span := t.t.Start(contextOf(traceparent, tracestate), "invocation-end "+target.short(),
		trace.WithAttributes(target.attrs(inv)...))
	if failure != "" {
		span.SetAttributes(attribute.String(AttrInvocationResult, "failure"),
			attribute.String(AttrErrorMessage, failure),
			attribute.String(AttrErrorCode, strconv.FormatUint(uint64(code), 10)))
		span.SetStatus(codes.Error, failure)
	} else {
		span.SetAttributes(attribute.String(AttrInvocationResult, "success"))
		span.SetStatus(codes.Ok, "")
	}
	span.End()
}

// SetTraceHeaders replaces the traceparent and tracestate among an invocation's stored headers
// (kept sorted by key) with the invocation's own span context.
func SetTraceHeaders(hs []partition.Header, traceparent, tracestate string) []partition.Header {
	out := hs[:0:0]
	for _, h := range hs {
		if h.Key != "traceparent" && h.Key != "tracestate" {
			out = append(out, h)
		}
	}
	out = append(out, partition.Header{Key: "traceparent", Value: traceparent})
	if tracestate != "" {
		out = append(out, partition.Header{Key: "tracestate", Value: tracestate})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
