package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/restatego/restate/internal/ingress"
	"github.com/restatego/restate/internal/log"
	"github.com/restatego/restate/internal/metadata"
	"github.com/restatego/restate/internal/metrics"
)

// This file wires the metrics of internal/metrics into the node: wrappers around the ingress
// handler, the log and the metadata store, and a collector for the node's gauges.

// ---- ingress ----

// instrumentIngress counts ingress requests and times calls and sends to services, the way
// Restate's ingress labels them: status, rpc_service, rpc_type.
func instrumentIngress(h http.Handler, known func(service string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		status := rec.code()
		if status == http.StatusTooManyRequests {
			metrics.IngressRequests.WithLabelValues(metrics.IngressRateLimited, "", "").Inc()
			return
		}
		metrics.IngressRequests.WithLabelValues(metrics.IngressAdmitted, "", "").Inc()
		service, rpcType, ok := serviceOf(r.URL.Path)
		if !ok || !known(service) {
			return
		}
		metrics.IngressRequestDuration.WithLabelValues(service, rpcType).Observe(time.Since(start).Seconds())
		metrics.IngressRequests.WithLabelValues(ingressStatus(status, rec.Header().Get("x-restate-id") != ""), service, rpcType).Inc()
	})
}

// serviceOf extracts the service and Restate's rpc_type (call or send) of a request to a
// service handler; ok is false for the ingress's other routes.
func serviceOf(path string) (service, rpcType string, ok bool) {
	route, err := ingress.ParsePath(path)
	if err != nil || route.Kind != ingress.RouteService {
		return "", "", false
	}
	rpcType = "call"
	if route.Segments[len(route.Segments)-1] == "send" {
		rpcType = "send"
	}
	return route.Segments[0], rpcType, true
}

// ingressStatus classifies an answer as Restate does: an error answer to a request that
// became an invocation is the invocation's failure; other 4xx are the caller's mistake.
func ingressStatus(code int, invoked bool) string {
	switch {
	case code < 400:
		return metrics.IngressCompleted
	case invoked:
		return metrics.IngressInvocationError
	case code < 500:
		return metrics.IngressRequestError
	default:
		return metrics.IngressError
	}
}

// statusRecorder remembers the status code written through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// Flush and Unwrap keep streaming and http.ResponseController working through the recorder.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// countIngressConns is the ingress server's ConnState hook.
func countIngressConns(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		metrics.IngressConnectionsCreated.WithLabelValues().Inc()
	case http.StateClosed, http.StateHijacked:
		metrics.IngressConnectionsDropped.WithLabelValues("success").Inc()
	}
}

// ---- log ----

// meteredLog measures appends and reads of a partition log, local or replicated alike.
type meteredLog struct{ log.Log }

func (l meteredLog) Append(p uint16, data []byte, done func(uint64, error)) {
	start := time.Now()
	size := float64(len(data))
	metrics.LogEnqueuedRecords.WithLabelValues().Inc()
	metrics.LogEnqueuedBytes.WithLabelValues().Add(size)
	metrics.LogRecordSize.WithLabelValues().Observe(size)
	l.Log.Append(p, data, func(lsn uint64, err error) {
		if err != nil {
			metrics.LogAppendFailures.WithLabelValues().Inc()
		} else {
			metrics.LogAppendDuration.WithLabelValues().Observe(time.Since(start).Seconds())
			metrics.LogCommittedRecords.WithLabelValues().Inc()
			metrics.LogCommittedBytes.WithLabelValues().Add(size)
		}
		if done != nil {
			done(lsn, err)
		}
	})
}

func (l meteredLog) Read(p uint16, from uint64, max int) ([]log.Entry, error) {
	es, err := l.Log.Read(p, from, max)
	metrics.LogReadRecords.WithLabelValues().Add(float64(len(es)))
	return es, err
}

func (l meteredLog) Subscribe(p uint16, c log.Consumer) {
	l.Log.Subscribe(p, func(es []log.Entry) {
		metrics.LogReadRecords.WithLabelValues().Add(float64(len(es)))
		c(es)
	})
}

// ---- metadata ----

// meteredMetadata measures metadata requests as a client and, where the store is a replica
// on this node (a single node's local store, a cluster node's raft store), also as the
// metadata server that answered them.
type meteredMetadata struct {
	metadata.Store
	server bool
}

func (m meteredMetadata) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	start := time.Now()
	v, ver, err := m.Store.Get(ctx, key)
	secs, status := time.Since(start).Seconds(), requestStatus(err)
	metrics.MetadataClientGet.WithLabelValues(status).Inc()
	metrics.MetadataClientGetDuration.WithLabelValues().Observe(secs)
	if m.server {
		metrics.MetadataServerGet.WithLabelValues(status).Inc()
		metrics.MetadataServerGetDuration.WithLabelValues().Observe(secs)
	}
	return v, ver, err
}

