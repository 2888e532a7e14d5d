package admin

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/restatego/restate/internal/netguard"
)

// Deployment answers never show credentials: user info in the URI and the values of
// credential headers are hidden, other headers are shown.
func TestDeploymentAnswersHideCredentials(t *testing.T) {
	e := newEnv(t)
	a := newCannedEndpoint(t, greeterV1)
	uri := strings.Replace(a.URL, "http://", "http://svcuser:pa55word@", 1)
	r := e.do("POST", "/deployments", map[string]any{"uri": uri, "additional_headers": map[string]string{
		"Authorization": "Bearer hdr-secret", "X-Api-Key": "key-secret", "X-Route": "blue"}})
	if r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	// The schema keeps the real values for the calls.
	dep := e.reg.Snapshot().Deployment(id)
	if !strings.Contains(dep.URI, "svcuser:pa55word@") || dep.AdditionalHeaders["authorization"] != "Bearer hdr-secret" {
		t.Fatalf("stored deployment lost its credentials: %+v", dep)
	}
	for _, path := range []string{"/deployments", "/deployments/" + id, "/v2/deployments/" + id} {
		r := e.do("GET", path, nil)
		body := string(r.body)
		for _, secret := range []string{"pa55word", "svcuser", "hdr-secret", "key-secret"} {
			if strings.Contains(body, secret) {
				t.Errorf("%s shows %q: %s", path, secret, body)
			}
		}
		if !strings.Contains(body, `"http://REDACTED@`) || !strings.Contains(body, `"authorization":"[redacted]"`) ||
			!strings.Contains(body, `"x-route":"blue"`) {
			t.Errorf("%s: %s", path, body)
		}
	}
	// A PATCH answer too.
	r = e.do("PATCH", "/deployments/"+id, map[string]any{"additional_headers": map[string]string{"cookie": "c=cookie-secret"}})
	if r.status != 200 || strings.Contains(string(r.body), "cookie-secret") || strings.Contains(string(r.body), "pa55word") {
		t.Errorf("patch: %d %s", r.status, r.body)
	}
}

func TestCheckDeploymentRefusesWith400(t *testing.T) {
	allow, err := netguard.Parse("deployment-allowed-addresses", []string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	var discovered atomic.Int32
	e := newEnv(t, func(o *Options) { o.CheckDeployment = allow.CheckURI })
	counting := startH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { discovered.Add(1) }))
	r := e.do("POST", "/deployments", map[string]any{"uri": counting})
	expectError(t, r, 400, "", "is not allowed by deployment-allowed-addresses")
	if !strings.Contains(string(r.body), "127.0.0.1") {
		t.Errorf("message does not name the address: %s", r.body)
	}
	if discovered.Load() != 0 {
		t.Error("a refused deployment was contacted")
	}

	// Updates are checked too.
	e2 := newEnv(t, func(o *Options) {
		o.CheckDeployment = func(ctx context.Context, uri string) error {
			if strings.Contains(uri, "localhost") {
				return allow.CheckURI(ctx, uri)
			}
			return nil
		}
	})
	a := newCannedEndpoint(t, greeterV1)
	r = e2.do("POST", "/deployments", map[string]any{"uri": a.URL})
	if r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	moved := strings.Replace(a.URL, "127.0.0.1", "localhost", 1)
	expectError(t, e2.do("PATCH", "/deployments/"+id, map[string]any{"uri": moved}), 400, "", "resolved from localhost")
}
