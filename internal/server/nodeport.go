package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// nodeHandler serves the node port (5122): /health with the node's identity and /metrics.
func (n *Node) nodeHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		leaders := 0
		for _, p := range n.procs {
			if p.IsLeader() {
				leaders++
			}
		}
		body := map[string]any{
			"status":                 "Alive",
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
	return mux
}
