package server

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// The admin port's /health of a cluster node says whether the node is a member that reached
// the metadata quorum, before the admin API itself is installed; other requests get 503.
func TestAdminGateHealthFollowsMembership(t *testing.T) {
	var member atomic.Bool
	g := &gate{inCluster: member.Load}
	get := func(path string) int {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	if c := get("/health"); c != http.StatusServiceUnavailable {
		t.Fatalf("/health before the metadata quorum: %d, want 503", c)
	}
	member.Store(true)
	if c := get("/health"); c != http.StatusOK {
		t.Fatalf("/health of a member: %d, want 200", c)
	}
	if c := get("/deployments"); c != http.StatusServiceUnavailable {
		t.Fatalf("the admin API before it is installed: %d, want 503", c)
	}
	g.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	if c := get("/deployments"); c != http.StatusTeapot {
		t.Fatalf("after the handler is installed: %d", c)
	}
}