func (m meteredMetadata) CompareAndSwap(ctx context.Context, key string, expected uint64, value []byte) (uint64, error) {
	start := time.Now()
	ver, err := m.Store.CompareAndSwap(ctx, key, expected, value)
	// A lost compare-and-set is an answer, not a failure of the store.
	status := requestStatus(err)
	if errors.Is(err, metadata.ErrVersionMismatch) {
		status = metrics.StatusSuccess
	}
	secs := time.Since(start).Seconds()
	metrics.MetadataClientPut.WithLabelValues(status).Inc()
	metrics.MetadataClientPutDuration.WithLabelValues().Observe(secs)
	if m.server {
		metrics.MetadataServerPut.WithLabelValues(status).Inc()
		metrics.MetadataServerPutDuration.WithLabelValues().Observe(secs)
	}
	return ver, err
}

func requestStatus(err error) string {
	if err != nil {
		return metrics.StatusFailure
	}
	return metrics.StatusSuccess
}

// ---- node gauges ----

var (
	descNumPartitions    = prometheus.NewDesc("restate_num_partitions", "Total number of partitions in the partition table", nil, nil)
	descActivePartitions = prometheus.NewDesc("restate_num_active_partitions", "Number of partitions started by partition processor manager on this node", nil, nil)
	descActiveLeaders    = prometheus.NewDesc("restate_num_active_partition_leaders", "Number of active partition leaders started by partition processor manager on this node", nil, nil)
	descAppliedLag       = prometheus.NewDesc("restate_partition_applied_lsn_lag", "Current quantiles of the number of records between last applied lsn and the log tail, across the partitions on this node", []string{"quantile"}, nil)
	descUnknownLag       = prometheus.NewDesc("restate_partition_num_unknown_applied_lsn_lag", "Number of partitions with unknown applied lsn lag", nil, nil)
	descSnapshotAgeQ     = prometheus.NewDesc("restate_partition_snapshot_age_seconds", "Current quantiles of the age in seconds of the latest snapshot, across the partitions on this node", []string{"quantile"}, nil)
	descAppliedLSN       = prometheus.NewDesc("restate_partition_applied_lsn", "Last log position the partition processor applied on this node", []string{"partition"}, nil)
	descDurableLSN       = prometheus.NewDesc("restate_partition_durable_lsn", "Last position of the partition's log that is durable (committed) as this node knows it", []string{"partition"}, nil)
	descArchivedLSN      = prometheus.NewDesc("restate_partition_archived_lsn", "Applied lsn of the newest snapshot announced for the partition (Restate's archived lsn)", []string{"partition"}, nil)
	descPartitionLag     = prometheus.NewDesc("restate_partition_applied_lsn_lag_records", "Records between the partition's durable log tail and what this node applied", []string{"partition"}, nil)
	descPartitionLeader  = prometheus.NewDesc("restate_partition_is_leader", "1 when this node leads the partition", []string{"partition"}, nil)
	descMetaAppliedLSN   = prometheus.NewDesc("restate_metadata_server_replicated_applied_lsn", "Raft Metadata raft applied lsn", nil, nil)
	descMetaCommittedLSN = prometheus.NewDesc("restate_metadata_server_replicated_committed_lsn", "Raft Metadata raft committed lsn", nil, nil)
	descMetaLeaderID     = prometheus.NewDesc("restate_metadata_server_replicated_leader_id", "Raft Metadata server know leader id", nil, nil)
	descMetaTerm         = prometheus.NewDesc("restate_metadata_server_replicated_term", "Raft term of the metadata store as this node knows it", nil, nil)
	descMetaMembers      = prometheus.NewDesc("restate_metadata_server_replicated_members", "Members of the metadata store's raft group", nil, nil)
	descStorageLive      = prometheus.NewDesc("restate_rocksdb_estimate_live_data_size_bytes", "Estimated size of the live data in the node's database (Pebble here: the live sstables)", []string{"db", "cf"}, nil)
	descNodesByState     = prometheus.NewDesc("restate_failure_detector_nodes_total", "Number of nodes per node state, dimensioned by state", []string{"state"}, nil)
	descStorageDisk      = prometheus.NewDesc("restate_storage_disk_usage_bytes", "Bytes the node's database uses on disk (Pebble's whole store: sstables, WAL, manifests)", nil, nil)
	nodeDescs            = []*prometheus.Desc{descNumPartitions, descActivePartitions, descActiveLeaders, descAppliedLag, descUnknownLag,
		descSnapshotAgeQ, descAppliedLSN, descDurableLSN, descArchivedLSN, descPartitionLag, descPartitionLeader,
		descMetaAppliedLSN, descMetaCommittedLSN, descMetaLeaderID, descMetaTerm, descMetaMembers, descStorageLive, descStorageDisk, descNodesByState}
)

var registerNodeMetrics sync.Once

