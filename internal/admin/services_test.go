package admin

import (
	"context"
	"sync"
	"testing"
)

const counterVO = `{"name":"Counter","ty":"VIRTUAL_OBJECT","handlers":[{"name":"add"}]}`
const signupWF = `{"name":"Signup","ty":"WORKFLOW","handlers":[{"name":"run","ty":"WORKFLOW"}]}`

func TestModifyService(t *testing.T) {
	e := newEnv(t)
	a := newCannedEndpoint(t, greeterV1+","+signupWF)
	if r := e.do("POST", "/deployments", map[string]any{"uri": a.URL}); r.status != 201 {
		t.Fatalf("register: %s", r.body)
	}
	r := e.do("PATCH", "/v2/services/Greeter", map[string]any{
		"public": false, "inactivity_timeout": "PT10S", "idempotency_retention": "5 hours", "abort_timeout": "90s", "journal_retention": "P2D",
	})
	if r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	got := r.json(t)
	for field, want := range map[string]any{
		"public": false, "inactivity_timeout": "10s", "idempotency_retention": "5h", "abort_timeout": "1m 30s", "journal_retention": "2d",
	} {
		if got[field] != want {
			t.Errorf("%s = %v, want %v", field, got[field], want)
		}
	}
	if byName(got["handlers"])["greet"]["public"] != false {
		t.Errorf("handlers of a private service are private: %v", got["handlers"])
	}
	if svc := e.reg.Snapshot().Service("Greeter"); svc.Public {
		t.Error("change not stored")
	}
	// Empty patch answers the service as is.
	if r = e.do("PATCH", "/services/Greeter", `{}`); r.status != 200 || r.json(t)["inactivity_timeout"] != "10s" {
		t.Fatalf("empty patch: %d %s", r.status, r.body)
	}
	expectError(t, e.do("PATCH", "/services/Greeter", map[string]any{"inactivity_timeout": "soon"}), 400, "", "The request field 'inactivity_timeout' is invalid")
	expectError(t, e.do("PATCH", "/services/Greeter", map[string]any{"workflow_completion_retention": "1h"}), 400, "", "modifying retention time for service type Service is unsupported")
	expectError(t, e.do("PATCH", "/services/Nope", map[string]any{"public": true}), 404, "", "The requested service 'Nope' does not exist")

	r = e.do("PATCH", "/services/Signup", map[string]any{"workflow_completion_retention": "3 days"})
	if r.status != 200 || r.json(t)["workflow_completion_retention"] != "3d" {
		t.Fatalf("workflow retention: %d %s", r.status, r.body)
	}
}

type fakeOps struct {
	mu       sync.Mutex
	calls    []string
	state    []ModifyStateRequest
	restart  RestartAsNewOptions
	resume   DeploymentSelector
	err      error
	outcome  Outcome
	newInvID string
}

func (f *fakeOps) record(op, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op+" "+id)
}

func (f *fakeOps) Cancel(_ context.Context, id string) (Outcome, error) {
	f.record("cancel", id)
	return f.outcome, f.err
}
func (f *fakeOps) Kill(_ context.Context, id string) error  { f.record("kill", id); return f.err }
func (f *fakeOps) Purge(_ context.Context, id string) error { f.record("purge", id); return f.err }
func (f *fakeOps) PurgeJournal(_ context.Context, id string) error {
	f.record("purge-journal", id)
	return f.err
}
func (f *fakeOps) RestartAsNew(_ context.Context, id string, o RestartAsNewOptions) (string, error) {
	f.record("restart", id)
	f.restart = o
	return f.newInvID, f.err
}
func (f *fakeOps) Resume(_ context.Context, id string, d DeploymentSelector) error {
	f.record("resume", id)
	f.resume = d
	return f.err
}
func (f *fakeOps) Pause(_ context.Context, id string) (Outcome, error) {
	f.record("pause", id)
	return f.outcome, f.err
}
func (f *fakeOps) ModifyState(_ context.Context, req ModifyStateRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state = append(f.state, req)
	return f.err
}

