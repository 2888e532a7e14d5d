package conformance

import (
	"testing"
)

// TestRunFlush is the suite's RunFlush class: with every await suspending, each run waits
// for the server to acknowledge its result, so the final attempt replays all runs and
// executes none of them.
func TestRunFlush(t *testing.T) {
	e := setup(t, alwaysSuspending)
	var n int
	e.call(t, "/TestUtilsService/countExecutedSideEffects", 3, &n, idem()...)
	if n != 0 {
		t.Fatalf("the final attempt executed %d runs, want 0", n)
	}
}

// TestRunRetry is the suite's RunRetry class: a failing run is retried (each retry is a new
// attempt of the invocation) until it succeeds, or until its own retry policy runs out, at
// which point the failure becomes terminal inside the handler. Attempts are counted per
// object key, so the counts are exact.
func TestRunRetry(t *testing.T) {
	e := setup(t, nil)
	for _, tc := range []struct {
		name, handler string
		attempts      int
	}{
		{"withSuccess", "sideEffectSucceedsAfterGivenAttempts", 3},
		{"executedOnlyOnce", "sideEffectFailsAfterGivenAttempts", 1},
		{"withExhaustedAttempts", "sideEffectFailsAfterGivenAttempts", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var n int
			e.call(t, "/Failing/"+newID()+"/"+tc.handler, tc.attempts, &n, idem()...)
			if n != tc.attempts {
				t.Fatalf("the run executed %d times, want %d", n, tc.attempts)
			}
		})
	}
}
