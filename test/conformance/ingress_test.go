package conformance

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	c "github.com/restatego/restate/internal/testservices/conformance"
)

// notCompleted is Restate's answer to output of a running invocation.
const notCompleted = "the invocation exists but has not completed yet"

// TestIngress is the suite's Ingress class (headers, raw bytes, and the idempotent call,
// send and attach scenarios of its earlier versions), plus attach/output by invocation id
// and by idempotency key.
func TestIngress(t *testing.T) {
	// The short cleanup interval lets completed idempotent invocations expire within the test.
	e := setup(t, []string{"RESTATE_WORKER__CLEANUP_INTERVAL=1s"})

	t.Run("headersPassThrough", func(t *testing.T) {
		t.Parallel()
		var headers map[string]string
		e.call(t, "/TestUtilsService/echoHeaders", nil, &headers,
			"idempotency-key", newID(), "x-my-custom-header", "x-my-custom-value")
		if headers["x-my-custom-header"] != "x-my-custom-value" {
			t.Fatalf("the handler saw headers %v", headers)
		}
	})

	t.Run("rawHandler", func(t *testing.T) {
		t.Parallel()
		in := make([]byte, 100)
		rand.Read(in)
		r, err := request(http.MethodPost, "http://"+e.Ingress+"/TestUtilsService/rawEcho", in,
			append(idem(), "content-type", "application/octet-stream")...)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusOK || !bytes.Equal(r.Body, in) {
			t.Fatalf("rawEcho: %d %x, want 200 %x", r.Status, r.Body, in)
		}
		if ct := r.Header.Get("content-type"); ct != "application/octet-stream" {
			t.Fatalf("rawEcho content-type %q", ct)
		}
	})

	t.Run("idempotentInvokeVirtualObject", func(t *testing.T) {
		t.Parallel()
		// Completed idempotent Counter invocations are kept for 3 seconds only.
		r := e.admin(t, http.MethodPatch, "/services/Counter", map[string]any{"idempotency_retention": "3s"})
		if r.Status != http.StatusOK {
			t.Fatalf("PATCH /services/Counter: %d %s", r.Status, r.Body)
		}
		path := "/Counter/" + newID() + "/add"
		idemKey := newID()
		var res c.CounterUpdateResponse
		first := e.call(t, path, 2, &res, "idempotency-key", idemKey)
		if res != (c.CounterUpdateResponse{OldValue: 0, NewValue: 2}) {
			t.Fatalf("first add: %+v", res)
		}
		second := e.call(t, path, 2, &res, "idempotency-key", idemKey)
		if res != (c.CounterUpdateResponse{OldValue: 0, NewValue: 2}) {
			t.Fatalf("repeated add ran again: %+v", res)
		}
		if a, b := first.Header.Get("x-restate-id"), second.Header.Get("x-restate-id"); a == "" || a != b {
			t.Fatalf("x-restate-id %q then %q, want the same id", a, b)
		}
		eventually(t, 15*time.Second, "the idempotency key expired and the add ran again", func() error {
			r, err := request(http.MethodPost, "http://"+e.Ingress+path, []byte("2"), "idempotency-key", idemKey)
			if err != nil {
				return err
			}
			if r.Status != http.StatusOK || string(r.Body) != `{"oldValue":2,"newValue":4}` {
				return errorf("add: %d %s", r.Status, r.Body)
			}
			return nil
		})
	})

	t.Run("invokedByInSysInvocation", func(t *testing.T) {
		t.Parallel()
		key := newID()
		e.call(t, "/Proxy/call", c.ProxyRequest{ServiceName: "Counter", VirtualObjectKey: key, HandlerName: "add", Message: c.Bytes("1")}, nil)
		q := fmt.Sprintf("SELECT invoked_by, invoked_by_service_name, invoked_by_target FROM sys_invocation WHERE target_service_name = 'Counter' AND target_service_key = '%s'", key)
		r, err := request(http.MethodPost, "http://"+e.Admin+"/query", mustJSON(t, map[string]string{"query": q}), "accept", "application/json")
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			Rows []map[string]string `json:"rows"`
		}
		if err := json.Unmarshal(r.Body, &res); err != nil || len(res.Rows) != 1 {
			t.Fatalf("query: %d %s (%v)", r.Status, r.Body, err)
		}
		if row := res.Rows[0]; row["invoked_by"] != "service" || row["invoked_by_service_name"] != "Proxy" || row["invoked_by_target"] != "Proxy/call" {
			t.Fatalf("the callee's caller columns: %v", row)
		}
	})

	t.Run("idempotentInvokeService", func(t *testing.T) {
		t.Parallel()
		key, idemKey := newID(), newID()
		req := c.ProxyRequest{ServiceName: "Counter", VirtualObjectKey: key, HandlerName: "add", Message: c.Bytes("2"), IdempotencyKey: idemKey}
		var id1, id2 string
		e.call(t, "/Proxy/oneWayCall", req, &id1, idem()...)
		e.call(t, "/Proxy/oneWayCall", req, &id2, idem()...)
		if id1 != id2 {
			t.Fatalf("two sends with one idempotency key got ids %s and %s", id1, id2)
		}
		eventually(t, 10*time.Second, "counter is 2", func() error { return counterIs(e, key, 2) })
		var res c.CounterUpdateResponse
		e.call(t, "/Counter/"+key+"/add", 2, &res, idem()...)
		if res != (c.CounterUpdateResponse{OldValue: 2, NewValue: 4}) {
			t.Fatalf("add after the idempotent sends: %+v", res)
		}
	})

	t.Run("idempotentInvokeSend", func(t *testing.T) {
		t.Parallel()
		key, idemKey := newID(), newID()
		first := e.send(t, "/Counter/"+key+"/add", 2, "idempotency-key", idemKey)
		second := e.send(t, "/Counter/"+key+"/add", 2, "idempotency-key", idemKey)
		if first.Status != "Accepted" || second.Status != "PreviouslyAccepted" {
			t.Fatalf("send statuses %q then %q, want Accepted then PreviouslyAccepted", first.Status, second.Status)
		}
		if first.InvocationID != second.InvocationID {
			t.Fatalf("ids %s and %s differ", first.InvocationID, second.InvocationID)
		}
		eventually(t, 10*time.Second, "counter is 2", func() error { return counterIs(e, key, 2) })
		var res c.CounterUpdateResponse
		e.call(t, "/Counter/"+key+"/add", 2, &res, idem()...)
		if res != (c.CounterUpdateResponse{OldValue: 2, NewValue: 4}) {
			t.Fatalf("add after the idempotent sends: %+v", res)
		}
	})

	t.Run("idempotentSendThenAttachWithIdempotencyKey", func(t *testing.T) {
		t.Parallel()
		key, idemKey := newID(), newID()
		sent := e.send(t, interpretPath(key), interpretRequest(c.AwaitOne(c.CreateAwakeable("a"))), "idempotency-key", idemKey)
		if sent.Status != "Accepted" {
			t.Fatalf("send status %q", sent.Status)
		}
		byKey := "/restate/invocation/VirtualObjectCommandInterpreter/" + key + "/interpretCommands/" + idemKey
		attached := goRequest(http.MethodGet, "http://"+e.Ingress+byKey+"/attach", nil)

		refusal(t, e.ingress(t, http.MethodGet, byKey+"/output", nil), 470, notCompleted)
		time.Sleep(100 * time.Millisecond)
		if attached.finished() {
			r := attached.wait(t, 0)
			t.Fatalf("attach answered %d %s before the invocation finished", r.Status, r.Body)
		}

		eventually(t, 20*time.Second, "the awakeable exists", func() error {
			return expectBody("http://"+e.Ingress+"/VirtualObjectCommandInterpreter/"+key+"/hasAwakeable", `"a"`, "true")
		})
		e.call(t, "/VirtualObjectCommandInterpreter/"+key+"/resolveAwakeable", c.AwakeableRequest{AwakeableKey: "a", Value: "response"}, nil, idem()...)

		if r := attached.wait(t, 20*time.Second); r.Status != 200 || string(r.Body) != `"response"` {
			t.Fatalf("attach: %d %s, want 200 \"response\"", r.Status, r.Body)
		} else if r.Header.Get("x-restate-id") != sent.InvocationID {
			t.Errorf("attach x-restate-id %q, want %s", r.Header.Get("x-restate-id"), sent.InvocationID)
		}
		r := e.ingress(t, http.MethodGet, byKey+"/output", nil)
		if r.Status != 200 || string(r.Body) != `"response"` {
			t.Fatalf("output after completion: %d %s, want 200 \"response\"", r.Status, r.Body)
		}
		// The same answers by invocation id.
		for _, op := range []string{"attach", "output"} {
			r = e.ingress(t, http.MethodGet, "/restate/invocation/"+sent.InvocationID+"/"+op, nil)
			if r.Status != 200 || string(r.Body) != `"response"` {
				t.Fatalf("%s by id: %d %s, want 200 \"response\"", op, r.Status, r.Body)
			}
		}
	})

	t.Run("attachAndOutputOfAServiceByIdempotencyKey", func(t *testing.T) {
		t.Parallel()
		idemKey := newID()
		sent := e.send(t, "/TestUtilsService/sleepConcurrently", []int64{1500}, "idempotency-key", idemKey)
		byKey := "/restate/invocation/TestUtilsService/sleepConcurrently/" + idemKey
		refusal(t, e.ingress(t, http.MethodGet, byKey+"/output", nil), 470, notCompleted)
		refusal(t, e.ingress(t, http.MethodGet, "/restate/invocation/"+sent.InvocationID+"/output", nil), 470, notCompleted)
		start := time.Now()
		r := e.ingress(t, http.MethodGet, byKey+"/attach", nil)
		if r.Status != 200 || len(r.Body) != 0 {
			t.Fatalf("attach: %d %q, want 200 and no body", r.Status, r.Body)
		}
		if time.Since(start) < 500*time.Millisecond {
			t.Fatalf("attach answered after %s, before the 1.5s sleep could end", time.Since(start))
		}
		r = e.ingress(t, http.MethodGet, byKey+"/output", nil)
		if r.Status != 200 {
			t.Fatalf("output after completion: %d %s", r.Status, r.Body)
		}
	})

	t.Run("delayedSend", func(t *testing.T) {
		t.Parallel()
		key := newID()
		before := time.Now()
		e.send(t, "/Counter/"+key+"/add", 1)
		r := e.ingress(t, http.MethodPost, "/Counter/"+key+"/add/send?delay=1500ms", 1)
		if r.Status != http.StatusAccepted {
			t.Fatalf("delayed send: %d %s", r.Status, r.Body)
		}
		var delayed sendResponse
		if err := jsonInto(r.Body, &delayed); err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339Nano, delayed.ExecutionTime)
		if err != nil || at.Before(before.Add(1400*time.Millisecond)) || at.After(time.Now().Add(1600*time.Millisecond)) {
			t.Fatalf("delayed send answered %s, want executionTime about 1.5s from now (%v)", r.Body, err)
		}
		eventually(t, 5*time.Second, "the undelayed add ran", func() error { return counterIs(e, key, 1) })
		if time.Now().Before(at.Add(-100 * time.Millisecond)) {
			if err := counterIs(e, key, 1); err != nil {
				t.Fatalf("before the delay passed: %v", err)
			}
		}
		eventually(t, 10*time.Second, "the delayed add ran", func() error { return counterIs(e, key, 2) })
		if time.Now().Before(at) {
			t.Fatalf("the delayed add ran before %s", at)
		}
		decodeError(t, e.ingress(t, http.MethodPost, "/Counter/"+key+"/add?delay=1s", 1), 400, "ingress")
	})

	t.Run("attachErrors", func(t *testing.T) {
		t.Parallel()
		// Restate 1.7 keeps the result of plain invocations too (1.5 answered 400 here).
		id := e.send(t, "/TestUtilsService/echo", "x").InvocationID
		eventually(t, 10*time.Second, "output of a plain invocation", func() error {
			r, err := request(http.MethodGet, "http://"+e.Ingress+"/restate/invocation/"+id+"/output", nil)
			if err != nil {
				return err
			}
			if r.Status != http.StatusOK || string(r.Body) != `"x"` {
				return errorf("output: %d %s, want 200 \"x\"", r.Status, r.Body)
			}
			return nil
		})
		refusal(t, e.ingress(t, http.MethodGet, "/restate/invocation/TestUtilsService/echo/"+newID()+"/output", nil), 404, "invocation not found")
		// Attaching to a workflow that never ran fails like an invocation (Restate 1.7.12).
		if f := failure(t, e.ingress(t, http.MethodGet, "/restate/workflow/BlockAndWaitWorkflow/"+newID()+"/attach", nil), 404); f.Message != "not found" {
			t.Fatalf("attach to an unknown workflow: %+v", f)
		}
		decodeError(t, e.ingress(t, http.MethodGet, "/restate/invocation/not-an-id/attach", nil), 400, "ingress")
		r := e.ingress(t, http.MethodPost, "/restate/invocation/"+id+"/attach", nil)
		if r.Status != http.StatusMethodNotAllowed {
			t.Fatalf("POST attach: %d %s, want 405", r.Status, r.Body)
		}
	})
}
