// Package tssdk runs a service written with Restate's TypeScript SDK (service/) against the
// server, so the server is shown not to lean on the Go SDK's habits. The expected statuses and
// bodies are the ones the Rust Restate server 1.7.12 answers for the same requests.
package tssdk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	th "github.com/restatego/restate/internal/testharness"
)

func TestMain(m *testing.M) { th.Main(m) }

func TestBidiStream(t *testing.T) {
	requireNode(t)
	s := th.StartServer(t)
	svc := startService(t, modeBidi)
	s.Register(t, svc.URL)
	runScenarios(t, s)
}

// TestRequestResponse serves the same handlers over HTTP/1.1, where the SDK uses the
// request/response protocol mode: every suspension ends the HTTP exchange and the server
// re-invokes with the whole journal.
func TestRequestResponse(t *testing.T) {
	requireNode(t)
	s := th.StartServer(t)
	svc := startService(t, modeRequestResponse)
	body, _ := json.Marshal(map[string]any{"uri": svc.URL, "use_http_11": true})
	r := s.AdminDo(t, http.MethodPost, "/deployments", body)
	if r.Status != http.StatusCreated {
		t.Fatalf("registering %s with use_http_11: %d %s", svc.URL, r.Status, r.Body)
	}
	var dep struct {
		ID       string                  `json:"id"`
		Services []struct{ Name string } `json:"services"`
	}
	if err := json.Unmarshal(r.Body, &dep); err != nil || len(dep.Services) != 5 {
		t.Fatalf("registration answer should list the 5 services: %s", r.Body)
	}
	// Discovery over HTTP/1.1 must record the SDK's request/response mode, or the server would
	// wait for a bidirectional stream the SDK never opens.
	r = s.AdminDo(t, http.MethodGet, "/deployments/"+dep.ID, nil)
	var info struct {
		ProtocolType string `json:"protocol_type"`
		HTTPVersion  string `json:"http_version"`
	}
	if r.Status != 200 || json.Unmarshal(r.Body, &info) != nil || info.ProtocolType != "RequestResponse" || info.HTTPVersion != "HTTP/1.1" {
		t.Fatalf("GET /deployments/%s: %d %s, want protocol_type RequestResponse over HTTP/1.1", dep.ID, r.Status, r.Body)
	}
	runScenarios(t, s)
}

func runScenarios(t *testing.T, s *th.Server) {
	t.Run("Call", func(t *testing.T) { testCall(t, s) })
	t.Run("ObjectState", func(t *testing.T) { testObjectState(t, s) })
	t.Run("Sleep", func(t *testing.T) { testSleep(t, s) })
	t.Run("Awakeable", func(t *testing.T) { testAwakeable(t, s) })
	t.Run("Workflow", func(t *testing.T) { testWorkflow(t, s) })
	// Last, and on the parent test: it restarts the server, and the harness reports a failed
	// restart on the test that started the server.
	testSleepSurvivesRestart(t, s)
}

// requestTimeout bounds every ingress request so a hung scenario fails instead of stalling the
// whole run.
const requestTimeout = 30 * time.Second

