package conformance

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// journalMismatch starts the SDK's journal mismatch message.
const journalMismatch = "Found a mismatch between the code paths taken during the previous execution and the paths taken during this execution."

// TestNonDeterminismErrors is the suite's NonDeterminismErrors class: a handler that takes a
// different path on replay makes the SDK report a journal mismatch; with one attempt and
// kill-on-max-attempts the invocation fails, and the increment the handler would have sent
// afterwards never happens. Only meaningful when every await suspends.
func TestNonDeterminismErrors(t *testing.T) {
	e := setup(t, append([]string{
		"RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS=1",
		"RESTATE_DEFAULT_RETRY_POLICY__ON_MAX_ATTEMPTS=kill",
		"RESTATE_DEFAULT_RETRY_POLICY__INITIAL_INTERVAL=1ms",
	}, alwaysSuspending...))
	for _, handler := range []string{"eitherSleepOrCall", "callDifferentMethod", "backgroundInvokeWithDifferentTargets", "setDifferentKey"} {
		t.Run(handler, func(t *testing.T) {
			t.Parallel()
			e.call(t, "/Counter/"+handler+"/add", 1, nil, idem()...)

			r := e.ingress(t, http.MethodPost, "/NonDeterministic/"+handler+"/"+handler, nil, idem()...)
			// The SDK's mismatch error is what the caller sees, though the server killed the
			// invocation after its single attempt.
			f := failure(t, r, 570)
			if f.Code != 570 || !strings.HasPrefix(f.Message, journalMismatch) {
				t.Fatalf("failure %+v, want code 570 and a journal mismatch message", f)
			}
			// Give a wrongly applied increment time to land before checking it did not.
			time.Sleep(300 * time.Millisecond)
			if err := counterIs(e, handler, 1); err != nil {
				t.Fatal(err)
			}
		})
	}
}