// nodeCollector reports the gauges of the nodes in this process, read when scraped.
type nodeCollector struct {
	mu    sync.Mutex
	nodes map[*Node]bool
}

var nodeMetrics = &nodeCollector{nodes: map[*Node]bool{}}

func (c *nodeCollector) add(n *Node) {
	registerNodeMetrics.Do(func() { prometheus.MustRegister(c) })
	metrics.SetNode(n.opts.ClusterName, n.opts.NodeName)
	c.mu.Lock()
	c.nodes[n] = true
	c.mu.Unlock()
}

func (c *nodeCollector) remove(n *Node) {
	c.mu.Lock()
	delete(c.nodes, n)
	c.mu.Unlock()
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range nodeDescs {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	nodes := make([]*Node, 0, len(c.nodes))
	for n := range c.nodes {
		nodes = append(nodes, n)
	}
	c.mu.Unlock()
	for _, n := range nodes {
		n.collectNodeMetrics(ch)
	}
}

func (n *Node) collectNodeMetrics(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	// The log, the cluster and the processors are set while the node starts; ready (stored
	// after them) makes them safe to read.
	if !n.ready.Load() {
		return
	}
	n.procMu.Lock()
	numPartitions, l := n.numPartitions, n.log
	n.procMu.Unlock()
	gauge(descNumPartitions, float64(numPartitions))
	procs := n.localProcs()
	leaders := 0
	var lags, ages []float64
	for _, p := range procs {
		id := strconv.Itoa(int(p.ID()))
		applied := p.AppliedLSN()
		var durable uint64
		if l != nil {
			durable = l.Tail(p.ID())
		}
		lag := uint64(0)
		if durable > applied {
			lag = durable - applied
		}
		lags = append(lags, float64(lag))
		leader := 0.0
		if p.IsLeader() {
			leaders++
			leader = 1
		}
		if at := p.SnapshotCreatedAt(); at > 0 {
			ages = append(ages, time.Since(time.UnixMilli(at)).Seconds())
		}
		gauge(descAppliedLSN, float64(applied), id)
		gauge(descDurableLSN, float64(durable), id)
		gauge(descArchivedLSN, float64(p.SnapshotLSN()), id)
		gauge(descPartitionLag, float64(lag), id)
		gauge(descPartitionLeader, leader, id)
	}
	gauge(descActivePartitions, float64(len(procs)))
	gauge(descActiveLeaders, float64(leaders))
	gauge(descUnknownLag, 0)
	metrics.Quantiles(ch, descAppliedLag, lags)
	metrics.Quantiles(ch, descSnapshotAgeQ, ages)
	if n.cluster == nil {
		// A single node is its own cluster and alive.
		gauge(descNodesByState, 1, "alive")
	}
	if n.cluster != nil && n.cluster.Meta != nil {
		applied, commit, term, leader := n.cluster.Meta.Status()
		if leader == uint64(n.nodeID) {
			alive, dead := n.nodeStates()
			gauge(descNodesByState, float64(alive), "alive")
			gauge(descNodesByState, float64(dead), "dead")
		}
		gauge(descMetaAppliedLSN, float64(applied))
		gauge(descMetaCommittedLSN, float64(commit))
		gauge(descMetaLeaderID, float64(leader))
		gauge(descMetaTerm, float64(term))
		gauge(descMetaMembers, float64(len(n.cluster.Meta.Members())))
	}
	if n.db != nil {
		m := n.db.Metrics()
		gauge(descStorageDisk, float64(m.DiskSpaceUsage()))
		gauge(descStorageLive, float64(m.Total().TablesSize), "local-storage", "default")
	}
}

// nodeStates counts the configured nodes the metadata leader heard from recently (in the
// metadata group or in a partition group it leads) and the others. Only the metadata leader
// reports it: a follower's raft progress is empty, and dashboards take the max across nodes.
func (n *Node) nodeStates() (alive, dead int) {
	cfg := n.cluster.Nodes()
	if cfg == nil {
		return 0, 0
	}
	seen := map[uint64]bool{uint64(n.nodeID): true}
	for _, id := range n.cluster.Meta.RecentlyActive() {
		seen[id] = true
	}
	for _, p := range n.localProcs() {
		if g := n.cluster.Log.Group(p.ID()); g != nil {
			for id, pr := range g.Status().Progress {
				if pr.RecentActive {
					seen[id] = true
				}
			}
		}
	}
	for id := range cfg.Nodes {
		if seen[id] {
			alive++
		} else {
			dead++
		}
	}
	return alive, dead
}

// knownService tells whether the current schema has the service (a label value must not come
// from arbitrary request paths).
func (n *Node) knownService(name string) bool {
	if !n.ready.Load() || strings.TrimSpace(name) == "" { // ready: n.registry is set
		return false
	}
	snap := n.registry.Snapshot()
	return snap != nil && snap.Service(name) != nil
}
