package admin

import (
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	restate "github.com/restatedev/sdk-go"
)

var createdAtPattern = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$`)

func TestRegisterRealSDKAndDescribe(t *testing.T) {
	e := newEnv(t)
	sdk := startSDK(t, restate.Reflect(Greeter{}), restate.Reflect(Counter{}), restate.Reflect(Signup{}))

	r := e.do("POST", "/v2/deployments", map[string]any{"uri": sdk})
	if r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	reg := r.json(t)
	id, _ := reg["id"].(string)
	if !strings.HasPrefix(id, "dp_") || r.header.Get("Location") != "deployments/"+id {
		t.Fatalf("id %q location %q", id, r.header.Get("Location"))
	}
	if reg["min_protocol_version"] != 5.0 || reg["max_protocol_version"] != 7.0 ||
		!strings.HasPrefix(reg["sdk_version"].(string), "restate-sdk-go/") {
		t.Errorf("register response header fields: %s", r.body)
	}
	svcs := byName(reg["services"])
	if len(svcs) != 3 {
		t.Fatalf("services: %s", r.body)
	}
	counter := svcs["Counter"]
	if counter["ty"] != "VirtualObject" || counter["revision"] != 1.0 || counter["deployment_id"] != id || counter["public"] != true {
		t.Errorf("Counter: %v", counter)
	}
	handlers := byName(counter["handlers"])
	if handlers["Add"]["ty"] != "Exclusive" || handlers["Get"]["ty"] != "Shared" {
		t.Errorf("handler types: %v", handlers)
	}
	if handlers["Add"]["input_description"] != "JSON integer" || handlers["Get"]["input_description"] != "none" ||
		handlers["Add"]["output_description"] != "JSON integer" {
		t.Errorf("descriptions: add in=%v out=%v get in=%v", handlers["Add"]["input_description"], handlers["Add"]["output_description"], handlers["Get"]["input_description"])
	}
	if get(handlers["Add"], "input_json_schema", "type") != "integer" {
		t.Errorf("input_json_schema: %v", handlers["Add"]["input_json_schema"])
	}
	greeter := svcs["Greeter"]
	for field, want := range map[string]any{
		"idempotency_retention": "1d", "inactivity_timeout": "1m", "abort_timeout": "1m", "enable_lazy_state": false,
	} {
		if greeter[field] != want {
			t.Errorf("Greeter %s = %v, want %v", field, greeter[field], want)
		}
	}
	if _, ok := greeter["workflow_completion_retention"]; ok {
		t.Errorf("only workflows report workflow_completion_retention")
	}
	if _, ok := byName(greeter["handlers"])["Greet"]["ty"]; ok {
		t.Errorf("handlers of plain services have no ty")
	}
	rp, _ := greeter["retry_policy"].(map[string]any)
	if rp["initial_interval"] != "500ms" || rp["exponentiation_factor"] != 2.0 || rp["max_attempts"] != 200.0 ||
		rp["max_interval"] != "20s" || rp["on_max_attempts"] != "Pause" {
		t.Errorf("retry_policy: %v", rp)
	}
	if svcs["Signup"]["ty"] != "Workflow" || svcs["Signup"]["workflow_completion_retention"] != "1d" {
		t.Errorf("Signup: %v", svcs["Signup"])
	}

	// List.
	r = e.do("GET", "/deployments", nil)
	list := r.json(t)
	dep, _ := get(list, "deployments", 0).(map[string]any)
	if r.status != 200 || dep == nil {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if dep["id"] != id || dep["uri"] != sdk+"/" || dep["protocol_type"] != "BidiStream" || dep["http_version"] != "HTTP/2.0" {
		t.Errorf("listed deployment: %v", dep)
	}
	if !createdAtPattern.MatchString(dep["created_at"].(string)) {
		t.Errorf("created_at %q", dep["created_at"])
	}
	if _, ok := dep["additional_headers"]; ok {
		t.Errorf("additional_headers must be omitted when empty")
	}
	pairs := byName(dep["services"])
	if len(pairs) != 3 || pairs["Greeter"]["revision"] != 1.0 || len(pairs["Greeter"]) != 2 {
		t.Errorf("listed services must be name/revision pairs: %v", dep["services"])
	}

	// Describe.
	r = e.do("GET", "/v2/deployments/"+id, nil)
	detailed := r.json(t)
	if r.status != 200 || byName(detailed["services"])["Counter"]["ty"] != "VirtualObject" {
		t.Fatalf("detailed: %d %s", r.status, r.body)
	}

	// Services and handlers.
	r = e.do("GET", "/services", nil)
	if names := byName(r.json(t)["services"]); r.status != 200 || len(names) != 3 {
		t.Fatalf("services: %s", r.body)
	}
	r = e.do("GET", "/services/Greeter", nil)
	if r.status != 200 || r.json(t)["name"] != "Greeter" {
		t.Fatalf("service: %s", r.body)
	}
	r = e.do("GET", "/v2/services/Counter/handlers", nil)
	if hs := byName(r.json(t)["handlers"]); len(hs) != 2 {
		t.Fatalf("handlers: %s", r.body)
	}
	r = e.do("GET", "/services/Counter/handlers/Add", nil)
	if r.status != 200 || r.json(t)["public"] != true {
		t.Fatalf("handler: %s", r.body)
	}
	expectError(t, e.do("GET", "/services/Nope", nil), 404, "", "The requested service 'Nope' does not exist")
	expectError(t, e.do("GET", "/services/Counter/handlers/Nope", nil), 404, "", "The requested handler 'Nope' on service 'Counter' does not exist")
	expectError(t, e.do("GET", "/deployments/dp_14LQB9IfHuXC5fEc49arGSA", nil), 404, "", "does not exist")
	expectError(t, e.do("GET", "/deployments/nope", nil), 400, "", "The request field 'deployment' is invalid")

	// Remove.
	expectError(t, e.do("DELETE", "/deployments/"+id, nil), 501, "", "force=true")
	expectError(t, e.do("DELETE", "/deployments/"+id+"?force=maybe", nil), 400, "", "force")
	if r = e.do("DELETE", "/v2/deployments/"+id+"?force=true", nil); r.status != 202 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	expectError(t, e.do("GET", "/deployments/"+id, nil), 404, "", id)
	if r = e.do("GET", "/services", nil); len(byName(r.json(t)["services"])) != 0 {
		t.Fatalf("services of a removed deployment must be gone: %s", r.body)
	}
	expectError(t, e.do("DELETE", "/deployments/"+id+"?force=true", nil), 404, "", id)
}

func TestRegisterRequestErrors(t *testing.T) {
	e := newEnv(t)
	expectError(t, e.do("POST", "/deployments", "{not json"), 400, "", "JSON")
	expectError(t, e.do("POST", "/deployments", `{}`), 400, "", "'uri'")
	expectError(t, e.do("POST", "/deployments", `{"uri":"localhost:9080/x"}`), 400, "", "not absolute, only absolute URIs can be used")
	expectError(t, e.do("POST", "/deployments", `{"uri":"/greeter"}`), 400, "", "The request field 'uri' is invalid")
	expectError(t, e.do("POST", "/deployments", `{"uri":"ftp://h/"}`), 400, "", "only http and https")
	expectError(t, e.do("POST", "/deployments", `{"arn":"arn:aws:lambda:eu-central-1:1:function:f:1"}`), 400, "", "Lambda deployments are not supported")
	expectError(t, e.do("POST", "/deployments", `{"uri":"http://h/","additional_headers":{"bad header":"x"}}`), 400, "", "'bad header' is not a valid header name")
	expectError(t, e.do("POST", "/deployments", `{"uri":"http://h/","additional_headers":{"x":1}}`), 400, "", "JSON")
	if len(e.reg.Snapshot().Deployments()) != 0 {
		t.Fatal("rejected requests must not register anything")
	}
}

func TestRegisterDiscoveryFailures(t *testing.T) {
	e := newEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	r := e.do("POST", "/deployments", map[string]any{"uri": dead})
	expectError(t, r, 500, "META0003", "[META0003] cannot reach the deployment at "+dead+"/discover")

	notRestate := startH2C(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>hello</html>"))
	}))
	expectError(t, e.do("POST", "/deployments", map[string]any{"uri": notRestate}), 500, "META0013", "Bad content type header")

	old := startH2C(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.restate.endpointmanifest.v1+json")
		_, _ = w.Write([]byte(`{"protocolMode":"BIDI_STREAM","minProtocolVersion":1,"maxProtocolVersion":2,"services":[]}`))
	}))
	expectError(t, e.do("POST", "/deployments", map[string]any{"uri": old}), 500, "META0012", "unsupported service protocol versions: [1, 2]")

	broken := startH2C(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.restate.endpointmanifest.v3+json")
		_, _ = w.Write([]byte(`{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"services":[{"name":"A","ty":"ACTOR","handlers":[]}]}`))
	}))
	expectError(t, e.do("POST", "/deployments", map[string]any{"uri": broken}), 500, "", `unknown service type "ACTOR"`)

	if len(e.reg.Snapshot().Deployments()) != 0 {
		t.Fatal("failed discoveries must not register anything")
	}
}

const (
	greeterV1 = `{"name":"Greeter","ty":"SERVICE","handlers":[{"name":"greet"},{"name":"wave"}]}`
	greeterV2 = `{"name":"Greeter","ty":"SERVICE","handlers":[{"name":"greet"}]}`
	greeterVO = `{"name":"Greeter","ty":"VIRTUAL_OBJECT","handlers":[{"name":"greet"},{"name":"wave"}]}`
)

func TestRegisterConflictsAndForce(t *testing.T) {
	e := newEnv(t)
	a := newCannedEndpoint(t, greeterV1)
	r := e.do("POST", "/v2/deployments", map[string]any{"uri": a.URL, "additional_headers": map[string]string{"X-Token": "s"}})
	if r.status != 201 {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	if d := e.reg.Snapshot().Deployment(id); d.AdditionalHeaders["x-token"] != "s" || d.SDKVersion != "canned/0.1" {
		t.Errorf("stored deployment: %+v", d)
	}

	expectError(t, e.do("POST", "/v2/deployments", map[string]any{"uri": a.URL, "force": false}), 409, "", "already exists in the schema registry: deployment with id '"+id+"'")

	// force defaults to true: same address → same id, next revision.
	r = e.do("POST", "/v2/deployments", map[string]any{"uri": a.URL + "/"})
	if r.status != 201 || r.json(t)["id"] != id || get(r.json(t), "services", 0, "revision") != 2.0 {
		t.Fatalf("forced re-registration: %d %s", r.status, r.body)
	}

	b := newCannedEndpoint(t, greeterVO)
	expectError(t, e.do("POST", "/deployments", map[string]any{"uri": b.URL, "force": false}), 409, "META0006", "[META0006] detected a new service 'Greeter' revision with a service type different")
	b.set(greeterV2)
	expectError(t, e.do("POST", "/deployments", map[string]any{"uri": b.URL, "force": false}), 409, "META0006", `removed the handlers ["wave"]`)
	// Newer CLIs send breaking=true instead of force to allow this.
	r = e.do("POST", "/deployments", map[string]any{"uri": b.URL, "force": false, "breaking": true})
	if r.status != 201 || r.json(t)["id"] == id {
		t.Fatalf("breaking registration: %d %s", r.status, r.body)
	}
	if svc := e.reg.Snapshot().Service("Greeter"); svc.Revision != 3 || svc.DeploymentID == id {
		t.Fatalf("Greeter must now be revision 3 on the new deployment: %+v", svc)
	}
	if r = e.do("GET", "/deployments", nil); len(r.json(t)["deployments"].([]any)) != 2 {
		t.Fatalf("old deployment must stay: %s", r.body)
	}

	reserved := newCannedEndpoint(t, `{"name":"restate_internal","ty":"SERVICE","handlers":[]}`)
	expectError(t, e.do("POST", "/deployments", map[string]any{"uri": reserved.URL}), 400, "META0005", "reserved name")
}

func TestRegisterDryRun(t *testing.T) {
	e := newEnv(t)
	a := newCannedEndpoint(t, greeterV1)
	r := e.do("POST", "/deployments", map[string]any{"uri": a.URL, "dry_run": true})
	if r.status != 201 || !strings.HasPrefix(r.json(t)["id"].(string), "dp_") {
		t.Fatalf("dry run: %d %s", r.status, r.body)
	}
	if len(e.reg.Snapshot().Deployments()) != 0 || e.reg.Snapshot().Version() != 0 {
		t.Fatal("dry run registered something")
	}
	// The CLI's v2 flow: dry run, then GET the returned id to see whether it already exists.
	dryID := r.json(t)["id"].(string)
	expectError(t, e.do("GET", "/v2/deployments/"+dryID, nil), 404, "", dryID)
}

func TestUpdateDeployment(t *testing.T) {
	e := newEnv(t)
	a := newCannedEndpoint(t, greeterV1)
	id := e.do("POST", "/deployments", map[string]any{"uri": a.URL}).json(t)["id"].(string)
	created := e.reg.Snapshot().Deployment(id).CreatedAt

	moved := newCannedEndpoint(t, greeterV1)
	r := e.do("PUT", "/v2/deployments/"+id, map[string]any{"uri": moved.URL, "additional_headers": map[string]string{"a": "b"}})
	if r.status != 200 {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	got := r.json(t)
	if got["id"] != id || got["uri"] != moved.URL+"/" || get(got, "additional_headers", "a") != "b" || get(got, "services", 0, "revision") != 1.0 {
		t.Fatalf("updated: %s", r.body)
	}
	if d := e.reg.Snapshot().Deployment(id); !d.CreatedAt.Equal(created) || d.URI != moved.URL+"/" {
		t.Fatalf("stored: %+v", d)
	}
	// No fields: answers the current deployment unchanged.
	if r = e.do("PATCH", "/deployments/"+id, `{}`); r.status != 200 || r.json(t)["uri"] != moved.URL+"/" {
		t.Fatalf("empty update: %d %s", r.status, r.body)
	}
	moved.set(greeterV2)
	expectError(t, e.do("PUT", "/deployments/"+id, map[string]any{"uri": moved.URL}), 409, "META0006", "removed the handlers")
	if r = e.do("PUT", "/deployments/"+id, map[string]any{"uri": moved.URL, "overwrite": true}); r.status != 200 {
		t.Fatalf("overwrite: %d %s", r.status, r.body)
	}
	expectError(t, e.do("PUT", "/deployments/dp_14LQB9IfHuXC5fEc49arGSA", map[string]any{"uri": moved.URL}), 404, "", "does not exist")
	expectError(t, e.do("PUT", "/deployments/"+id, map[string]any{"arn": "arn:x"}), 400, "", "Lambda")
}

func TestCreatedAtFormat(t *testing.T) {
	cases := map[time.Time]string{
		time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC):           "2025-01-02T03:04:05Z",
		time.Date(2025, 1, 2, 3, 4, 5, 120_000_000, time.UTC): "2025-01-02T03:04:05.120Z",
		time.Date(2025, 1, 2, 3, 4, 5, 120_500_000, time.UTC): "2025-01-02T03:04:05.120500Z",
		time.Date(2025, 1, 2, 3, 4, 5, 1, time.UTC):           "2025-01-02T03:04:05.000000001Z",
	}
	for in, want := range cases {
		if got := formatTimestamp(in); got != want {
			t.Errorf("formatTimestamp(%v) = %q, want %q", in, got, want)
		}
	}
}
