package conformance

import (
	"net/http"
	"testing"
	"time"

	c "github.com/restatego/restate/internal/testservices/conformance"
)

// TestPrimitivesSurviveKill leaves a workflow blocked on its durable promise, an object blocked
// on an awakeable and a durable timer pending, kills the server with SIGKILL and restarts it:
// each of them then completes with the value it was given after the restart.
func TestPrimitivesSurviveKill(t *testing.T) {
	e := setup(t, nil)

	wfKey := newID()
	wf := "/BlockAndWaitWorkflow/" + wfKey
	if s := e.send(t, wf+"/run", "before-crash"); s.Status != "Accepted" {
		t.Fatalf("workflow send: %+v", s)
	}
	eventually(t, 20*time.Second, "the workflow stored its state", func() error {
		return expectBody("http://"+e.Ingress+wf+"/getState", "", `"before-crash"`)
	})

	objKey := newID()
	held := e.send(t, interpretPath(objKey), interpretRequest(c.AwaitOne(c.CreateAwakeable("a"))), idem()...).InvocationID
	eventually(t, 20*time.Second, "the awakeable exists", func() error {
		return expectBody("http://"+e.Ingress+"/VirtualObjectCommandInterpreter/"+objKey+"/hasAwakeable", `"a"`, "true")
	})

	sleepKey := newID()
	sleeper := e.send(t, interpretPath(sleepKey), interpretRequest(c.AwaitOne(c.SleepFor(1500))), idem()...).InvocationID

	e.proc.Kill()
	e.proc.Start()

	eventually(t, 30*time.Second, "the workflow's shared handler answers after the restart", func() error {
		return expectBody("http://"+e.Ingress+wf+"/getState", "", `"before-crash"`)
	})
	e.call(t, wf+"/unblock", "after-crash", nil, idem()...)
	if r := e.ingress(t, http.MethodGet, "/restate/workflow/BlockAndWaitWorkflow/"+wfKey+"/attach", nil); r.Status != 200 || string(r.Body) != `"after-crash"` {
		t.Fatalf("workflow attach: %d %s", r.Status, r.Body)
	}

	e.call(t, "/VirtualObjectCommandInterpreter/"+objKey+"/resolveAwakeable", c.AwakeableRequest{AwakeableKey: "a", Value: "woken"}, nil)
	if r := e.ingress(t, http.MethodGet, "/restate/invocation/"+held+"/attach", nil); r.Status != 200 || string(r.Body) != `"woken"` {
		t.Fatalf("awakeable holder attach: %d %s", r.Status, r.Body)
	}

	if r := e.ingress(t, http.MethodGet, "/restate/invocation/"+sleeper+"/attach", nil); r.Status != 200 {
		t.Fatalf("sleeper attach: %d %s", r.Status, r.Body)
	}
}
