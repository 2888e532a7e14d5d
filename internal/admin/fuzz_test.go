package admin

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/restatego/restate/internal/discovery"
	"github.com/restatego/restate/internal/schema"
	"github.com/restatego/restate/internal/schema/schematest"
)

// FuzzAdminJSON sends arbitrary JSON bodies to the admin routes that take one: every answer
// is a status, never a panic, and bad input is never a 500 (except a registration whose
// deployment cannot be reached, which Restate also answers with a 500). The discovery client
// dials nothing, so a fuzzed deployment URI cannot reach the network.
func FuzzAdminJSON(f *testing.F) {
	routes := []struct{ method, path string }{
		{http.MethodPost, "/deployments"},
		{http.MethodPatch, "/deployments/dp_14LtPwEmRAb9H1NSY2Hw1Pb"},
		{http.MethodPatch, "/services/Greeter"},
		{http.MethodPost, "/services/Greeter/state"},
		{http.MethodPost, "/query"},
	}
	for i, body := range []string{
		`{"uri":"http://svc:9080","force":true,"dry_run":true}`,
		`{"arn":"arn:aws:lambda:eu-central-1:1:function:f"}`,
		`{"uri":"http://svc:9080","additional_headers":{"x":"y"},"use_http_11":true}`,
		`{"public":false,"idempotency_retention":"1d","inactivity_timeout":"PT1M"}`,
		`{"object_key":"k","new_state":{"a":[1,2,3]},"version":"v1"}`,
		`{"query":"SELECT 1"}`,
		`{"uri":"` + "\x00" + `"}`, `[]`, `null`, `{"uri":1e999}`, `{`,
	} {
		f.Add(uint8(i), []byte(body))
	}
	reg, err := schema.NewRegistry(context.Background(), schematest.NewMemoryStore())
	if err != nil {
		f.Fatal(err)
	}
	refuse := func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("the fuzz test dials nothing")
	}
	disc := discovery.NewClient(discovery.ClientOptions{MaxAttempts: 1, RequestTimeout: time.Second, DialContext: refuse})
	a := New(reg, disc, Options{Version: "1.5.6", IngressEndpoint: "http://127.0.0.1:8080/", ClusterName: "localcluster"})
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := routes[int(route)%len(routes)]
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.Header.Set("content-type", "application/json")
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		if rec.Code == http.StatusInternalServerError && rt.path != "/deployments" {
			t.Fatalf("%s %s %q: 500 %s", rt.method, rt.path, body, rec.Body)
		}
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("%s %s: status %d", rt.method, rt.path, rec.Code)
		}
	})
}
