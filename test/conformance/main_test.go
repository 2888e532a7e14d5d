// Package conformance replays the scenarios of Restate's SDK conformance suite
// (restatedev/e2e sdk-tests) against our server, using the services of
// internal/testservices/conformance. One test function per suite test class; each starts
// its own server and endpoint and runs the class's scenarios as subtests.
package conformance

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	th "github.com/restatego/restate/internal/testharness"
	"github.com/restatego/restate/internal/testservices/conformance"
)

func TestMain(m *testing.M) { th.Main(m) }

// Server settings of the suite's test suites.
var (
	// alwaysSuspending is the suite's "alwaysSuspending" suite: the server closes the
	// stream to the SDK as soon as it waits for anything, so every await suspends.
	alwaysSuspending = []string{"RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT=0s"}
)

// serverProcess is a server the scenarios can crash and restart.
type serverProcess interface {
	// Kill sends SIGKILL and waits for the process to exit.
	Kill()
	// Stop sends SIGTERM and waits for the process to exit.
	Stop()
	// Start starts the process again on the same ports and data and waits until healthy.
	Start()
}

// env is one server with the conformance endpoint registered.
type env struct {
	// Ingress and Admin are host:port of the server's listeners.
	Ingress, Admin string
	proc           serverProcess
	ep             *conformance.Endpoint
}

