package conformance

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	c "github.com/restatego/restate/internal/testservices/conformance"
)

// TestSleep is the suite's Sleep class: a short sleep takes at least its duration, and many
// concurrent invocations with many timers each all complete.
func TestSleep(t *testing.T) {
	e := setup(t, nil)

	t.Run("sleep", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		var out string
		e.call(t, interpretPath(newID()), interpretRequest(c.AwaitOne(c.SleepFor(10))), &out, idem()...)
		if el := time.Since(start); el < 10*time.Millisecond {
			t.Fatalf("a 10ms sleep answered after %s", el)
		}
		if out != "sleep" {
			t.Fatalf("got %q", out)
		}
	})

	t.Run("manySleeps", func(t *testing.T) {
		t.Parallel()
		const invocations, sleepsEach = 50, 20
		want := strings.TrimSuffix(strings.Repeat("ok:sleep|", sleepsEach), "|")
		var wg sync.WaitGroup
		errs := make(chan error, invocations)
		for range invocations {
			sleeps := make([]c.AwaitableCommand, sleepsEach)
			for j := range sleeps {
				sleeps[j] = c.SleepFor(10 + rand.Int64N(41))
			}
			body := mustJSON(t, interpretRequest(c.AwaitAllCompleted(sleeps...)))
			wg.Go(func() {
				r, err := requestWithin(60*time.Second, "POST", "http://"+e.Ingress+interpretPath(newID()), body, idem()...)
				if err == nil && (r.Status != 200 || string(r.Body) != fmt.Sprintf("%q", want)) {
					err = fmt.Errorf("interpretCommands: %d %s", r.Status, r.Body)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}
