package e2e

import (
	"net/http"
	"testing"
)

// An empty idempotency-key header is a key, as in Restate 1.7: repeating a call with it
// answers the first call's result without running the handler again, and a send with it is
// "PreviouslyAccepted". Without the header every call runs.
func TestEmptyIdempotencyKeyIsAKey(t *testing.T) {
	s := startServer(t)
	ep := startEndpoint(t, true)
	s.Register(t, ep.URL)

	first := s.Call(t, "/Counter/empty-key/Add", 5, "idempotency-key", "")
	if first.Status != http.StatusOK || string(first.Body) != "5" {
		t.Fatalf("first: %d %s", first.Status, first.Body)
	}
	again := s.Call(t, "/Counter/empty-key/Add", 5, "idempotency-key", "")
	if again.Status != http.StatusOK || string(again.Body) != "5" {
		t.Fatalf("repeated with the empty key: %d %s, want the first answer 5", again.Status, again.Body)
	}
	if a, b := first.Header.Get("x-restate-id"), again.Header.Get("x-restate-id"); a == "" || a != b {
		t.Fatalf("x-restate-id %q then %q, want the same invocation", a, b)
	}
	if first.Header.Get("idempotency-expires") == "" {
		t.Errorf("no idempotency-expires header on an idempotent call")
	}
	sent := s.Call(t, "/Counter/empty-key/Add/send", 5, "idempotency-key", "")
	if st, _ := sent.JSON(t)["status"].(string); sent.Status != http.StatusAccepted || st != "PreviouslyAccepted" {
		t.Fatalf("send with the empty key: %d %s", sent.Status, sent.Body)
	}
	// Without the header the handler runs each time.
	for _, want := range []string{"10", "15"} {
		if r := s.Call(t, "/Counter/empty-key/Add", 5); r.Status != http.StatusOK || string(r.Body) != want {
			t.Fatalf("call without a key: %d %s, want %s", r.Status, r.Body, want)
		}
	}
}
