package ingress

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequestTargetLimit(t *testing.T) {
	s := New(Options{})
	// One byte over: refused before anything else looks at the request.
	path := "/Counter/" + strings.Repeat("k", MaxRequestTargetLen) + "/Add"
	req := httptest.NewRequest(http.MethodPost, path[:MaxRequestTargetLen+1], nil)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	var m map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &m)
	if rec.Code != http.StatusRequestURITooLong || !strings.Contains(m["message"].(string), "limit is 65534 bytes") {
		t.Fatalf("over the limit: %d %s", rec.Code, rec.Body)
	}
	// At the limit the request goes on to routing (here: a path that is not a route).
	req = httptest.NewRequest(http.MethodGet, "/restate/"+strings.Repeat("x", MaxRequestTargetLen-len("/restate/")), nil)
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Fatalf("at the limit: %d %s", rec.Code, rec.Body)
	}
}
