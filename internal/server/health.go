package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/restatego/restate/internal/cluster"
	"github.com/restatego/restate/internal/config"
)

// Statuses in the node port's /health, with the names Restate gives them.
const (
	statusAlive      = "Alive"
	statusStartingUp = "StartingUp"
	statusReady      = "Ready"
	statusUnknown    = "Unknown" // the node does not run the role
	statusMember     = "Member"
	statusStandby    = "Standby"
)

// healthState is what a node reached since it started. Each flag only ever turns on: a node
// that served once reports a later outage (a partition without a majority) on its requests,
// not by dropping out of its load balancer.
type healthState struct {
	// joined: a cluster node reached the metadata quorum and read the partition table, at
	// joinedAt (unix nanoseconds).
	joined   atomic.Bool
	joinedAt atomic.Int64
	// serving: the ingress takes requests and every partition it routes to has a leader (or
	// an election's worth of time passed: a partition without a majority must not keep the
	// node from serving the others).
	serving atomic.Bool
	// caughtUp: every partition processor on the node applied its log up to what is
	// committed (a single node's processors replayed it and lead).
	caughtUp atomic.Bool
}

// nodeIdentity is the body of GET /health on the node port: Restate's fields (status per role,
// metadata versions, addresses) plus node_name and partitions_led.
type nodeIdentity struct {
	Status                string       `json:"status"`
	NodeID                string       `json:"node_id"`
	NodeName              string       `json:"node_name"`
	ClusterName           string       `json:"cluster_name"`
	Roles                 []string     `json:"roles"`
	Age                   string       `json:"age"`
	AdminStatus           string       `json:"admin_status"`
	WorkerStatus          string       `json:"worker_status"`
	LogServerStatus       string       `json:"log_server_status"`
	MetadataServerStatus  string       `json:"metadata_server_status"`
	NodesConfigVersion    uint64       `json:"nodes_config_version"`
	SchemaVersion         uint64       `json:"schema_version"`
	PartitionTableVersion uint64       `json:"partition_table_version"`
	BoundAddresses        []netAddress `json:"bound_addresses"`
	AdvertisedAddresses   []netAddress `json:"advertised_addresses"`
	PartitionsLed         int          `json:"partitions_led"`
}

type netAddress struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Kind    string `json:"kind"`
}

// serveHealth answers the node port's /health: 200 once the node serves requests, 503 with
// the same body before, so a load balancer or orchestrator only sends traffic to a node that
// can take it.
func (n *Node) serveHealth(w http.ResponseWriter, r *http.Request) {
	id := n.describe(r.Context())
	w.Header().Set("content-type", "application/json")
	if id.Status != statusAlive {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(id)
}

// describe tells the node as it is now.
func (n *Node) describe(ctx context.Context) nodeIdentity {
	id := nodeIdentity{
		Status:      statusStartingUp,
		NodeID:      fmt.Sprintf("N%d:1", n.nodeID),
		NodeName:    n.opts.NodeName,
		ClusterName: n.opts.ClusterName,
		Roles:       n.opts.Roles,
		Age:         time.Since(n.started).Round(time.Second).String(),
	}
	worker := n.ready.Load() // the worker started: its registry, processors and ingress exist
	joined := worker || n.health.joined.Load()
	role := func(name string, ready bool) string {
		switch {
		case !n.opts.HasRole(name):
			return statusUnknown
		case ready:
			return statusReady
		}
		return statusStartingUp
	}
	if worker && !n.health.caughtUp.Load() && n.partitionsCaughtUp() {
		n.health.caughtUp.Store(true)
	}
	if worker && !n.health.serving.Load() && (n.partitionsLed() || n.leaderlessTooLong()) {
		n.health.serving.Store(true)
	}
	if n.health.serving.Load() {
		id.Status = statusAlive
	}
	id.AdminStatus = role(config.RoleAdmin, worker)
	id.WorkerStatus = role(config.RoleWorker, n.health.caughtUp.Load())
	// The partition logs are replicated by every node of a cluster (the log-server role),
	// once it knows which partitions it replicates; a single node's logs are local.
	id.LogServerStatus = role(config.RoleLogServer, joined)
	id.MetadataServerStatus = n.metadataStatus(joined)

	if joined {
		nodesKey, tableKey := cluster.KeyNodes, cluster.KeyPartitions
		if n.cluster == nil {
			nodesKey, tableKey = "", "partition-table"
		}
		if nodesKey != "" {
			_, id.NodesConfigVersion, _ = n.meta.Get(ctx, nodesKey)
		}
		_, id.PartitionTableVersion, _ = n.meta.Get(ctx, tableKey)
	}
	if worker {
		id.SchemaVersion = n.registry.Snapshot().Version()
		for _, p := range n.localProcs() {
			if p.IsLeader() {
				id.PartitionsLed++
			}
		}
	}
	if !joined {
		return id // the addresses are still being bound
	}
	for _, a := range []struct{ name, bound string }{
		{"http-ingress-server", n.addrs.Ingress}, {"admin-api-server", n.addrs.Admin}, {"message-fabric-server", n.addrs.Node},
	} {
		if a.bound != "" {
			id.BoundAddresses = append(id.BoundAddresses, netAddress{Name: a.name, Address: a.bound, Kind: "tcp"})
		}
	}
	if n.opts.AdvertisedAddress != "" {
		id.AdvertisedAddresses = append(id.AdvertisedAddresses, netAddress{Name: "message-fabric-server", Address: n.opts.AdvertisedAddress, Kind: "http"})
	}
	return id
}

// metadataStatus is the node's place in the metadata store: a member of the raft quorum, a
// node that reads it without voting (standby), or still starting.
func (n *Node) metadataStatus(joined bool) string {
	switch {
	case !n.opts.HasRole(config.RoleMetadataServer):
		return statusUnknown
	case !joined:
		return statusStartingUp
	case n.cluster == nil:
		return statusMember // a single node is its own metadata store
	}
	for _, m := range n.cluster.Meta.Members() {
		if m == uint64(n.nodeID) {
			return statusMember
		}
	}
	return statusStandby
}

// partitionsLed tells whether requests find a leader for every partition this node serves: a
// single node's processors replayed their logs and lead; a cluster node's replicas know their
// leader (partitions replicated elsewhere are forwarded to their replicas).
func (n *Node) partitionsLed() bool {
	for _, p := range n.localProcs() {
		if n.cluster == nil {
			if !p.IsLeader() {
				return false
			}
			continue
		}
		if leader, _ := n.cluster.Log.Leader(p.ID()); leader == 0 {
			return false
		}
	}
	return true
}

// leaderlessTooLong tells whether a cluster node has waited longer for its partitions' leaders
// than a request would (noLeaderPatience): the partitions still without one lack a majority.
func (n *Node) leaderlessTooLong() bool {
	at := n.health.joinedAt.Load()
	return n.cluster != nil && at != 0 && time.Since(time.Unix(0, at)) > noLeaderPatience
}

// partitionsCaughtUp tells whether every processor on the node applied its log up to what the
// log committed (a replica that came back applies what it missed first).
func (n *Node) partitionsCaughtUp() bool {
	for _, p := range n.localProcs() {
		if n.cluster == nil {
			if !p.IsLeader() {
				return false
			}
			continue
		}
		if n.replicaBehind(p.ID(), p.AppliedLSN()) {
			return false
		}
	}
	return true
}
