// Package clusterapi holds the JSON documents of the cluster's operator endpoints
// (GET /cluster on the admin port, /v1/partitions and the snapshot endpoints on the node port),
// shared by the server that writes them and restatectl that reads them.
package clusterapi

import (
	"fmt"
	"net/url"
	"strconv"
)

// Status is the whole cluster as one node sees it.
type Status struct {
	ClusterName string      `json:"cluster_name"`
	ThisNode    uint64      `json:"this_node"`
	Nodes       []Node      `json:"nodes"`
	Partitions  []Partition `json:"partitions"`
	Metadata    Metadata    `json:"metadata"`
}

// Node is one member of the cluster.
type Node struct {
	ID       uint64   `json:"id"`
	Name     string   `json:"name"`
	Address  string   `json:"address"`
	Roles    []string `json:"roles"`
	Alive    bool     `json:"alive"`
	Leads    []uint16 `json:"leader_of"`
	Follows  []uint16 `json:"follower_of"`
	IsSelf   bool     `json:"this_node"`
	LastSeen string   `json:"last_seen,omitempty"`
}

// Partition is one partition: its leader and replicas, and the positions of the replica
// that answered.
type Partition struct {
	ID       uint16   `json:"id"`
	Leader   uint64   `json:"leader"`
	Epoch    uint64   `json:"epoch"`
	Replicas []uint64 `json:"replicas"`
	Applied  uint64   `json:"applied"`
	Durable  uint64   `json:"durable"`
	// Archived is the lsn of the newest snapshot announced for the partition (Restate's
	// archived lsn); TrimPoint is where the answering replica's log was trimmed to.
	Archived  uint64 `json:"archived"`
	TrimPoint uint64 `json:"trim_point"`
	// Voters are the members of the partition's raft group, as the answering replica knows them.
	Voters []uint64 `json:"voters,omitempty"`
}

// Metadata is the metadata store's raft quorum.
type Metadata struct {
	Members  []uint64          `json:"members"`
	Leader   uint64            `json:"leader"`
	Term     uint64            `json:"term"`
	Progress map[uint64]string `json:"progress,omitempty"`
}

// Snapshot is the answer to a request for a partition snapshot.
type Snapshot struct {
	PartitionID   uint16 `json:"partition_id"`
	SnapshotID    string `json:"snapshot_id"`
	MinAppliedLSN uint64 `json:"min_applied_lsn"`
	Path          string `json:"path"`
	SizeBytes     int64  `json:"size_bytes"`
	CreatedAt     string `json:"created_at"`
	NodeName      string `json:"node_name"`
}

// SnapshotOptions qualify an on-demand snapshot request; on the HTTP endpoints they are the
// query parameters min_lsn and trim_log.
type SnapshotOptions struct {
	// MinLSN asks for a snapshot covering at least this log position: a newer snapshot in the
	// repository is answer enough, and otherwise the snapshot waits until the partition
	// applied that far.
	MinLSN uint64
	// TrimLog trims the partition's log up to the new snapshot right away, instead of up
	// to the one before it.
	TrimLog bool
}

// ParseSnapshotOptions reads min_lsn and trim_log from a query.
func ParseSnapshotOptions(q url.Values) (SnapshotOptions, error) {
	var o SnapshotOptions
	if v := q.Get("min_lsn"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return o, fmt.Errorf("invalid min_lsn '%s': expected a log position (an unsigned integer)", v)
		}
		o.MinLSN = n
	}
	if v := q.Get("trim_log"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, fmt.Errorf("invalid trim_log '%s': expected true or false", v)
		}
		o.TrimLog = b
	}
	return o, nil
}

// Query is the inverse of ParseSnapshotOptions ("" when nothing is set).
func (o SnapshotOptions) Query() string {
	q := url.Values{}
	if o.MinLSN > 0 {
		q.Set("min_lsn", strconv.FormatUint(o.MinLSN, 10))
	}
	if o.TrimLog {
		q.Set("trim_log", "true")
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}
