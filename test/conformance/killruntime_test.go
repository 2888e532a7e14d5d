package conformance

import (
	"net/http"
	"testing"
	"time"

	c "github.com/restatego/restate/internal/testservices/conformance"
)

// TestKillRuntime is the suite's KillRuntime and StopRuntime classes: the server is killed
// with SIGKILL (or stopped with SIGTERM) and restarted; object state and completed idempotent
// invocations survive. Runs in the always-suspending setting, as the suite tags it.
func TestKillRuntime(t *testing.T) {
	for _, mode := range []string{"kill", "stop"} {
		t.Run(mode, func(t *testing.T) {
			e := setup(t, alwaysSuspending)
			path := "/Counter/my-key/add"
			firstKey := newID()
			var res c.CounterUpdateResponse
			e.call(t, path, 1, &res, "idempotency-key", firstKey)
			if res != (c.CounterUpdateResponse{OldValue: 0, NewValue: 1}) {
				t.Fatalf("first add: %+v", res)
			}
			if mode == "kill" {
				e.proc.Kill()
			} else {
				e.proc.Stop()
			}
			e.proc.Start()

			secondKey := newID()
			eventually(t, 60*time.Second, "the second add succeeds", func() error {
				r, err := requestWithin(5*time.Second, http.MethodPost, "http://"+e.Ingress+path, []byte("2"), "idempotency-key", secondKey)
				if err != nil {
					return err
				}
				if r.Status != http.StatusOK || string(r.Body) != `{"oldValue":1,"newValue":3}` {
					return errorf("second add: %d %s", r.Status, r.Body)
				}
				return nil
			})
			// The first idempotent call is remembered across the restart and not re-run.
			e.call(t, path, 1, &res, "idempotency-key", firstKey)
			if res != (c.CounterUpdateResponse{OldValue: 0, NewValue: 1}) {
				t.Fatalf("repeating the first add after the restart: %+v", res)
			}
			if err := counterIs(e, "my-key", 3); err != nil {
				t.Fatal(err)
			}
		})
	}
}
