package conformance

import (
	"net/http"
	"slices"
	"testing"
	"time"

	c "github.com/restatego/restate/internal/testservices/conformance"
)

// TestServiceToServiceCommunication is the suite's ServiceToServiceCommunication class:
// calls and one-way sends between services, with idempotency keys and with a delay.
func TestServiceToServiceCommunication(t *testing.T) {
	e := setup(t, nil)

	t.Run("regularCall", func(t *testing.T) {
		t.Parallel()
		var out c.Bytes
		e.call(t, "/Proxy/call", c.ProxyRequest{ServiceName: "TestUtilsService", HandlerName: "uppercaseEcho", Message: c.Bytes(`"ping"`)}, &out, idem()...)
		if string(out) != `"PING"` {
			t.Fatalf("got %q, want \"PING\"", out)
		}
	})

	t.Run("oneWayCall", func(t *testing.T) {
		t.Parallel()
		key := newID()
		e.call(t, "/Proxy/oneWayCall", c.ProxyRequest{ServiceName: "Counter", VirtualObjectKey: key, HandlerName: "add", Message: c.Bytes("1")}, nil, idem()...)
		eventually(t, 10*time.Second, "counter is 1", func() error { return counterIs(e, key, 1) })
	})

	// outputByKey reads the stored answer of Counter/{key}/add under an idempotency key.
	outputByKey := func(t *testing.T, key, idemKey string) {
		t.Helper()
		r := e.ingress(t, http.MethodGet, "/restate/invocation/Counter/"+key+"/add/"+idemKey+"/output", nil)
		if r.Status != http.StatusOK || string(r.Body) != `{"oldValue":0,"newValue":1}` {
			t.Fatalf("output by idempotency key: %d %s, want 200 {\"oldValue\":0,\"newValue\":1}", r.Status, r.Body)
		}
	}

	t.Run("oneWayCallWithIdempotencyKey", func(t *testing.T) {
		t.Parallel()
		key, idemKey := newID(), newID()
		req := c.ProxyRequest{ServiceName: "Counter", VirtualObjectKey: key, HandlerName: "add", Message: c.Bytes("1"), IdempotencyKey: idemKey}
		var first, second string
		e.call(t, "/Proxy/oneWayCall", req, &first)
		e.call(t, "/Proxy/oneWayCall", req, &second)
		if first != second {
			t.Fatalf("sends with one idempotency key got ids %s and %s", first, second)
		}
		eventually(t, 10*time.Second, "counter is 1", func() error { return counterIs(e, key, 1) })
		outputByKey(t, key, idemKey)
	})

	t.Run("callWithIdempotencyKey", func(t *testing.T) {
		t.Parallel()
		key, idemKey := newID(), newID()
		req := c.ProxyRequest{ServiceName: "Counter", VirtualObjectKey: key, HandlerName: "add", Message: c.Bytes("1"), IdempotencyKey: idemKey}
		for range 2 {
			var out c.Bytes
			e.call(t, "/Proxy/call", req, &out)
			if string(out) != `{"oldValue":0,"newValue":1}` {
				t.Fatalf("call answered %s", out)
			}
		}
		if err := counterIs(e, key, 1); err != nil {
			t.Fatal(err)
		}
		outputByKey(t, key, idemKey)
	})

	t.Run("oneWayCallWithDelay", func(t *testing.T) {
		t.Parallel()
		key := newID()
		start := time.Now()
		for range 10 {
			e.call(t, "/Proxy/oneWayCall", c.ProxyRequest{ServiceName: "Counter", VirtualObjectKey: key, HandlerName: "add", Message: c.Bytes("1"), DelayMillis: 5000}, nil, idem()...)
		}
		time.Sleep(time.Second)
		if err := counterIs(e, key, 0); err != nil {
			t.Fatalf("1s into a 5s delay: %v", err)
		}
		eventually(t, 25*time.Second, "counter is 10", func() error { return counterIs(e, key, 10) })
		// The delay runs before the sends queue on the key: ten times 5s in sequence would
		// take 50s.
		if el := time.Since(start); el < 5*time.Second || el > 20*time.Second {
			t.Fatalf("the delayed sends completed after %s, want between 5s and 20s", el)
		}
	})

	t.Run("manyCallsAwaitedAtTheEnd", func(t *testing.T) {
		t.Parallel()
		list := newID()
		var calls []c.ManyCallRequest
		for i := range 5 {
			calls = append(calls, c.ManyCallRequest{ProxyRequest: c.ProxyRequest{
				ServiceName: "ListObject", VirtualObjectKey: list, HandlerName: "append", Message: mustJSON(t, string(rune('a'+i))),
			}, AwaitAtTheEnd: true})
		}
		e.call(t, "/Proxy/manyCalls", calls, nil, idem()...)
		var got []string
		e.call(t, "/ListObject/"+list+"/get", nil, &got)
		if !slices.Equal(got, []string{"a", "b", "c", "d", "e"}) {
			t.Fatalf("list %q", got)
		}
	})
}
