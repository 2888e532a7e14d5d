package tracing

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restatego/restate/internal/partition"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func newRecorder() (*Tracer, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	return New(tp), exp
}

func attrs(s tracetest.SpanStub) map[string]attribute.Value {
	m := map[string]attribute.Value{}
	for _, kv := range s.Attributes {
		m[string(kv.Key)] = kv.Value
	}
	return m
}

func byName(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no span %q among %v", name, names(spans))
	return tracetest.SpanStub{}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

const clientParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

// The whole life of a traced invocation: the ingress span is the child of the caller's
// traceparent, the anchor of the ingress span, the attempt and the end of the anchor; the
// deployment gets the attempt's traceparent; commands become events.
func TestSpansOfAnInvocation(t *testing.T) {
	tr, exp := newRecorder()
	target := Target{Service: "Counter", Handler: "add", Key: "k1", Keyed: true}
	h := http.Header{}
	h.Set("traceparent", clientParent)
	created := time.Now().Add(-time.Second)
	tp, _ := tr.Ingress(h, "10.1.2.3:4567", "inv_1", target, created)
	if !strings.HasPrefix(tp, "00-0af7651916cd43dd8448eb211c80319c-") {
		t.Fatalf("stored traceparent %q is not in the caller's trace", tp)
	}
	a := tr.StartAttempt(tp, "", "inv_1", target, Deployment{ID: "dp_1", Address: "http://svc:9080", ProtocolVersion: 5})
	req := http.Header{}
	a.SetHeaders(req)
	a.Command("Command/SetState", "")
	a.Command("Command/Run", "charge")
	a.End("")
	tr.InvocationEnd(tp, "", "inv_1", target, "", 0)

	spans := exp.GetSpans()
	if len(spans) != 4 {
		t.Fatalf("spans %v", names(spans))
	}
	ingress := byName(t, spans, "ingress Counter/{key}/add")
	start := byName(t, spans, "invocation-start Counter/{key}/add")
	attempt := byName(t, spans, "invocation-attempt Counter/{key}/add")
	end := byName(t, spans, "invocation-end Counter/{key}/add")

	if got := ingress.Parent.SpanID().String(); got != "b7ad6b7169203331" || ingress.SpanContext.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" {
		t.Fatalf("ingress parent %s in trace %s", got, ingress.SpanContext.TraceID())
	}
	if start.Parent.SpanID() != ingress.SpanContext.SpanID() || !start.StartTime.Equal(created) {
		t.Fatalf("invocation-start parent %s start %v", start.Parent.SpanID(), start.StartTime)
	}
	if attempt.Parent.SpanID() != start.SpanContext.SpanID() || end.Parent.SpanID() != start.SpanContext.SpanID() {
		t.Fatal("attempt and end must be children of invocation-start")
	}
	for _, s := range []tracetest.SpanStub{ingress, start, attempt, end} {
		m := attrs(s)
		if m[AttrInvocationID].AsString() != "inv_1" || m[AttrRPCService].AsString() != "Counter" ||
			m[AttrRPCMethod].AsString() != "add" || m[AttrInvocationTarget].AsString() != "Counter/k1/add" {
			t.Errorf("%s attributes %v", s.Name, s.Attributes)
		}
		if s.InstrumentationScope.Name != ScopeName {
			t.Errorf("%s scope %q", s.Name, s.InstrumentationScope.Name)
		}
	}
	if m := attrs(ingress); m["client.socket.address"].AsString() != "10.1.2.3" || m["client.socket.port"].AsInt64() != 4567 {
		t.Errorf("ingress client attributes %v", ingress.Attributes)
	}
	if m := attrs(attempt); m[AttrDeploymentID].AsString() != "dp_1" || m[AttrProtocolVersion].AsInt64() != 5 || m[AttrRPCSystem].AsString() != "restate" {
		t.Errorf("attempt attributes %v", attempt.Attributes)
	}
	if m := attrs(end); m[AttrInvocationResult].AsString() != "success" {
		t.Errorf("end attributes %v", end.Attributes)
	}
	want := "00-" + attempt.SpanContext.TraceID().String() + "-" + attempt.SpanContext.SpanID().String() + "-01"
	if got := req.Get("traceparent"); got != want {
		t.Fatalf("deployment traceparent %q, want %q", got, want)
	}
	if len(attempt.Events) != 2 || attempt.Events[0].Name != EventNewCommand {
		t.Fatalf("attempt events %+v", attempt.Events)
	}
	ev := attempt.Events[1].Attributes
	if len(ev) != 2 || ev[0].Value.AsString() != "Command/Run" || ev[1].Value.AsString() != "charge" {
		t.Fatalf("command event attributes %v", ev)
	}
}

func TestNoCallerTraceAndFailures(t *testing.T) {
	tr, exp := newRecorder()
	target := Target{Service: "Greeter", Handler: "greet"}
	tp, _ := tr.Ingress(http.Header{"Traceparent": {"garbage"}}, "", "inv_2", target, time.Now())
	a := tr.StartAttempt(tp, "", "inv_2", target, Deployment{})
	a.End("boom")
	tr.InvocationEnd(tp, "", "inv_2", target, "terminal", 409)
	spans := exp.GetSpans()
	ingress := byName(t, spans, "ingress Greeter/greet")
	if ingress.Parent.IsValid() {
		t.Fatal("an invalid traceparent must not become a parent")
	}
	if s := byName(t, spans, "invocation-attempt Greeter/greet"); s.Status.Description != "boom" {
		t.Fatalf("attempt status %+v", s.Status)
	}
	end := attrs(byName(t, spans, "invocation-end Greeter/greet"))
	if end[AttrInvocationResult].AsString() != "failure" || end[AttrErrorCode].AsString() != "409" {
		t.Fatalf("end attributes %v", end)
	}
	// An attempt without a stored context starts its own trace.
	root := tr.StartAttempt("", "", "inv_3", target, Deployment{})
	root.End("")
	for _, s := range exp.GetSpans() {
		if attrs(s)[AttrInvocationID].AsString() == "inv_3" && (s.Parent.IsValid() || s.SpanContext.TraceID() == ingress.SpanContext.TraceID()) {
			t.Fatalf("attempt without a stored context has parent %v", s.Parent)
		}
	}
}

