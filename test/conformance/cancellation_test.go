package conformance

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/restatego/restate/internal/testservices/conformance"
)

// TestCancellation is the suite's Cancellation class: an invocation blocked in a call, a
// 1024-day sleep or an awakeable is canceled, from the admin API or from another handler;
// the 409 "canceled" failure reaches the caller, which records it, and the blocked object
// key is free again. The class runs in the default and the always-suspending suite.
func TestCancellation(t *testing.T) {
	for _, suite := range []struct {
		name string
		env  []string
	}{{"default", nil}, {"alwaysSuspending", alwaysSuspending}} {
		t.Run(suite.name, func(t *testing.T) {
			e := setup(t, suite.env)
			for _, op := range []conformance.BlockingOperation{conformance.BlockOnCall, conformance.BlockOnSleep, conformance.BlockOnAwakeable} {
				t.Run("adminAPI/"+string(op), func(t *testing.T) {
					t.Parallel()
					key := newID()
					id := e.send(t, "/CancelTestRunner/"+key+"/startTest", op, idem()...).InvocationID
					e.releaseHeldAwakeable(t, key)
					eventually(t, 20*time.Second, "the runner saw the cancellation", func() error {
						r := e.admin(t, http.MethodPatch, "/invocations/"+id+"/cancel", nil)
						switch r.Status {
						case http.StatusOK, http.StatusAccepted, http.StatusNotFound, http.StatusConflict:
						default:
							t.Fatalf("PATCH /invocations/%s/cancel: %d %s", id, r.Status, r.Body)
						}
						return e.runnerSawCancellation(key)
					})
					e.checkUnlocked(t, "CancelTestBlockingService", key)
					// startTest caught the 409 and completed normally.
					r := e.ingress(t, http.MethodGet, "/restate/invocation/"+id+"/attach", nil)
					if r.Status != http.StatusOK || len(r.Body) != 0 {
						t.Fatalf("attach to the runner: %d %q, want 200 with an empty body", r.Status, r.Body)
					}
				})
				t.Run("context/"+string(op), func(t *testing.T) {
					t.Parallel()
					key := newID()
					var id string
					e.call(t, "/Proxy/oneWayCall", conformance.ProxyRequest{
						ServiceName: "CancelTestRunner", VirtualObjectKey: key, HandlerName: "startTest",
						Message: mustJSON(t, op),
					}, &id, idem()...)
					e.releaseHeldAwakeable(t, key)
					eventually(t, 20*time.Second, "the runner saw the cancellation", func() error {
						e.call(t, "/TestUtilsService/cancelInvocation", id, nil, idem()...)
						return e.runnerSawCancellation(key)
					})
					e.checkUnlocked(t, "CancelTestBlockingService", key)
				})
			}
		})
	}
}

// releaseHeldAwakeable waits until a handler parked an awakeable in AwakeableHolder/{key}
// and resolves it.
func (e *env) releaseHeldAwakeable(t *testing.T, key string) {
	t.Helper()
	eventually(t, 20*time.Second, "an awakeable is held", func() error {
		r, err := request(http.MethodPost, "http://"+e.Ingress+"/AwakeableHolder/"+key+"/hasAwakeable", nil)
		if err != nil {
			return err
		}
		if r.Status != http.StatusOK || string(r.Body) != "true" {
			return fmt.Errorf("hasAwakeable: %d %s", r.Status, r.Body)
		}
		return nil
	})
	e.call(t, "/AwakeableHolder/"+key+"/unlock", "cancel", nil, idem()...)
}

// runnerSawCancellation asks CancelTestRunner/{key}/verifyTest, which queues behind
// startTest, for at most a second.
func (e *env) runnerSawCancellation(key string) error {
	r, err := requestWithin(time.Second, http.MethodPost, "http://"+e.Ingress+"/CancelTestRunner/"+key+"/verifyTest", nil, idem()...)
	if err != nil {
		return err
	}
	if r.Status != http.StatusOK || string(r.Body) != "true" {
		return fmt.Errorf("verifyTest: %d %s, want 200 true", r.Status, r.Body)
	}
	return nil
}

// checkUnlocked waits until an exclusive no-op handler on the key runs, i.e. no invocation
// holds the key any more.
func (e *env) checkUnlocked(t *testing.T, service, key string) {
	t.Helper()
	eventually(t, 20*time.Second, service+"/"+key+" is unlocked", func() error {
		r, err := requestWithin(2*time.Second, http.MethodPost, "http://"+e.Ingress+"/"+service+"/"+key+"/isUnlocked", nil, idem()...)
		if err != nil {
			return err
		}
		if r.Status != http.StatusOK {
			return fmt.Errorf("isUnlocked: %d %s", r.Status, r.Body)
		}
		return nil
	})
}
