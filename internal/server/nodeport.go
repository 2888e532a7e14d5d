package server

import (
	"net/http"
	"net/http/pprof"

	"github.com/restatego/restate/internal/metrics"
	"github.com/restatego/restate/internal/nodenet"
	"github.com/restatego/restate/internal/query"
)

// nodeHandler serves the node port (5122): /health with the node's identity and state, and
// /metrics.
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
	mux.HandleFunc("GET /health", n.serveHealth)
	mux.Handle("GET /metrics", metrics.Handler())
	mux.HandleFunc("GET /debug/partitions/{partition}/digest", n.servePartitionDigest)
	// Operator endpoints for restatectl, which talks to this port.
	mux.HandleFunc("GET /v1/partitions", n.servePartitionList)
	mux.HandleFunc("POST /v1/partitions/{partition}/snapshot", n.servePartitionSnapshot)
	mux.HandleFunc("GET /v1/partitions/{partition}/snapshots", n.serveSnapshotList)
	// The admin port's SQL endpoint, for restatectl sql: the query engine is cluster-wide.
	mux.Handle("POST /v1/query", query.NewHandler(n.queryLimits(), query.EngineTables(n.queryPartitions(), n.registry.Snapshot)...))
	// Go's profiler (Restate serves its heap profiles on this port), only with enable-pprof:
	// profiles reveal internals and a CPU profile or trace costs CPU while it runs.
	if n.opts.EnablePprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return grpcOr(mux)
}
