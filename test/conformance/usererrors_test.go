package conformance

import (
	"maps"
	"net/http"
	"testing"

	c "github.com/restatego/restate/internal/testservices/conformance"
)

// TestUserErrors is the suite's UserErrors class: terminal errors, with their metadata,
// reach the ingress caller from handlers, from called handlers and from runs; a state write
// before a terminal error is kept; retryable errors are retried until success.
func TestUserErrors(t *testing.T) {
	e := setup(t, []string{
		"RESTATE_DEFAULT_RETRY_POLICY__INITIAL_INTERVAL=10ms",
		"RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL=10ms",
		"RESTATE_DEFAULT_RETRY_POLICY__EXPONENTIATION_FACTOR=1.0",
		"RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS=unlimited",
		"RESTATE_DEFAULT_RETRY_POLICY__ON_MAX_ATTEMPTS=kill",
	})
	metadata := map[string]string{"key1": "value1", "key2": "value2"}

	// expectFailure calls Failing/{random key}/{handler} and checks the failure body.
	expectFailure := func(t *testing.T, handler string, f c.FailureToPropagate) {
		t.Helper()
		r := e.ingress(t, http.MethodPost, "/Failing/"+newID()+"/"+handler, f, idem()...)
		got := failure(t, r, http.StatusInternalServerError)
		if got.Code != 500 || got.Message != f.ErrorMessage {
			t.Fatalf("%s: failure %+v, want code 500 message %q", handler, got, f.ErrorMessage)
		}
		want := f.Metadata
		if want == nil {
			want = map[string]string{}
		}
		if got.Metadata == nil {
			got.Metadata = map[string]string{}
		}
		if !maps.Equal(got.Metadata, want) {
			t.Fatalf("%s: metadata %v, want %v", handler, got.Metadata, want)
		}
	}

	for _, tc := range []struct{ name, handler, message string }{
		{"invokeTerminallyFailingCall", "terminallyFailingCall", "my error"},
		{"internalCallFailurePropagation", "callTerminallyFailingCall", "propagated error"},
		{"sideEffectWithTerminalError", "terminallyFailingSideEffect", "failed side effect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Several times: the endpoint must stay healthy after a failure.
			for range 3 {
				expectFailure(t, tc.handler, c.FailureToPropagate{ErrorMessage: tc.message})
			}
		})
		t.Run(tc.name+"WithMetadata", func(t *testing.T) {
			t.Parallel()
			for range 3 {
				expectFailure(t, tc.handler, c.FailureToPropagate{ErrorMessage: tc.message + " with metadata", Metadata: metadata})
			}
		})
	}

	t.Run("setStateThenFailShouldPersistState", func(t *testing.T) {
		t.Parallel()
		key := "my-failure-counter-" + newID()
		r := e.ingress(t, http.MethodPost, "/Counter/"+key+"/addThenFail", 1, idem()...)
		if f := failure(t, r, http.StatusInternalServerError); f.Message != key {
			t.Fatalf("failure %+v, want message %q", f, key)
		}
		if err := counterIs(e, key, 1); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("invocationWithEventualSuccess", func(t *testing.T) {
		t.Parallel()
		var n int
		e.call(t, "/Failing/"+newID()+"/failingCallWithEventualSuccess", nil, &n, idem()...)
		if n != c.EventualSuccessAttempt {
			t.Fatalf("succeeded on attempt %d, want %d", n, c.EventualSuccessAttempt)
		}
	})
}
