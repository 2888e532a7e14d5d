package ingress

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restatego/restate/internal/discovery"
	"github.com/restatego/restate/internal/partition"
	"github.com/restatego/restate/internal/schema"
	"github.com/restatego/restate/internal/schema/schematest"
)

// acceptAll is a dispatcher that takes every record as durable at once.
type acceptAll struct {
	mu      sync.Mutex
	records int
}

func (*acceptAll) NumPartitions() uint16 { return 4 }
func (d *acceptAll) Submit(_ context.Context, _ uint16, r *partition.Record) error {
	if r == nil {
		panic("nil record")
	}
	d.mu.Lock()
	d.records++
	d.mu.Unlock()
	return nil
}

func fuzzIngress(t testing.TB) *Server {
	ctx := context.Background()
	reg, err := schema.NewRegistry(ctx, schematest.NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	m, err := discovery.ParseManifest([]byte(`{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"services":[
		{"name":"Greeter","ty":"SERVICE","handlers":[{"name":"greet"}]},
		{"name":"Counter","ty":"VIRTUAL_OBJECT","handlers":[{"name":"add"},{"name":"get","ty":"SHARED"}]},
		{"name":"Signup","ty":"WORKFLOW","handlers":[{"name":"run","ty":"WORKFLOW"},{"name":"click","ty":"SHARED"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	dep := &schema.Deployment{URI: "http://svc:9080/", ProtocolType: schema.ProtocolTypeBidiStream, HTTPVersion: "HTTP/2.0",
		MinProtocolVersion: 5, MaxProtocolVersion: 7, ProtocolVersion: 7}
	if _, _, err := reg.Register(ctx, dep, m, schema.RegisterOptions{}); err != nil {
		t.Fatal(err)
	}
	return New(Options{Schema: reg.Snapshot, Dispatcher: &acceptAll{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// FuzzIngressRequest sends arbitrary methods, paths, headers and bodies to the ingress: it
// must answer every one with a status (never panic), a 4xx for what it refuses, and never
// a 5xx for a request that only has bad input.
func FuzzIngressRequest(f *testing.F) {
	seeds := []struct{ method, path, header, body string }{
		{"POST", "/Greeter/greet", "content-type: application/json", `"Sarah"`},
		{"POST", "/Greeter/greet/send?delay=10s", "idempotency-key: k1", `"x"`},
		{"POST", "/Counter/key%2Fwith%2Fslash/add", "", `1`},
		{"POST", "/Counter//add", "", `1`},
		{"GET", "/restate/workflow/Signup/k/attach", "", ``},
		{"POST", "/Signup/k/run", "idempotency-key: ", `"a@b"`},
		{"GET", "/restate/invocation/inv_1abc/output", "", ``},
		{"POST", "/restate/awakeables/sign_1abc/resolve", "content-type: text/plain", `zzz`},
		{"PUT", "/Greeter", "x-restate-id: \x00", "\xff\xfe"},
		{"POST", "/Greeter/greet/send?delay=PT-1S", "content-type: application/json; charset=utf-8", `{`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.header, []byte(s.body))
	}
	srv := fuzzIngress(f)
	f.Fuzz(func(t *testing.T, method, path, header string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "http://ingress"+path, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		if name, value, ok := strings.Cut(header, ":"); ok {
			req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req.WithContext(ctx))
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("%s %q: status %d", method, path, rec.Code)
		}
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable && rec.Code != http.StatusGatewayTimeout {
			t.Fatalf("%s %q %q: %d %s", method, path, header, rec.Code, rec.Body)
		}
	})
}
