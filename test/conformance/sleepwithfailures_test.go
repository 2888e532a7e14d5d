package conformance

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

// TestSleepWithFailures is the suite's SleepWithFailures class: a 4s sleep survives the
// service endpoint being killed in the middle of it. We add the same with the server
// killed (SIGKILL) mid-sleep; the caller then re-attaches by idempotency key.
func TestSleepWithFailures(t *testing.T) {
	const sleep = 4 * time.Second
	e := setup(t, alwaysSuspending)
	midSleep := func() time.Duration {
		return sleep/4 + time.Duration(rand.Int64N(int64(sleep/4)))
	}
	body := mustJSON(t, []int64{sleep.Milliseconds()})

	t.Run("sleepAndKillServiceEndpoint", func(t *testing.T) {
		start := time.Now()
		call := goRequest(http.MethodPost, "http://"+e.Ingress+"/TestUtilsService/sleepConcurrently", body, idem()...)
		time.Sleep(midSleep())
		if err := e.ep.Restart(200 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if r := call.wait(t, 30*time.Second); r.Status != http.StatusOK {
			t.Fatalf("sleepConcurrently: %d %s", r.Status, r.Body)
		}
		if el := time.Since(start); el < sleep {
			t.Fatalf("a %s sleep answered after %s", sleep, el)
		}
	})

	t.Run("sleepAndKillServer", func(t *testing.T) {
		idemKey := newID()
		start := time.Now()
		call := goRequest(http.MethodPost, "http://"+e.Ingress+"/TestUtilsService/sleepConcurrently", body, "idempotency-key", idemKey)
		time.Sleep(midSleep())
		e.proc.Kill()
		// The caller's connection died with the server.
		call.waitDone(t, 10*time.Second)
		e.proc.Start()
		eventually(t, 30*time.Second, "attach after the restart", func() error {
			r, err := requestWithin(20*time.Second, http.MethodGet,
				"http://"+e.Ingress+"/restate/invocation/TestUtilsService/sleepConcurrently/"+idemKey+"/attach", nil)
			if err != nil {
				return err
			}
			if r.Status != http.StatusOK {
				return errorf("attach: %d %s", r.Status, r.Body)
			}
			return nil
		})
		if el := time.Since(start); el < sleep {
			t.Fatalf("a %s sleep answered after %s", sleep, el)
		}
	})
}
