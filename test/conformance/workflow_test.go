package conformance

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestWorkflowAPI is the suite's WorkflowAPI class: a workflow runs once per key, its
// shared handlers read its state and resolve its durable promise, and its result stays
// available to attach and output; a second submission is only acknowledged. Runs in the
// default and always-suspending suites.
func TestWorkflowAPI(t *testing.T) {
	for _, suite := range []struct {
		name string
		env  []string
	}{{"default", nil}, {"alwaysSuspending", alwaysSuspending}} {
		t.Run(suite.name, func(t *testing.T) {
			e := setup(t, suite.env)
			t.Run("setAndResolve", func(t *testing.T) { workflowSetAndResolve(t, e) })
		})
	}
}

func workflowSetAndResolve(t *testing.T, e *env) {
	id := newID()
	wf := "/BlockAndWaitWorkflow/" + id
	handle := "/restate/workflow/BlockAndWaitWorkflow/" + id
	sent := e.send(t, wf+"/run", "Francesco")
	if sent.Status != "Accepted" {
		t.Fatalf("send status %q", sent.Status)
	}
	eventually(t, 20*time.Second, "the workflow stored its state", func() error {
		return expectBody("http://"+e.Ingress+wf+"/getState", "", `"Francesco"`)
	})
	refusal(t, e.ingress(t, http.MethodGet, handle+"/output", nil), 470, notCompleted)
	// Calling run again does not attach: it fails at once.
	if f := failure(t, e.ingress(t, http.MethodPost, wf+"/run", "again"), 409); f.Message != "the workflow method was already invoked" {
		t.Fatalf("second run call: %+v", f)
	}

	e.call(t, wf+"/unblock", "Till", nil, idem()...)

	r := e.ingress(t, http.MethodGet, handle+"/attach", nil)
	if r.Status != http.StatusOK || string(r.Body) != `"Till"` {
		t.Fatalf("attach: %d %s, want 200 \"Till\"", r.Status, r.Body)
	}
	if r.Header.Get("x-restate-id") != sent.InvocationID {
		t.Errorf("attach x-restate-id %q, want %s", r.Header.Get("x-restate-id"), sent.InvocationID)
	}
	r = e.ingress(t, http.MethodGet, handle+"/output", nil)
	if r.Status != http.StatusOK || string(r.Body) != `"Till"` {
		t.Fatalf("output: %d %s, want 200 \"Till\"", r.Status, r.Body)
	}

	again := e.send(t, wf+"/run", "Francesco")
	if again.Status != "PreviouslyAccepted" || again.InvocationID != sent.InvocationID {
		t.Fatalf("second send %+v, want PreviouslyAccepted with id %s", again, sent.InvocationID)
	}
	r = e.ingress(t, http.MethodGet, handle+"/output", nil)
	if r.Status != http.StatusOK || string(r.Body) != `"Till"` {
		t.Fatalf("output after the second send: %d %s, want 200 \"Till\"", r.Status, r.Body)
	}
	// Shared handlers keep working on the finished workflow.
	if err := expectBody("http://"+e.Ingress+wf+"/getState", "", `"Francesco"`); err != nil {
		t.Fatal(err)
	}
	// A workflow run cannot take an idempotency key.
	r = e.ingress(t, http.MethodPost, "/BlockAndWaitWorkflow/"+newID()+"/run", "x", idem()...)
	if f := decodeError(t, r, 400, "ingress"); !strings.HasPrefix(f.Message, "cannot use the idempotency key with workflow handlers") {
		t.Fatalf("run with an idempotency key: %+v", f)
	}
}
