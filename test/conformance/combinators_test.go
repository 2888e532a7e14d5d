package conformance

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	c "github.com/restatego/restate/internal/testservices/conformance"
)

// TestCombinators is the suite's Combinators class: racing and joining awakeables, timers,
// runs and signals inside one invocation. Runs in the default and always-suspending suites,
// and with the endpoint in request-response mode.
func TestCombinators(t *testing.T) {
	for _, suite := range []struct {
		name string
		env  []string
		opts []c.Option
	}{{"default", nil, nil}, {"alwaysSuspending", alwaysSuspending, nil}, {"requestResponse", nil, []c.Option{c.RequestResponse()}}} {
		t.Run(suite.name, func(t *testing.T) {
			e := setup(t, suite.env, suite.opts...)
			combinatorScenarios(t, e)
		})
	}
}

func interpretPath(key string) string {
	return "/VirtualObjectCommandInterpreter/" + key + "/interpretCommands"
}

func interpretRequest(cmds ...c.Command) c.InterpretRequest {
	return c.InterpretRequest{Commands: cmds}
}

func combinatorScenarios(t *testing.T, e *env) {
	t.Run("awakeableOrTimeoutUsingAwaitAny", func(t *testing.T) {
		t.Parallel()
		var out string
		e.call(t, interpretPath(newID()), interpretRequest(c.AwaitAny(c.CreateAwakeable("awk1"), c.SleepFor(100))), &out, idem()...)
		if out != "sleep" {
			t.Fatalf("got %q, want sleep", out)
		}
	})

	t.Run("awakeableOrTimeoutUsingAwakeableTimeoutCommand", func(t *testing.T) {
		t.Parallel()
		r := e.ingress(t, http.MethodPost, interpretPath(newID()), interpretRequest(c.AwaitAwakeableOrTimeout("should-timeout-awk", 100)), idem()...)
		if f := failure(t, r, 500); f.Code != 500 || f.Message != c.AwaitTimeoutMessage {
			t.Fatalf("failure %+v, want code 500 message %q", f, c.AwaitTimeoutMessage)
		}
	})

	t.Run("firstSuccessfulCompletedAwakeable", func(t *testing.T) {
		t.Parallel()
		key := newID()
		obj := "http://" + e.Ingress + "/VirtualObjectCommandInterpreter/" + key
		result := goRequest(http.MethodPost, "http://"+e.Ingress+interpretPath(key), mustJSON(t, interpretRequest(c.AwaitAnySuccessful(
			c.CreateAwakeable("awk0"), c.RunThrowTerminalException("run0"),
			c.CreateAwakeable("awk1"), c.RunThrowTerminalException("run1"),
			c.CreateAwakeable("awk2"), c.RunThrowTerminalException("run2"),
		))), idem()...)
		eventually(t, 20*time.Second, "awk2 is created", func() error {
			return expectBody(obj+"/hasAwakeable", `"awk2"`, "true")
		})
		for _, k := range []string{`"awk0"`, `"awk1"`} {
			if err := expectBody(obj+"/hasAwakeable", k, "true"); err != nil {
				t.Fatal(err)
			}
		}
		// Rejecting awk2 completes nothing: the runs failed already, awk0 and awk1 are open.
		e.call(t, "/VirtualObjectCommandInterpreter/"+key+"/rejectAwakeable", c.AwakeableRequest{AwakeableKey: "awk2", Reason: "fail"}, nil, idem()...)
		time.Sleep(200 * time.Millisecond)
		if result.finished() {
			r := result.wait(t, 0)
			t.Fatalf("interpretCommands answered %d %s after only awk2 was rejected", r.Status, r.Body)
		}
		e.call(t, "/VirtualObjectCommandInterpreter/"+key+"/resolveAwakeable", c.AwakeableRequest{AwakeableKey: "awk1", Value: "awk1-result"}, nil, idem()...)
		if r := result.wait(t, 20*time.Second); r.Status != 200 || string(r.Body) != `"awk1-result"` {
			t.Fatalf("interpretCommands: %d %s, want 200 \"awk1-result\"", r.Status, r.Body)
		}
		var results []string
		e.call(t, "/VirtualObjectCommandInterpreter/"+key+"/getResults", nil, &results)
		if !slices.Equal(results, []string{"awk1-result"}) {
			t.Fatalf("results state %q", results)
		}
	})

	signal := func(t *testing.T, id, name, value string, reject bool) {
		t.Helper()
		if reject {
			e.call(t, "/TestUtilsService/rejectSignal", c.RejectSignalRequest{InvocationID: id, SignalName: name, Reason: value}, nil, idem()...)
		} else {
			e.call(t, "/TestUtilsService/resolveSignal", c.ResolveSignalRequest{InvocationID: id, SignalName: name, Value: value}, nil, idem()...)
		}
	}
	// signalScenario sends interpretCommands with cmd, completes signals, then attaches.
	type completion struct {
		name, value string
		reject      bool
	}
	signalScenario := func(name string, cmd c.Command, completions []completion, want string) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			id := e.send(t, interpretPath(newID()), interpretRequest(cmd), idem()...).InvocationID
			for _, s := range completions {
				signal(t, id, s.name, s.value, s.reject)
			}
			r := e.ingress(t, http.MethodGet, "/restate/invocation/"+id+"/attach", nil)
			if r.Status != http.StatusOK || string(r.Body) != fmt.Sprintf("%q", want) {
				t.Fatalf("attach: %d %s, want 200 %q", r.Status, r.Body, want)
			}
		})
	}
	sigs := []c.AwaitableCommand{c.CreateSignal("sig0"), c.CreateSignal("sig1"), c.CreateSignal("sig2")}
	signalScenario("signalFirstSuccessfulOrAllFailed", c.AwaitAnySuccessful(sigs...),
		[]completion{{"sig0", "fail0", true}, {"sig2", "fail2", true}, {"sig1", "success1", false}}, "success1")
	signalScenario("signalAllSuccessfulOrFirstFailed", c.AwaitAllSucceededOrFirstFailed(sigs...),
		[]completion{{"sig0", "val0", false}, {"sig1", "val1", false}, {"sig2", "val2", false}}, "val0|val1|val2")
	signalScenario("signalAllCompleted", c.AwaitAllCompleted(sigs...),
		[]completion{{"sig0", "val0", false}, {"sig1", "err1", true}, {"sig2", "val2", false}}, "ok:val0|err:err1|ok:val2")
	signalScenario("signalFirstCompleted", c.AwaitAny(sigs...), []completion{{"sig1", "first", false}}, "first")
	signalScenario("mixedSignalWinsAfterRunFails",
		c.AwaitFirstSucceededOrAllFailed(c.RunThrowTerminalException("fail"), c.CreateSignal("sig")),
		[]completion{{"sig", "sigval", false}}, "sigval")
	signalScenario("mixedAllSucceededRunAndSignal",
		c.AwaitAllSucceededOrFirstFailed(c.RunReturns("runval"), c.CreateSignal("sig")),
		[]completion{{"sig", "sigval", false}}, "runval|sigval")
	signalScenario("mixedAllCompletedRunSignalAndFailedRun",
		c.AwaitAllCompleted(c.RunReturns("runval"), c.CreateSignal("sig"), c.RunThrowTerminalException("fail")),
		[]completion{{"sig", "sigval", false}}, "ok:runval|ok:sigval|err:fail")

	t.Run("mixedRunWinsRaceAgainstSignal", func(t *testing.T) {
		t.Parallel()
		var out string
		e.call(t, interpretPath(newID()), interpretRequest(c.AwaitFirstCompleted(c.CreateSignal("sig"), c.RunReturns("runval"))), &out, idem()...)
		if out != "runval" {
			t.Fatalf("got %q, want runval", out)
		}
	})
}

// expectBody POSTs body to url and checks for 200 with the given answer.
func expectBody(url, body, want string) error {
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	r, err := request(http.MethodPost, url, b)
	if err != nil {
		return err
	}
	if r.Status != http.StatusOK || string(r.Body) != want {
		return fmt.Errorf("POST %s %s: %d %s, want 200 %s", url, body, r.Status, r.Body, want)
	}
	return nil
}
