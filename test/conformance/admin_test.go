package conformance

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	c "github.com/restatego/restate/internal/testservices/conformance"
)

// TestInvocationManagement drives the admin API's invocation commands (cancel, kill, purge,
// purge-journal, restart-as-new, pause, resume) and state editing, and checks Restate's
// status codes. Not a class of the suite, which uses these through its admin client.
func TestInvocationManagement(t *testing.T) {
	e := setup(t, alwaysSuspending)

	// blocked starts an idempotent invocation that waits on an awakeable and returns its id,
	// the object key and the idempotency key.
	blocked := func(t *testing.T) (id, key, idemKey string) {
		key, idemKey = newID(), newID()
		id = e.send(t, interpretPath(key), interpretRequest(c.AwaitOne(c.CreateAwakeable("a"))), "idempotency-key", idemKey).InvocationID
		eventually(t, 20*time.Second, "the awakeable exists", func() error {
			return expectBody("http://"+e.Ingress+"/VirtualObjectCommandInterpreter/"+key+"/hasAwakeable", `"a"`, "true")
		})
		return id, key, idemKey
	}
	release := func(t *testing.T, key, value string) {
		e.call(t, "/VirtualObjectCommandInterpreter/"+key+"/resolveAwakeable", c.AwakeableRequest{AwakeableKey: "a", Value: value}, nil)
	}
	patch := func(t *testing.T, id, op string, want int) []byte {
		t.Helper()
		r := e.admin(t, http.MethodPatch, "/invocations/"+id+"/"+op, nil)
		if r.Status != want {
			t.Fatalf("PATCH /invocations/%s/%s: %d %s, want %d", id, op, r.Status, r.Body, want)
		}
		if want >= 400 {
			// Admin errors are {"message": ..., "restate_code": ...}.
			var body map[string]any
			if err := json.Unmarshal(r.Body, &body); err != nil || body["message"] == nil || len(body) != 2 {
				t.Fatalf("PATCH /invocations/%s/%s: error body %s, want {message,restate_code}", id, op, r.Body)
			}
			if _, ok := body["restate_code"]; !ok {
				t.Fatalf("PATCH /invocations/%s/%s: error body %s has no restate_code", id, op, r.Body)
			}
		}
		return r.Body
	}
	attach := func(t *testing.T, id string) (int, string) {
		r := e.ingress(t, http.MethodGet, "/restate/invocation/"+id+"/attach", nil)
		return r.Status, string(r.Body)
	}

	t.Run("unknownAndMalformedIds", func(t *testing.T) {
		t.Parallel()
		id := e.send(t, "/TestUtilsService/echo", "x").InvocationID
		// Same partition key, another uuid: well formed, never used.
		unknown := id[:len(id)-4] + strings.Repeat("0", 4)
		if unknown == id {
			unknown = id[:len(id)-4] + "1111"
		}
		for _, op := range []string{"cancel", "kill", "purge", "purge-journal", "resume", "pause"} {
			patch(t, unknown, op, http.StatusNotFound)
			patch(t, "inv_nonsense", op, http.StatusBadRequest)
		}
	})

	t.Run("cancelBlocked", func(t *testing.T) {
		t.Parallel()
		id, _, _ := blocked(t)
		patch(t, id, "cancel", http.StatusAccepted)
		// The SDK ends the invocation on the cancel signal; its message reaches the caller.
		if f := failure(t, e.ingress(t, http.MethodGet, "/restate/invocation/"+id+"/attach", nil), 409); f.Message != "Cancelled" {
			t.Fatalf("attach after cancel: %+v", f)
		}
		patch(t, id, "cancel", http.StatusConflict)
		patch(t, id, "kill", http.StatusConflict)
	})

	t.Run("killBlocked", func(t *testing.T) {
		t.Parallel()
		id, _, _ := blocked(t)
		patch(t, id, "kill", http.StatusOK)
		if f := failure(t, e.ingress(t, http.MethodGet, "/restate/invocation/"+id+"/attach", nil), 409); f.Message != "killed" {
			t.Fatalf("attach after kill: %+v", f)
		}
	})

	t.Run("purge", func(t *testing.T) {
		t.Parallel()
		id, key, idemKey := blocked(t)
		patch(t, id, "purge", http.StatusConflict)
		patch(t, id, "purge-journal", http.StatusConflict)
		release(t, key, "done")
		if st, body := attach(t, id); st != 200 || body != `"done"` {
			t.Fatalf("attach: %d %s", st, body)
		}
		patch(t, id, "purge-journal", http.StatusOK)
		if st, body := attach(t, id); st != 200 || body != `"done"` {
			t.Fatalf("attach after purge-journal: %d %s", st, body)
		}
		patch(t, id, "purge", http.StatusOK)
		refusal(t, e.ingress(t, http.MethodGet, "/restate/invocation/VirtualObjectCommandInterpreter/"+key+"/interpretCommands/"+idemKey+"/output", nil),
			404, "invocation not found")
		patch(t, id, "purge", http.StatusNotFound)
	})

	t.Run("restartAsNew", func(t *testing.T) {
		t.Parallel()
		id, key, _ := blocked(t)
		patch(t, id, "restart-as-new", http.StatusConflict)
		release(t, key, "first")
		if st, body := attach(t, id); st != 200 || body != `"first"` {
			t.Fatalf("attach: %d %s", st, body)
		}
		var out struct {
			NewInvocationID string `json:"new_invocation_id"`
		}
		if err := json.Unmarshal(patch(t, id, "restart-as-new", http.StatusOK), &out); err != nil || !strings.HasPrefix(out.NewInvocationID, "inv_1") || out.NewInvocationID == id {
			t.Fatalf("restart-as-new answer: %+v %v", out, err)
		}
		// The new invocation runs the same input again: a new awakeable under "a".
		eventually(t, 20*time.Second, "the restarted invocation waits again", func() error {
			return expectBody("http://"+e.Ingress+"/VirtualObjectCommandInterpreter/"+key+"/hasAwakeable", `"a"`, "true")
		})
		time.Sleep(200 * time.Millisecond)
		release(t, key, "second")
		if st, body := attach(t, out.NewInvocationID); st != 200 || body != `"second"` {
			t.Fatalf("attach to the restarted invocation: %d %s", st, body)
		}
	})

	t.Run("pauseAndResume", func(t *testing.T) {
		t.Parallel()
		// Restate 1.7 answers 200 to pausing a suspended invocation; a completion that
		// arrives afterwards still lets it finish.
		id, key, _ := blocked(t)
		patch(t, id, "pause", http.StatusOK)
		release(t, key, "later")
		if st, body := attach(t, id); st != 200 || body != `"later"` {
			t.Fatalf("attach: %d %s", st, body)
		}
		patch(t, id, "resume", http.StatusConflict)
		patch(t, id, "pause", http.StatusConflict)
	})

	t.Run("editState", func(t *testing.T) {
		t.Parallel()
		key := newID()
		e.call(t, "/Counter/"+key+"/add", 1, nil)
		r := e.admin(t, http.MethodPost, "/services/Counter/state", map[string]any{
			"object_key": key, "new_state": map[string][]int{"counter": {52, 49}},
		})
		if r.Status != http.StatusAccepted {
			t.Fatalf("POST /services/Counter/state: %d %s, want 202", r.Status, r.Body)
		}
		eventually(t, 10*time.Second, "the new state is visible", func() error { return counterIs(e, key, 41) })
		r = e.admin(t, http.MethodPost, "/services/TestUtilsService/state", map[string]any{
			"object_key": key, "new_state": map[string][]int{},
		})
		if r.Status != http.StatusBadRequest {
			t.Fatalf("state of a plain service: %d %s, want 400", r.Status, r.Body)
		}
	})
}
