package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	restate "github.com/restatedev/sdk-go"
	"github.com/restatedev/sdk-go/server"

	"github.com/restatego/restate/internal/discovery"
	"github.com/restatego/restate/internal/schema"
	"github.com/restatego/restate/internal/schema/schematest"
)

type Greeter struct{}

func (Greeter) Greet(ctx restate.Context, name string) (string, error) { return "hi " + name, nil }

type Counter struct{}

func (Counter) Add(ctx restate.ObjectContext, n int) (int, error) { return n, nil }
func (Counter) Get(ctx restate.ObjectSharedContext) (int, error)  { return 0, nil }

type Signup struct{}

func (Signup) Run(ctx restate.WorkflowContext, email string) (bool, error) { return true, nil }
func (Signup) Click(ctx restate.WorkflowSharedContext) error               { return nil }

// startH2C serves h on 127.0.0.1 with HTTP/1.1 and h2c.
func startH2C(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// startSDK serves real sdk-go service definitions.
func startSDK(t *testing.T, defs ...restate.ServiceDefinition) string {
	t.Helper()
	r := server.NewRestate()
	for _, d := range defs {
		r = r.Bind(d)
	}
	h, err := r.Handler()
	if err != nil {
		t.Fatalf("sdk handler: %v", err)
	}
	return startH2C(t, h)
}

// cannedEndpoint serves a manifest that the test can swap.
type cannedEndpoint struct {
	mu       sync.Mutex
	services string
	URL      string
}

func newCannedEndpoint(t *testing.T, services string) *cannedEndpoint {
	c := &cannedEndpoint{services: services}
	c.URL = startH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/discover" {
			http.NotFound(w, r)
			return
		}
		c.mu.Lock()
		body := `{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"services":[` + c.services + `]}`
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/vnd.restate.endpointmanifest.v3+json")
		w.Header().Set("X-Restate-Server", "canned/0.1")
		_, _ = w.Write([]byte(body))
	}))
	return c
}

func (c *cannedEndpoint) set(services string) {
	c.mu.Lock()
	c.services = services
	c.mu.Unlock()
}

type testEnv struct {
	t     *testing.T
	reg   *schema.Registry
	admin *Server
	url   string
}

func newEnv(t *testing.T, mutate ...func(*Options)) *testEnv {
	t.Helper()
	reg, err := schema.NewRegistry(context.Background(), schematest.NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	disc := discovery.NewClient(discovery.ClientOptions{MaxAttempts: 1, RequestTimeout: 5 * time.Second})
	t.Cleanup(disc.CloseIdleConnections)
	opts := Options{Version: "1.5.6", IngressEndpoint: "http://127.0.0.1:8080/", ClusterName: "localcluster"}
	for _, m := range mutate {
		m(&opts)
	}
	a := New(reg, disc, opts)
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return &testEnv{t: t, reg: reg, admin: a, url: srv.URL}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object (%d): %s", r.status, r.body)
	}
	return m
}

func (e *testEnv) do(method, path string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// expectError checks a JSON error answer.
func expectError(t *testing.T, r response, status int, code, contains string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	var e struct {
		Message     string  `json:"message"`
		RestateCode *string `json:"restate_code"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body is not JSON: %s", r.body)
	}
	if !bytes.Contains(r.body, []byte(`"restate_code"`)) {
		t.Errorf("error body must carry restate_code (null or a code): %s", r.body)
	}
	gotCode := ""
	if e.RestateCode != nil {
		gotCode = *e.RestateCode
	}
	if gotCode != code {
		t.Errorf("restate_code %q, want %q (%s)", gotCode, code, e.Message)
	}
	if !strings.Contains(e.Message, contains) {
		t.Errorf("message %q lacks %q", e.Message, contains)
	}
}

// get walks a decoded JSON value: get(m, "services", 0, "name").
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			s, ok := v.([]any)
			if !ok || k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

// byName indexes a JSON array of objects by their "name".
func byName(v any) map[string]map[string]any {
	out := map[string]map[string]any{}
	list, _ := v.([]any)
	for _, item := range list {
		m, _ := item.(map[string]any)
		if name, ok := m["name"].(string); ok {
			out[name] = m
		}
	}
	return out
}