// send issues one ingress request; a non-empty body is sent as JSON.
func send(s *th.Server, method, path, body string) (th.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.Ingress+path, strings.NewReader(body))
	if err != nil {
		return th.Response{}, err
	}
	if body != "" {
		req.Header.Set("content-type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return th.Response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return th.Response{}, fmt.Errorf("%s %s: reading body: %w", method, path, err)
	}
	return th.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

func ingress(t *testing.T, s *th.Server, method, path, body string) th.Response {
	t.Helper()
	r, err := send(s, method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// expect fails unless the ingress answers path with exactly status and body.
func expect(t *testing.T, s *th.Server, method, path, body string, status int, want string) th.Response {
	t.Helper()
	r := ingress(t, s, method, path, body)
	if r.Status != status || string(r.Body) != want {
		t.Fatalf("%s %s %s: got %d %s, want %d %s", method, path, body, r.Status, r.Body, status, want)
	}
	return r
}

// sendAccepted submits a one-way invocation and returns its id.
func sendAccepted(t *testing.T, s *th.Server, path, body, wantStatus string) string {
	t.Helper()
	r := ingress(t, s, http.MethodPost, path, body)
	var ack struct{ InvocationID, Status string }
	if r.Status != http.StatusAccepted || json.Unmarshal(r.Body, &ack) != nil || ack.Status != wantStatus {
		t.Fatalf("POST %s: got %d %s, want 202 with status %q", path, r.Status, r.Body, wantStatus)
	}
	if !strings.HasPrefix(ack.InvocationID, "inv_1") || r.Header.Get("x-restate-id") != ack.InvocationID {
		t.Fatalf("POST %s: invocation id %q, x-restate-id %q", path, ack.InvocationID, r.Header.Get("x-restate-id"))
	}
	return ack.InvocationID
}

func testCall(t *testing.T, s *th.Server) {
	r := expect(t, s, "POST", "/Greeter/greet", `"bob"`, 200, `"hello bob"`)
	if ct := r.Header.Get("content-type"); ct != "application/json" {
		t.Errorf("content-type = %q, want application/json", ct)
	}
	if id := r.Header.Get("x-restate-id"); !strings.HasPrefix(id, "inv_1") {
		t.Errorf("x-restate-id = %q", id)
	}
	// callsCounter reaches Counter/call-1 through ctx.objectClient and returns its answer.
	expect(t, s, "POST", "/Greeter/callsCounter", `{"key":"call-1","delta":5}`, 200, `5`)
	expect(t, s, "POST", "/Greeter/callsCounter", `{"key":"call-1","delta":2}`, 200, `7`)
	expect(t, s, "POST", "/Counter/call-1/get", "", 200, `7`)
}

func testObjectState(t *testing.T, s *th.Server) {
	expect(t, s, "POST", "/Counter/obj-a/add", `3`, 200, `3`)
	expect(t, s, "POST", "/Counter/obj-a/add", `4`, 200, `7`)
	expect(t, s, "POST", "/Counter/obj-b/add", `10`, 200, `10`)
	expect(t, s, "POST", "/Counter/obj-a/get", "", 200, `7`)
	expect(t, s, "GET", "/Counter/obj-a/get", "", 200, `7`)
	r := expect(t, s, "POST", "/Counter/obj-a/clear", "", 200, ``)
	if ct := r.Header.Get("content-type"); ct != "" {
		t.Errorf("clear returns nothing, yet content-type = %q", ct)
	}
	expect(t, s, "POST", "/Counter/obj-a/get", "", 200, `0`)
	expect(t, s, "POST", "/Counter/obj-b/get", "", 200, `10`)

	// The SDK declares get shared and add exclusive; the schema must keep that.
	ar := s.AdminDo(t, http.MethodGet, "/services/Counter", nil)
	var svc struct {
		Ty       string `json:"ty"`
		Handlers []struct{ Name, Ty string }
	}
	if ar.Status != 200 || json.Unmarshal(ar.Body, &svc) != nil {
		t.Fatalf("GET /services/Counter: %d %s", ar.Status, ar.Body)
	}
	kinds := map[string]string{}
	for _, h := range svc.Handlers {
		kinds[h.Name] = h.Ty
	}
	if svc.Ty != "VirtualObject" || kinds["get"] != "Shared" || kinds["add"] != "Exclusive" || kinds["clear"] != "Exclusive" {
		t.Fatalf("Counter is %q with handler kinds %v", svc.Ty, kinds)
	}
}

func testSleep(t *testing.T, s *th.Server) {
	start := time.Now()
	expect(t, s, "POST", "/Sleeper/sleep", `1500`, 200, `"slept 1500"`)
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Fatalf("a 1500ms durable sleep answered after %s", d)
	}
}

func testSleepSurvivesRestart(t *testing.T, s *th.Server) {
	start := time.Now()
	id := sendAccepted(t, s, "/Sleeper/sleep/send", `3000`, "Accepted")
	// Let the invocation reach the service and suspend on its timer before the server stops.
	time.Sleep(500 * time.Millisecond)
	stopping := time.Now()
	s.Stop()
	s.Start()
	t.Logf("server restart took %s", time.Since(stopping))
	r := ingress(t, s, "GET", "/restate/invocation/"+id+"/attach", "")
	if r.Status != 200 || string(r.Body) != `"slept 3000"` {
		t.Fatalf("sleep across a restart: attach answered %d %s, want 200 \"slept 3000\"", r.Status, r.Body)
	}
	if d := time.Since(start); d < 3*time.Second {
		t.Fatalf("a 3000ms durable sleep interrupted by a restart answered after %s", d)
	}
}

func testAwakeable(t *testing.T, s *th.Server) {
	holdID := sendAccepted(t, s, "/AwakeableHolder/hold-1/hold/send", "", "Accepted")

	// getId is shared, so it answers while hold still owns the key's exclusive lock.
	var awakeableID string
	th.Eventually(t, 15*time.Second, func() error {
		r, err := send(s, "POST", "/AwakeableHolder/hold-1/getId", "")
		if err != nil {
			return err
		}
		if r.Status != 200 {
			return fmt.Errorf("getId: %d %s", r.Status, r.Body)
		}
		if err := json.Unmarshal(r.Body, &awakeableID); err != nil || !strings.HasPrefix(awakeableID, "sign_1") {
			return fmt.Errorf("getId returned %s, want an awakeable id", r.Body)
		}
		return nil
	})

	expect(t, s, "POST", "/restate/awakeables/"+awakeableID+"/resolve", `"sesame"`, 202, ``)
	expect(t, s, "GET", "/restate/invocation/"+holdID+"/attach", "", 200, `"got sesame"`)
	// Restate accepts a second completion of the same awakeable and drops it.
	expect(t, s, "POST", "/restate/awakeables/"+awakeableID+"/resolve", `"again"`, 202, ``)

	r := ingress(t, s, "POST", "/restate/awakeables/sign_1bogus/resolve", `"x"`)
	if r.Status != 400 || !strings.Contains(string(r.Body), "bad awakeable id") {
		t.Fatalf("resolving a malformed awakeable id: got %d %s, want 400 bad awakeable id", r.Status, r.Body)
	}
}

func testWorkflow(t *testing.T, s *th.Server) {
	const key = "/Signup/wf-1"
	expect(t, s, "POST", key+"/status", "", 200, `"unknown"`)
	runID := sendAccepted(t, s, key+"/run/send", `"a@b.c"`, "Accepted")
	th.Eventually(t, 15*time.Second, func() error {
		r, err := send(s, "POST", key+"/status", "")
		if err != nil {
			return err
		}
		if r.Status != 200 || string(r.Body) != `"waiting"` {
			return fmt.Errorf("status: %d %s", r.Status, r.Body)
		}
		return nil
	})

	// A workflow runs once per key: a second submission points at the first run.
	if again := sendAccepted(t, s, key+"/run/send", `"x@y.z"`, "PreviouslyAccepted"); again != runID {
		t.Fatalf("second run/send answered invocation %s, want the first run %s", again, runID)
	}
	r := ingress(t, s, "POST", key+"/run", `"x@y.z"`)
	if r.Status != 409 || !strings.Contains(string(r.Body), "the workflow method was already invoked") || r.Header.Get("x-restate-id") != runID {
		t.Fatalf("calling run again: got %d %s (x-restate-id %q), want 409 already invoked for %s", r.Status, r.Body, r.Header.Get("x-restate-id"), runID)
	}
	r = ingress(t, s, "GET", "/restate/workflow/Signup/wf-1/output", "")
	if r.Status != 470 {
		t.Fatalf("output of a running workflow: got %d %s, want 470", r.Status, r.Body)
	}

	// Attach before the run finishes; the answer arrives once confirm resolves the promise.
	type result struct {
		r   th.Response
		err error
	}
	attached := make(chan result, 1)
	go func() {
		r, err := send(s, "GET", "/restate/workflow/Signup/wf-1/attach", "")
		attached <- result{r, err}
	}()
	time.Sleep(200 * time.Millisecond)
	expect(t, s, "POST", key+"/confirm", `"1234"`, 200, `"ok"`)
	a := <-attached
	if a.err != nil {
		t.Fatal(a.err)
	}
	if a.r.Status != 200 || string(a.r.Body) != `"a@b.c confirmed with 1234"` || a.r.Header.Get("x-restate-id") != runID {
		t.Fatalf("attach: got %d %s (x-restate-id %q), want 200 \"a@b.c confirmed with 1234\" for %s", a.r.Status, a.r.Body, a.r.Header.Get("x-restate-id"), runID)
	}
	expect(t, s, "GET", "/restate/workflow/Signup/wf-1/output", "", 200, `"a@b.c confirmed with 1234"`)
	expect(t, s, "POST", key+"/status", "", 200, `"confirmed"`)

	// After completion the run stays taken.
	if again := sendAccepted(t, s, key+"/run/send", `"x@y.z"`, "PreviouslyAccepted"); again != runID {
		t.Fatalf("run/send after completion answered invocation %s, want %s", again, runID)
	}
	r = ingress(t, s, "POST", key+"/run", `"x@y.z"`)
	if r.Status != 409 {
		t.Fatalf("calling run after completion: got %d %s, want 409", r.Status, r.Body)
	}
	r = ingress(t, s, "GET", "/restate/workflow/Signup/never-started/attach", "")
	if r.Status != 404 {
		t.Fatalf("attach to a workflow never started: got %d %s, want 404", r.Status, r.Body)
	}
}
