package conformance

import (
	"net/http"
	"testing"
	"time"
)

// TestKillInvocation is the suite's KillInvocation class: killing the root of a call tree
// whose leaf waits for itself on the same object key ends the whole tree and frees the key.
func TestKillInvocation(t *testing.T) {
	e := setup(t, nil)
	key := newID()
	id := e.send(t, "/KillTestRunner/"+key+"/startCallTree", nil, idem()...).InvocationID
	e.releaseHeldAwakeable(t, key)

	// The kill may arrive before the tree is fully built; retry until the admin API takes it.
	eventually(t, 20*time.Second, "the kill is accepted", func() error {
		r := e.admin(t, http.MethodPatch, "/invocations/"+id+"/kill", nil)
		if r.Status != http.StatusOK {
			return errorf("PATCH /invocations/%s/kill: %d %s", id, r.Status, r.Body)
		}
		return nil
	})
	e.checkUnlocked(t, "KillTestSingleton", key)

	r := e.ingress(t, http.MethodGet, "/restate/invocation/"+id+"/attach", nil)
	if f := failure(t, r, http.StatusConflict); f.Code != 409 || f.Message != "killed" {
		t.Fatalf("attach to the killed runner: %+v, want code 409 message killed", f)
	}
	r = e.admin(t, http.MethodPatch, "/invocations/"+id+"/kill", nil)
	if r.Status != http.StatusConflict {
		t.Fatalf("killing again: %d %s, want 409", r.Status, r.Body)
	}
}
