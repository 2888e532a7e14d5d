package e2e

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	restate "github.com/restatedev/sdk-go"
	sdkserver "github.com/restatedev/sdk-go/server"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/restatego/restate/internal/testservices"
)

// spanSink collects what an OTLP receiver got: spans and one request header.
type spanSink struct {
	mu      sync.Mutex
	spans   []*tracepb.Span
	service string
	header  string
}

func (s *spanSink) add(req *coltracepb.ExportTraceServiceRequest, header string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.header = header
	for _, rs := range req.ResourceSpans {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				s.service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			s.spans = append(s.spans, ss.Spans...)
		}
	}
}

func (s *spanSink) byName() map[string]*tracepb.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]*tracepb.Span{}
	for _, sp := range s.spans {
		m[sp.Name] = sp
	}
	return m
}

// otlpHTTPReceiver answers OTLP/HTTP protobuf exports on /v1/traces.
func otlpHTTPReceiver(t *testing.T, sink *spanSink) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &req)
		}
		if r.URL.Path != "/v1/traces" || err != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		sink.add(&req, r.Header.Get("x-otel-token"))
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("content-type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

type grpcCollector struct {
	coltracepb.UnimplementedTraceServiceServer
	sink *spanSink
}

func (c grpcCollector) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	c.sink.add(req, strings.Join(md.Get("x-otel-token"), ","))
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func otlpGRPCReceiver(t *testing.T, sink *spanSink) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(gs, grpcCollector{sink: sink})
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	return ln.Addr().String()
}

// tracedEndpoint serves the Greeter and remembers the traceparent of each request Restate sent.
func tracedEndpoint(t *testing.T) (string, func() []string) {
	h, err := sdkserver.NewRestate().Bind(restate.Reflect(testservices.Greeter{})).
		Bind(restate.Reflect(testservices.Failing{Rec: testservices.NewRecorder()})).Handler()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	rec := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/invoke/") {
			mu.Lock()
			seen = append(seen, r.Header.Get("traceparent"))
			mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := httptest.NewUnstartedServer(rec)
	srv.Config.Protocols = &protocols
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"

// A real server exports Restate's spans to an OTLP receiver, over HTTP and over gRPC: the
// ingress span continues the caller's trace, the deployment gets the attempt's traceparent,
// and the tracing-headers reach the collector.
func TestTracingToOTLPReceivers(t *testing.T) {
	for _, transport := range []string{"http", "grpc"} {
		t.Run(transport, func(t *testing.T) {
			sink := &spanSink{}
			endpoint := "otlp+" + otlpHTTPReceiver(t, sink)
			if transport == "grpc" {
				endpoint = "http://" + otlpGRPCReceiver(t, sink)
			}
			s := startServer(t, "RESTATE_TRACING_ENDPOINT="+endpoint, "RESTATE_TRACING_HEADERS__X_OTEL_TOKEN=t0k3n",
				"OTEL_BSP_SCHEDULE_DELAY=50", "OTEL_RESOURCE_ATTRIBUTES=deployment.environment=e2e")
			url, seen := tracedEndpoint(t)
			s.Register(t, url)
			r := s.Call(t, "/Greeter/Greet", "bob", "traceparent", "00-"+callerTrace+"-00f067aa0ba902b7-01")
			if r.Status != 200 {
				t.Fatalf("call: %d %s", r.Status, r.Body)
			}
			invID := r.Header.Get("x-restate-id")
			// A terminal error ends the invocation with a failure.
			if r := s.Call(t, "/Failing/Terminal", "no"); r.Status != 418 {
				t.Fatalf("terminal call: %d %s", r.Status, r.Body)
			}
			var spans map[string]*tracepb.Span
			eventually(t, 20*time.Second, func() error {
				spans = sink.byName()
				if len(spans) < 8 {
					return fmt.Errorf("spans so far: %d", len(spans))
				}
				return nil
			})
			ingress, start := spans["ingress Greeter/Greet"], spans["invocation-start Greeter/Greet"]
			attempt, end := spans["invocation-attempt Greeter/Greet"], spans["invocation-end Greeter/Greet"]
			if ingress == nil || start == nil || attempt == nil || end == nil {
				t.Fatalf("span names: %v", keys(spans))
			}
			if hex.EncodeToString(ingress.TraceId) != callerTrace || hex.EncodeToString(ingress.ParentSpanId) != "00f067aa0ba902b7" {
				t.Fatalf("ingress span trace %x parent %x", ingress.TraceId, ingress.ParentSpanId)
			}
			if string(start.ParentSpanId) != string(ingress.SpanId) || string(attempt.ParentSpanId) != string(start.SpanId) {
				t.Fatal("invocation-start must be the child of ingress, the attempt the child of invocation-start")
			}
			got := map[string]string{}
			for _, kv := range attempt.Attributes {
				got[kv.Key] = kv.GetValue().GetStringValue()
			}
			if got["restate.invocation.id"] != invID || got["rpc.service"] != "Greeter" || got["rpc.method"] != "Greet" {
				t.Fatalf("attempt attributes %v (invocation %s)", got, invID)
			}
			failedEnd := spans["invocation-end Failing/Terminal"]
			result := map[string]string{}
			for _, kv := range failedEnd.GetAttributes() {
				result[kv.Key] = kv.GetValue().GetStringValue()
			}
			if result["restate.invocation.result"] != "failure" || failedEnd.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR {
				t.Fatalf("invocation-end of a terminal error: %v %v", result, failedEnd.GetStatus())
			}
			want := "00-" + callerTrace + "-" + hex.EncodeToString(attempt.SpanId) + "-01"
			if tp := seen(); len(tp) == 0 || tp[0] != want {
				t.Fatalf("deployment saw traceparent %v, want %s", tp, want)
			}
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if sink.header != "t0k3n" || sink.service != "Restate" {
				t.Fatalf("collector got header %q, service.name %q", sink.header, sink.service)
			}
		})
	}
}

// Without tracing settings nothing is forwarded and nothing is exported.
func TestNoTracingByDefault(t *testing.T) {
	s := startServer(t)
	url, seen := tracedEndpoint(t)
	s.Register(t, url)
	if r := s.Call(t, "/Greeter/Greet", "bob", "traceparent", "00-"+callerTrace+"-00f067aa0ba902b7-01"); r.Status != 200 {
		t.Fatalf("call: %d %s", r.Status, r.Body)
	}
	if tp := seen(); len(tp) != 1 || tp[0] != "" {
		t.Fatalf("deployment saw traceparent %v without tracing configured", tp)
	}
}

func keys(m map[string]*tracepb.Span) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
