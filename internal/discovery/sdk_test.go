package discovery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	restate "github.com/restatedev/sdk-go"
	"github.com/restatedev/sdk-go/server"
)

type Greeter struct{}

func (Greeter) Greet(ctx restate.Context, name string) (string, error) { return "hi " + name, nil }

type Counter struct{}

func (Counter) Add(ctx restate.ObjectContext, n int) (int, error)          { return n, nil }
func (Counter) Get(ctx restate.ObjectSharedContext) (int, error)           { return 0, nil }
func (Counter) Reset(ctx restate.ObjectContext) error                      { return nil }
func (Signup) Run(ctx restate.WorkflowContext, email string) (bool, error) { return true, nil }
func (Signup) Click(ctx restate.WorkflowSharedContext) error               { return nil }

type Signup struct{}

// startSDK serves the given definitions with sdk-go's own handler behind an h2c-capable server.
func startSDK(t *testing.T, bidi bool, defs ...restate.ServiceDefinition) string {
	t.Helper()
	r := server.NewRestate().Bidirectional(bidi)
	for _, d := range defs {
		r = r.Bind(d)
	}
	h, err := r.Handler()
	if err != nil {
		t.Fatalf("sdk handler: %v", err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestDiscoverRealSDK(t *testing.T) {
	uri := startSDK(t, true,
		restate.Reflect(Greeter{}, restate.WithInactivityTimeout(30*time.Second)),
		restate.Reflect(Counter{}),
		restate.Reflect(Signup{}),
	)
	c := NewClient(ClientOptions{})
	defer c.CloseIdleConnections()
	res, err := c.Discover(context.Background(), Request{URI: uri})
	if err != nil {
		t.Fatalf("Discover against sdk-go: %v", err)
	}
	if !strings.HasPrefix(res.SDKVersion, "restate-sdk-go/") {
		t.Errorf("sdk version %q", res.SDKVersion)
	}
	if res.HTTPVersion != "HTTP/2.0" || res.ManifestVersion != 4 || res.ProtocolVersion != 7 {
		t.Errorf("facts: %+v", res)
	}
	m := res.Manifest
	if m.ProtocolMode != ProtocolModeBidiStream || m.MinProtocolVersion != 5 || m.MaxProtocolVersion != 7 {
		t.Errorf("manifest header: %+v", m)
	}
	byName := map[string]Service{}
	for _, s := range m.Services {
		byName[s.Name] = s
	}
	g, ok := byName["Greeter"]
	if !ok || g.Ty != ServiceTypeService || g.InactivityTimeout == nil || *g.InactivityTimeout != 30*time.Second {
		t.Errorf("Greeter: %+v", g)
	}
	if h := g.Handlers[0]; h.Input == nil || !h.Input.Required || h.Input.ContentType == nil || *h.Input.ContentType != "application/json" || len(h.Input.JSONSchema) == 0 {
		t.Errorf("Greet input: %+v", h.Input)
	}
	counter := byName["Counter"]
	types := map[string]HandlerType{}
	for _, h := range counter.Handlers {
		types[h.Name] = h.Ty
	}
	if counter.Ty != ServiceTypeVirtualObject || types["Add"] != HandlerTypeExclusive || types["Get"] != HandlerTypeShared {
		t.Errorf("Counter: %+v", types)
	}
	for _, h := range counter.Handlers {
		if h.Name == "Get" && (h.Input == nil || h.Input.Required || h.Input.ContentType != nil) {
			t.Errorf("Void input must come as {required:false}: %+v", h.Input)
		}
		if h.Name == "Reset" && (h.Output == nil || h.Output.ContentType != nil) {
			t.Errorf("Void output must come as an output without content type: %+v", h.Output)
		}
	}
	wf := byName["Signup"]
	if wf.Ty != ServiceTypeWorkflow {
		t.Errorf("Signup: %+v", wf)
	}
}

func TestDiscoverRealSDKRequestResponseOverHTTP11(t *testing.T) {
	uri := startSDK(t, false, restate.Reflect(Greeter{}))
	res, err := NewClient(ClientOptions{}).Discover(context.Background(), Request{URI: uri, UseHTTP11: true})
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	if res.Manifest.ProtocolMode != ProtocolModeRequestResponse || res.HTTPVersion != "HTTP/1.1" {
		t.Errorf("got mode %q over %q", res.Manifest.ProtocolMode, res.HTTPVersion)
	}
}

func TestDiscoverRealSDKWrongPath(t *testing.T) {
	uri := startSDK(t, true, restate.Reflect(Greeter{}))
	// sdk-go only answers /discover at the root; under a prefix it treats the request as an
	// invocation without content type and answers 415.
	_, err := NewClient(ClientOptions{}).Discover(context.Background(), Request{URI: uri + "/nested"})
	de, ok := AsError(err)
	if !ok || de.Kind != KindBadStatus || de.StatusCode != http.StatusUnsupportedMediaType || de.RestateCode() != CodeDiscoveryFailed {
		t.Fatalf("want a 415 status error, got %v", err)
	}
	if !strings.Contains(err.Error(), "missing content-type header") {
		t.Errorf("the SDK's body should be quoted: %v", err)
	}
}