// setup starts a server with serverEnv and a conformance endpoint (bidirectional unless
// opts say otherwise), and registers the endpoint.
//
// With CONFORMANCE_SERVER_BIN set to another restate-server binary (say Restate's own), the
// scenarios run against that instead of ours: that is how their expectations were checked.
func setup(t *testing.T, serverEnv []string, opts ...conformance.Option) *env {
	t.Helper()
	e := &env{}
	if bin := os.Getenv("CONFORMANCE_SERVER_BIN"); bin != "" {
		x := startExternal(t, bin, serverEnv)
		e.Ingress, e.Admin, e.proc = x.ingress, x.admin, x
	} else {
		s := th.StartServer(t, serverEnv...)
		e.Ingress, e.Admin, e.proc = s.Ingress, s.Admin, s
	}
	ctx, cancel := context.WithCancel(context.Background())
	ep, err := conformance.Start(ctx, opts...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	e.ep = ep
	r := e.admin(t, http.MethodPost, "/deployments", map[string]any{"uri": ep.URL})
	if r.Status != http.StatusCreated {
		t.Fatalf("registering %s: %d %s", ep.URL, r.Status, r.Body)
	}
	return e
}

// newID returns a random key, like the suite's UUID.randomUUID().
func newID() string { return strings.ToLower(rand.Text()) }

// idem is the suite's idempotentCallOptions: a fresh idempotency key on the request, so
// retries by the client would not run the handler twice.
func idem() []string { return []string{"idempotency-key", newID()} }

var client = &http.Client{Timeout: 60 * time.Second}

// request sends a request and reads the whole answer. It does not fail the test, so it can
// be used from goroutines.
func request(method, url string, body []byte, header ...string) (th.Response, error) {
	return requestCtx(context.Background(), method, url, body, header...)
}

func requestCtx(ctx context.Context, method, url string, body []byte, header ...string) (th.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return th.Response{}, err
	}
	if body != nil {
		req.Header.Set("content-type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return th.Response{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return th.Response{}, fmt.Errorf("%s %s: reading the body: %w", method, url, err)
	}
	return th.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// requestWithin is request with a client-side time limit.
func requestWithin(limit time.Duration, method, url string, body []byte, header ...string) (th.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	return requestCtx(ctx, method, url, body, header...)
}

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }

// jsonInto decodes b into out, naming the bytes when they do not fit.
func jsonInto(b []byte, out any) error {
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%q does not decode into %T: %w", b, out, err)
	}
	return nil
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ingress sends body (JSON-encoded unless nil) to the ingress and returns the answer.
func (e *env) ingress(t testing.TB, method, path string, body any, header ...string) th.Response {
	t.Helper()
	r, err := request(method, "http://"+e.Ingress+path, mustJSON(t, body), header...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// call POSTs to the ingress and decodes a 200 answer into out (when out is not nil).
func (e *env) call(t testing.TB, path string, body any, out any, header ...string) th.Response {
	t.Helper()
	r := e.ingress(t, http.MethodPost, path, body, header...)
	if r.Status != http.StatusOK {
		t.Fatalf("POST %s: status %d, body %s; want 200", path, r.Status, r.Body)
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			t.Fatalf("POST %s: answer %q does not decode into %T: %v", path, r.Body, out, err)
		}
	}
	return r
}

// sendResponse is the ingress answer to a /send.
type sendResponse struct {
	InvocationID  string `json:"invocationId"`
	Status        string `json:"status"`
	ExecutionTime string `json:"executionTime,omitempty"`
}

// send POSTs to path + "/send" and returns the decoded 202 answer.
func (e *env) send(t testing.TB, path string, body any, header ...string) sendResponse {
	t.Helper()
	r := e.ingress(t, http.MethodPost, path+"/send", body, header...)
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST %s/send: status %d, body %s; want 202", path, r.Status, r.Body)
	}
	var s sendResponse
	if err := json.Unmarshal(r.Body, &s); err != nil || !strings.HasPrefix(s.InvocationID, "inv_1") {
		t.Fatalf("POST %s/send: answer %s is not {invocationId,status}: %v", path, r.Body, err)
	}
	if got := r.Header.Get("x-restate-id"); got != s.InvocationID {
		t.Fatalf("POST %s/send: x-restate-id %q, body invocationId %q", path, got, s.InvocationID)
	}
	return s
}

// admin sends a request to the admin API.
func (e *env) admin(t testing.TB, method, path string, body any) th.Response {
	t.Helper()
	r, err := request(method, "http://"+e.Admin+path, mustJSON(t, body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// errorBody is the JSON body of every ingress error in Restate 1.7: invocation failures
// (source "invocation") and the ingress's own refusals (source "ingress").
type errorBody struct {
	Code     int               `json:"code"`
	Message  string            `json:"message"`
	Metadata map[string]string `json:"metadata"`
	Source   string            `json:"source"`
}

// decodeError checks that r is an ingress error with the given HTTP status, code and source
// and returns its body.
func decodeError(t testing.TB, r th.Response, status int, source string) errorBody {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, body %s; want %d", r.Status, r.Body, status)
	}
	if ct := r.Header.Get("content-type"); ct != "application/json" {
		t.Fatalf("error content-type %q, body %s; want application/json", ct, r.Body)
	}
	var e errorBody
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %s is not {code,message,metadata?,source}: %v", r.Body, err)
	}
	if e.Code != status || e.Source != source {
		t.Fatalf("error body %s: want code %d and source %q", r.Body, status, source)
	}
	return e
}

// failure checks that r is the failure of an invocation with the given status.
func failure(t testing.TB, r th.Response, status int) errorBody {
	t.Helper()
	return decodeError(t, r, status, "invocation")
}

// refusal checks that r is the ingress refusing a request with status and message.
func refusal(t testing.TB, r th.Response, status int, message string) {
	t.Helper()
	if e := decodeError(t, r, status, "ingress"); e.Message != message {
		t.Fatalf("refusal message %q, want %q", e.Message, message)
	}
}

// eventually retries f every 100ms until it returns nil or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = f(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// async runs f in the background; wait returns its answer, failing the test if f failed or
// did not finish within timeout.
type async struct {
	done chan struct{}
	resp th.Response
	err  error
}

func goRequest(method, url string, body []byte, header ...string) *async {
	a := &async{done: make(chan struct{})}
	go func() {
		defer close(a.done)
		a.resp, a.err = request(method, url, body, header...)
	}()
	return a
}

func (a *async) wait(t testing.TB, timeout time.Duration) th.Response {
	t.Helper()
	select {
	case <-a.done:
	case <-time.After(timeout):
		t.Fatalf("request still running after %s", timeout)
	}
	if a.err != nil {
		t.Fatal(a.err)
	}
	return a.resp
}

// waitDone waits for the request to end, however it ended.
func (a *async) waitDone(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-a.done:
	case <-time.After(timeout):
		t.Fatalf("request still running after %s", timeout)
	}
}

// finished reports whether the request has answered.
func (a *async) finished() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}
