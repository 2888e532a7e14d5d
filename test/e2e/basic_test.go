package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/restatego/restate/internal/testservices"
)

func startEndpoint(t *testing.T, bidi bool) *testservices.Endpoint {
	t.Helper()
	ep, err := testservices.Start(bidi)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ep.Close)
	return ep
}

// fastRetries makes the default retry policy quick so retry tests finish in milliseconds.
var fastRetries = []string{
	"RESTATE_DEFAULT_RETRY_POLICY__INITIAL_INTERVAL=20ms",
	"RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL=100ms",
}

func TestCallAndSend(t *testing.T) {
	s := startServer(t)
	ep := startEndpoint(t, true)
	s.Register(t, ep.URL)

	r := s.Call(t, "/Greeter/Greet", "bob")
	if r.Status != 200 || string(r.Body) != `"hello bob"` {
		t.Fatalf("call: %d %s", r.Status, r.Body)
	}
	if id := r.Header.Get("x-restate-id"); !strings.HasPrefix(id, "inv_1") || len(id) != 38 {
		t.Fatalf("x-restate-id = %q", id)
	}
	if ct := r.Header.Get("content-type"); ct != "application/json" {
		t.Fatalf("content-type = %q", ct)
	}

	r = s.Call(t, "/Greeter/Greet/send", "alice")
	if r.Status != http.StatusAccepted {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if m["status"] != "Accepted" || !strings.HasPrefix(fmt.Sprint(m["invocationId"]), "inv_1") || m["invocationId"] != r.Header.Get("x-restate-id") {
		t.Fatalf("send body: %s", r.Body)
	}

	// Byte-exact payloads survive the round trip.
	r = do(t, "POST", "http://"+s.Ingress+"/Greeter/Echo", []byte(`{"z": [1, 2.50, "\u00e9"], "a": null}`))
	// The SDK's JSON codec compacts; everything else (number spelling, escapes, key order) stays.
	if r.Status != 200 || string(r.Body) != `{"z":[1,2.50,"\u00e9"],"a":null}` {
		t.Fatalf("echo: %d %s", r.Status, r.Body)
	}
}

func TestIngressErrors(t *testing.T) {
	s := startServer(t)
	ep := startEndpoint(t, true)
	s.Register(t, ep.URL)

	cases := []struct {
		method, path, ct, body string
		status                 int
		msg                    string
	}{
		{"POST", "/Nope/greet", "application/json", `"x"`, 404, "service 'Nope' not found"},
		{"POST", "/Greeter/nope", "application/json", `"x"`, 404, "handler 'nope' was not found"},
		{"POST", "/Greeter/Greet/extra", "application/json", `"x"`, 400, "bad path"},
		{"POST", "/Greeter/Greet", "text/plain", `x`, 400, "input validation error"},
		{"POST", "/Greeter/Greet?delay=10s", "application/json", `"x"`, 400, "delay"},
		{"POST", "/Greeter/Greet/send?delay=banana", "application/json", `"x"`, 400, "bad delay"},
		{"PUT", "/Greeter/Greet", "application/json", `"x"`, 405, "method"},
		{"POST", "/Counter/Add", "application/json", `1`, 400, "bad path"},
		{"GET", "/restate/nothing", "", ``, 404, "not found"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, "http://"+s.Ingress+c.path, strings.NewReader(c.body))
		if c.ct != "" {
			req.Header.Set("content-type", c.ct)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(fmt.Sprint(m["message"]), c.msg) {
			t.Errorf("%s %s: got %d %v, want %d containing %q", c.method, c.path, resp.StatusCode, m, c.status, c.msg)
		}
	}

	r := do(t, "GET", "http://"+s.Ingress+"/restate/health", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"Greeter"`) {
		t.Fatalf("health: %d %s", r.Status, r.Body)
	}
}

func TestRetriesAndTerminalErrors(t *testing.T) {
	s := startServer(t, fastRetries...)
	ep := startEndpoint(t, true)
	s.Register(t, ep.URL)

	r := s.Call(t, "/Failing/FailTimes", testservices.FailTimesRequest{Key: "a", Times: 3})
	if r.Status != 200 || string(r.Body) != "4" {
		t.Fatalf("FailTimes: %d %s", r.Status, r.Body)
	}
	if got := ep.Recorder.Get("attempt/a"); got != 4 {
		t.Fatalf("attempts = %d, want 4", got)
	}

	r = s.Call(t, "/Failing/Terminal", "boom")
	if r.Status != 418 {
		t.Fatalf("Terminal: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if m["code"] != float64(418) || m["message"] != "boom" {
		t.Fatalf("Terminal body: %s", r.Body)
	}
}

func TestRunSideEffectRunsOnce(t *testing.T) {
	for _, bidi := range []bool{true, false} {
		t.Run(fmt.Sprintf("bidi=%v", bidi), func(t *testing.T) {
			s := startServer(t, fastRetries...)
			ep := startEndpoint(t, bidi)
			s.Register(t, ep.URL)
			r := s.Call(t, "/Failing/RunThenFail", testservices.FailTimesRequest{Key: "k", Times: 3})
			if r.Status != 200 || string(r.Body) != `"effect-1"` {
				t.Fatalf("RunThenFail: %d %s", r.Status, r.Body)
			}
			if got := ep.Recorder.Get("effect/k"); got != 1 {
				t.Fatalf("side effect ran %d times, want 1", got)
			}
			if got := ep.Recorder.Get("after/k"); got != 4 {
				t.Fatalf("handler body after the side effect ran %d times, want 4", got)
			}
		})
	}
}

func TestSleepSuspendsAndResumes(t *testing.T) {
	for _, bidi := range []bool{true, false} {
		t.Run(fmt.Sprintf("bidi=%v", bidi), func(t *testing.T) {
			s := startServer(t, "RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT=200ms")
			ep := startEndpoint(t, bidi)
			s.Register(t, ep.URL)
			start := time.Now()
			r := s.Call(t, "/Sleeper/RunSleepRun", testservices.SleepRequest{Key: "s", Millis: 800})
			if r.Status != 200 || string(r.Body) != `"1/1"` {
				t.Fatalf("RunSleepRun: %d %s", r.Status, r.Body)
			}
			if el := time.Since(start); el < 800*time.Millisecond {
				t.Fatalf("returned after %s, before the sleep ended", el)
			}
		})
	}
}

func TestCounterObject(t *testing.T) {
	s := startServer(t)
	ep := startEndpoint(t, true)
	s.Register(t, ep.URL)
	for i := 1; i <= 5; i++ {
		r := s.Call(t, "/Counter/c1/Add", 2)
		if r.Status != 200 || string(r.Body) != fmt.Sprint(2*i) {
			t.Fatalf("add %d: %d %s", i, r.Status, r.Body)
		}
	}
	r := s.Call(t, "/Counter/c1/Get", nil)
	if r.Status != 200 || string(r.Body) != "10" {
		t.Fatalf("get: %d %s", r.Status, r.Body)
	}
	r = s.Call(t, "/Counter/other/Get", nil)
	if r.Status != 200 || string(r.Body) != "0" {
		t.Fatalf("get other: %d %s", r.Status, r.Body)
	}
}

// TestMetricsOnNodeAndAdminPorts: Prometheus metrics are served on the node port and, as
// Restate's compose guides expect, on the admin port, with the same families.
func TestMetricsOnNodeAndAdminPorts(t *testing.T) {
	s := startServer(t)
	for _, addr := range []string{s.Node, s.Admin} {
		r := do(t, http.MethodGet, "http://"+addr+"/metrics", nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "# TYPE go_goroutines gauge") {
			t.Fatalf("GET %s/metrics: %d %.300s", addr, r.Status, r.Body)
		}
	}
	if r := s.AdminDo(t, http.MethodPost, "/metrics", nil); r.Status == http.StatusOK {
		t.Fatalf("POST /metrics on the admin port answered 200")
	}
}