func TestModifyServiceState(t *testing.T) {
	ops := &fakeOps{}
	e := newEnv(t, func(o *Options) { o.Invocations = ops })
	a := newCannedEndpoint(t, greeterV1+","+counterVO)
	if r := e.do("POST", "/deployments", map[string]any{"uri": a.URL}); r.status != 201 {
		t.Fatalf("register: %s", r.body)
	}
	r := e.do("POST", "/v2/services/Counter/state", map[string]any{
		"object_key": "k1", "version": "v7", "new_state": map[string][]int{"count": {0x31, 0x32}, "empty": {}},
	})
	if r.status != 202 {
		t.Fatalf("state: %d %s", r.status, r.body)
	}
	if len(ops.state) != 1 {
		t.Fatalf("calls: %+v", ops.state)
	}
	got := ops.state[0]
	if got.Service != "Counter" || got.ObjectKey != "k1" || got.Version == nil || *got.Version != "v7" ||
		string(got.NewState["count"]) != "12" || got.NewState["empty"] == nil || len(got.NewState) != 2 {
		t.Fatalf("request: %+v", got)
	}
	expectError(t, e.do("POST", "/services/Greeter/state", map[string]any{"object_key": "k", "new_state": map[string][]int{}}), 400, "", "Cannot modify state for service type Service")
	expectError(t, e.do("POST", "/services/Counter/state", map[string]any{"object_key": "k", "new_state": map[string][]int{"a": {256}}}), 400, "", "not a byte")
	expectError(t, e.do("POST", "/services/Counter/state", map[string]any{"new_state": map[string][]int{}}), 400, "", "object_key")
	expectError(t, e.do("POST", "/services/Nope/state", map[string]any{"object_key": "k", "new_state": map[string][]int{}}), 404, "", "Nope")
	ops.err = &InvocationError{Kind: StateVersionMismatch}
	expectError(t, e.do("POST", "/services/Counter/state", map[string]any{"object_key": "k", "new_state": map[string][]int{}}), 409, "", "Counter/k")

	noEngine := newEnv(t)
	b := newCannedEndpoint(t, counterVO)
	noEngine.do("POST", "/deployments", map[string]any{"uri": b.URL})
	expectError(t, noEngine.do("POST", "/services/Counter/state", map[string]any{"object_key": "k", "new_state": map[string][]int{}}), 501, "", "no invocation engine")
}

func TestServiceOpenAPI(t *testing.T) {
	e := newEnv(t)
	a := newCannedEndpoint(t, `{"name":"Shop","ty":"VIRTUAL_OBJECT","documentation":"A shop","handlers":[
		{"name":"buy","input":{"required":true,"contentType":"application/json","jsonSchema":{"type":"object"}},"output":{"contentType":"text/plain"}},
		{"name":"peek","ty":"SHARED","input":{"required":false},"output":{}},
		{"name":"secret","ingressPrivate":true}]}`)
	if r := e.do("POST", "/deployments", map[string]any{"uri": a.URL}); r.status != 201 {
		t.Fatalf("register: %s", r.body)
	}
	r := e.do("GET", "/services/Shop/openapi", nil)
	doc := r.json(t)
	if r.status != 200 || doc["openapi"] != "3.1.0" || get(doc, "info", "description") != "A shop" || get(doc, "servers", 0, "url") != "http://127.0.0.1:8080/" {
		t.Fatalf("doc: %s", r.body)
	}
	paths, _ := doc["paths"].(map[string]any)
	buy := get(paths, "/Shop/{key}/buy", "post")
	if get(buy, "requestBody", "required") != true || get(buy, "requestBody", "content", "application/json", "schema", "type") != "object" {
		t.Errorf("buy: %v", buy)
	}
	if get(buy, "responses", "200", "content", "text/plain") == nil {
		t.Errorf("buy response content type: %v", get(buy, "responses"))
	}
	if get(paths, "/Shop/{key}/peek", "post", "requestBody") != nil {
		t.Errorf("peek takes no body")
	}
	if get(paths, "/Shop/{key}/buy/send", "post", "responses", "202") == nil {
		t.Errorf("send path missing")
	}
	if _, ok := paths["/Shop/{key}/secret"]; ok {
		t.Errorf("private handlers must not be described")
	}
	expectError(t, e.do("GET", "/services/Nope/openapi", nil), 404, "", "Nope")
}
