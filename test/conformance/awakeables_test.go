package conformance

import (
	"net/http"
	"testing"
	"time"

	c "github.com/restatego/restate/internal/testservices/conformance"
)

// TestAwakeables completes awakeables through the ingress API
// (/restate/awakeables/{id}/resolve|reject), as Restate clients do from outside.
func TestAwakeables(t *testing.T) {
	e := setup(t, alwaysSuspending)

	// await starts an invocation awaiting one awakeable and returns its invocation id and the
	// awakeable id.
	await := func(t *testing.T) (invocation, awakeable string) {
		key := newID()
		invocation = e.send(t, interpretPath(key), interpretRequest(c.AwaitOne(c.CreateAwakeable("a"))), idem()...).InvocationID
		eventually(t, 20*time.Second, "the awakeable exists", func() error {
			r, err := request(http.MethodPost, "http://"+e.Ingress+"/VirtualObjectCommandInterpreter/"+key+"/awakeableId", []byte(`"a"`))
			if err != nil {
				return err
			}
			if r.Status != http.StatusOK {
				return errorf("awakeableId: %d %s", r.Status, r.Body)
			}
			return jsonInto(r.Body, &awakeable)
		})
		if len(awakeable) < 6 || (awakeable[:6] != "sign_1" && awakeable[:6] != "prom_1") {
			t.Fatalf("awakeable id %q", awakeable)
		}
		return invocation, awakeable
	}

	t.Run("resolve", func(t *testing.T) {
		t.Parallel()
		inv, awk := await(t)
		r := e.ingress(t, http.MethodPost, "/restate/awakeables/"+awk+"/resolve", "hello")
		if r.Status != http.StatusAccepted || len(r.Body) != 0 {
			t.Fatalf("resolve: %d %q, want 202 and no body", r.Status, r.Body)
		}
		r = e.ingress(t, http.MethodGet, "/restate/invocation/"+inv+"/attach", nil)
		if r.Status != http.StatusOK || string(r.Body) != `"hello"` {
			t.Fatalf("attach: %d %s, want 200 \"hello\"", r.Status, r.Body)
		}
		// Through the short alias, a second resolve is accepted and changes nothing.
		r = e.ingress(t, http.MethodPost, "/restate/a/"+awk+"/resolve", "again")
		if r.Status != http.StatusAccepted {
			t.Fatalf("second resolve: %d %s, want 202", r.Status, r.Body)
		}
		r = e.ingress(t, http.MethodGet, "/restate/invocation/"+inv+"/output", nil)
		if r.Status != http.StatusOK || string(r.Body) != `"hello"` {
			t.Fatalf("output: %d %s, want 200 \"hello\"", r.Status, r.Body)
		}
	})

	t.Run("reject", func(t *testing.T) {
		t.Parallel()
		inv, awk := await(t)
		r, err := request(http.MethodPost, "http://"+e.Ingress+"/restate/awakeables/"+awk+"/reject", []byte("it broke"), "content-type", "text/plain")
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusAccepted || len(r.Body) != 0 {
			t.Fatalf("reject: %d %q, want 202 and no body", r.Status, r.Body)
		}
		r = e.ingress(t, http.MethodGet, "/restate/invocation/"+inv+"/attach", nil)
		if f := failure(t, r, 500); f.Code != 500 || f.Message != "it broke" {
			t.Fatalf("attach: %+v, want code 500 message \"it broke\"", f)
		}
	})

	t.Run("badRequests", func(t *testing.T) {
		t.Parallel()
		decodeError(t, e.ingress(t, http.MethodPost, "/restate/awakeables/not-an-id/resolve", "x"), 400, "ingress")
		_, awk := await(t)
		r := e.ingress(t, http.MethodGet, "/restate/awakeables/"+awk+"/resolve", nil)
		if r.Status != http.StatusMethodNotAllowed {
			t.Fatalf("GET resolve: %d %s, want 405", r.Status, r.Body)
		}
	})
}
