// Package clusterapi holds the JSON documents of the cluster's operator endpoints
// (GET /cluster on the admin port, /v1/partitions and the snapshot endpoints on the node port),
// shared by the server that writes them and restatectl that reads them.
package clusterapi

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
