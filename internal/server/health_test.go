package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/restatego/restate/internal/config"
)

// TestHealthWhileStarting asks /health of a node that has not started its worker: 503 with
// Restate's fields, the roles it runs starting up and the ones it does not run unknown.
func TestHealthWhileStarting(t *testing.T) {
	opts := config.Defaults()
	opts.Roles = []string{config.RoleWorker, config.RoleAdmin, config.RoleHTTPIngress, config.RoleMetadataServer}
	n := &Node{opts: opts, nodeID: 2, started: time.Now()}
	rec := httptest.NewRecorder()
	n.serveHealth(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503 while starting", rec.Code)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"status": "StartingUp", "node_id": "N2:1", "admin_status": "StartingUp", "worker_status": "StartingUp",
		"log_server_status": "Unknown", "metadata_server_status": "StartingUp",
		"nodes_config_version": 0.0, "schema_version": 0.0, "partition_table_version": 0.0,
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("%s = %v, want %v", k, body[k], v)
		}
	}
	for _, k := range []string{"cluster_name", "roles", "age", "bound_addresses", "advertised_addresses"} {
		if _, ok := body[k]; !ok {
			t.Errorf("no %s in %s", k, rec.Body)
		}
	}
}
