package server

import (
	"net"
	"net/http"
	"strings"

	"github.com/restatego/restate/internal/admin"
	"github.com/restatego/restate/internal/discovery"
	"github.com/restatego/restate/internal/metrics"
	"github.com/restatego/restate/internal/query"
)

// adminHandler serves the admin API (9070).
func (n *Node) adminHandler(ingressAddr string) http.Handler {
	disc := discovery.NewClient(discovery.ClientOptions{Identity: n.identity, DialContext: n.access.deploymentDialer()})
	return withMetrics(admin.New(n.registry, disc, admin.Options{
		Version:         Version,
		IngressEndpoint: n.ingressEndpoint(ingressAddr),
		Defaults:        n.defaults,
		ClusterName:     n.opts.ClusterName,
		Invocations:     invocationOps{n},
		Query:           query.NewHandler(n.queryLimits(), query.EngineTables(n.queryPartitions(), n.registry.Snapshot)...),
		Cluster:         clusterInfo{n},
		Snapshots:       snapshotOps{n},
		Logger:          n.logger,
		CheckDeployment: n.access.allow.CheckURI,
	}))
}

// withMetrics also serves GET /metrics (the node's Prometheus metrics, as on the node port):
// Restate's docker compose guides scrape the admin port.
func withMetrics(h http.Handler) http.Handler {
	mh := metrics.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			mh.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ingressEndpoint is the advertised ingress URL: configured, or derived from the bound address
// with an unspecified host replaced by 127.0.0.1, as Restate does.
func (n *Node) ingressEndpoint(bound string) string {
	if e := n.opts.Ingress.AdvertisedIngressEndpoint; e != "" {
		return e
	}
	if bound == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(bound)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" || strings.HasPrefix(host, "[::") {
		host = "127.0.0.1"
	}
	scheme := "http://"
	if n.tls.ingress != nil {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort(host, port) + "/"
}