// A disabled Tracer records nothing, and its nil Attempt accepts every call.
func TestDisabled(t *testing.T) {
	var tr *Tracer
	for _, d := range []*Tracer{tr, New(nil), Current()} {
		if d.Enabled() {
			t.Fatal("enabled")
		}
		tp, ts := d.Ingress(http.Header{}, "", "i", Target{}, time.Now())
		a := d.StartAttempt(tp, ts, "i", Target{}, Deployment{})
		h := http.Header{}
		a.SetHeaders(h)
		a.Command("x", "y")
		a.Suspended()
		a.End("e")
		d.InvocationEnd("", "", "i", Target{}, "", 0)
		if tp != "" || a != nil || len(h) != 0 {
			t.Fatalf("disabled tracer produced %q %v %v", tp, a, h)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		Current().StartAttempt("", "", "i", Target{}, Deployment{}).End("")
	}); n != 0 {
		t.Fatalf("disabled tracing allocates %v times per attempt", n)
	}
}

func TestSetTraceHeaders(t *testing.T) {
	in := []partition.Header{{Key: "accept", Value: "a"}, {Key: "traceparent", Value: "old"}, {Key: "x", Value: "y"}}
	got := SetTraceHeaders(in, "new", "st=1")
	want := []partition.Header{{Key: "accept", Value: "a"}, {Key: "traceparent", Value: "new"}, {Key: "tracestate", Value: "st=1"}, {Key: "x", Value: "y"}}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v, want %v", got, want)
		}
	}
	if in[1].Value != "old" {
		t.Fatal("input modified")
	}
}

func TestParseEndpoint(t *testing.T) {
	for ep, grpc := range map[string]bool{"http://c:4317": true, "https://c:4317": true, "grpc://c:4317": true,
		"otlp+http://c:4318": false, "otlp+https://c:4318/x": false, "http+otlp://c:4318": false} {
		_, g, err := ParseEndpoint(ep)
		if err != nil || g != grpc {
			t.Errorf("%s: grpc=%v err=%v", ep, g, err)
		}
	}
	for _, bad := range []string{"", "c:4317", "ftp://c", "otlp+json+http://c:4318", "http://"} {
		if _, _, err := ParseEndpoint(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// tracing-json-path: each batch is a Jaeger JSON file named trace-*.json in the directory.
func TestJSONPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spans")
	p, err := Setup(context.Background(), Options{JSONPath: dir, ClusterName: "c", NodeName: "n1", Version: "1.0",
		ResourceAttributes: "deployment.environment=test, team = core"})
	if err != nil {
		t.Fatal(err)
	}
	tr := p.Tracer()
	h := http.Header{}
	h.Set("traceparent", clientParent)
	tr.Ingress(h, "127.0.0.1:1", "inv_9", Target{Service: "S", Handler: "h"}, time.Now())
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "trace-*.json"))
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	b, _ := os.ReadFile(files[0])
	var doc struct {
		Data []struct {
			TraceID string `json:"traceID"`
			Spans   []struct {
				OperationName string                    `json:"operationName"`
				References    []struct{ SpanID string } `json:"references"`
			} `json:"spans"`
			Processes map[string]struct {
				ServiceName string `json:"serviceName"`
				Tags        []struct{ Key, Value string }
			} `json:"processes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if len(doc.Data) != 1 || doc.Data[0].TraceID != "0af7651916cd43dd8448eb211c80319c" || len(doc.Data[0].Spans) != 2 {
		t.Fatalf("%s", b)
	}
	tags := map[string]string{}
	for _, tg := range doc.Data[0].Processes["p1"].Tags {
		tags[tg.Key] = tg.Value
	}
	if doc.Data[0].Processes["p1"].ServiceName != "Restate" || tags["service.instance.id"] != "c/n1" || tags["team"] != "core" || tags["deployment.environment"] != "test" {
		t.Fatalf("process %+v", doc.Data[0].Processes)
	}
	if f, err := os.CreateTemp(t.TempDir(), "file"); err == nil {
		f.Close()
		if _, err := Setup(context.Background(), Options{JSONPath: f.Name()}); err == nil {
			t.Fatal("a file as tracing-json-path accepted")
		}
	}
}

// The per-invocation cost of the hooks: disabled (the default) and recording into a
// provider that drops the spans.
func BenchmarkInvocationSpans(b *testing.B) {
	target := Target{Service: "S", Handler: "h"}
	h := http.Header{}
	for name, tr := range map[string]*Tracer{"disabled": Current(), "enabled": New(sdktrace.NewTracerProvider())} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				tp, ts := tr.Ingress(h, "127.0.0.1:1", "inv_1", target, time.Now())
				a := tr.StartAttempt(tp, ts, "inv_1", target, Deployment{ID: "dp", Address: "http://x", ProtocolVersion: 5})
				a.SetHeaders(http.Header{})
				a.Command("Command/Output", "")
				a.End("")
				tr.InvocationEnd(tp, ts, "inv_1", target, "", 0)
			}
		})
	}
}
