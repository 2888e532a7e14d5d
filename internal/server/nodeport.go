package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/restatego/restate/internal/nodenet"
)

// nodeHandler serves the node port (5122): /health with the node's identity and /metrics.
func (n *Node) nodeHandler() http.Handler {
	mux := http.NewServeMux()
	grpcOr := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.cluster != nil && nodenet.IsGRPC(r) {
				n.cluster.Server.ServeHTTP(w, r)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		leaders := 0
		for _, p := range n.localProcs() {
			if p.IsLeader() {
				leaders++
			}
		}
		status := "Alive"
		if !n.ready.Load() {
			status = "StartingUp"
		}
		body := map[string]any{
			"status":                 status,
			"node_id":                fmt.Sprintf("N%d:1", n.nodeID),
			"node_name":              n.opts.NodeName,
			"cluster_name":           n.opts.ClusterName,
			"roles":                  n.opts.Roles,
			"age":                    time.Since(n.started).Round(time.Second).String(),
			"admin_status":           "Ready",
			"worker_status":          "Ready",
			"log_server_status":      "Ready",
			"metadata_server_status": "Member",
			"partitions_led":         leaders,
		}
		w.Header().Set("content-type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	})
	mux.Handle("GET /metrics", promhttp.Handler())
	mux.HandleFunc("GET /debug/partitions/{partition}/digest", n.servePartitionDigest)
	// Operator endpoints for restatectl, which talks to this port.
	mux.HandleFunc("GET /v1/partitions", n.servePartitionList)
	mux.HandleFunc("POST /v1/partitions/{partition}/snapshot", n.servePartitionSnapshot)
	// Go's profiler (Restate serves its heap profiles on this port), only with enable-pprof:
	// profiles reveal internals and a CPU profile or trace costs CPU while it runs.
	if n.opts.EnablePprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return grpcOr(mux)
}
