// Package cluster turns a node into a member of a multi-node cluster: it provisions the
// cluster (the auto-provisioning node) or joins it, runs the raft metadata store and the
// partitions' raft groups over the node-to-node network, and keeps the address book.
package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
)

// Metadata keys.
const (
	KeyNodes      = "nodes"
	KeyPartitions = "partition-table"
)

const formatVersion = 1

// NodeInfo is one node of the nodes configuration.
type NodeInfo struct {
	ID      uint64   `json:"id"`
	Name    string   `json:"name"`
	Address string   `json:"address"`
	Roles   []string `json:"roles"`
}

// NodesConfig lists the cluster's nodes. It is created by the provisioning node and extended
// by every node that joins.
type NodesConfig struct {
	FormatVersion int                 `json:"format_version"`
	ClusterName   string              `json:"cluster_name"`
	Fingerprint   string              `json:"cluster_fingerprint"`
	Nodes         map[uint64]NodeInfo `json:"nodes"`
}

func newNodesConfig(clusterName string) *NodesConfig {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return &NodesConfig{FormatVersion: formatVersion, ClusterName: clusterName, Fingerprint: hex.EncodeToString(b), Nodes: map[uint64]NodeInfo{}}
}

// SortedIDs lists node ids in ascending order.
func (c *NodesConfig) SortedIDs() []uint64 {
	ids := make([]uint64, 0, len(c.Nodes))
	for id := range c.Nodes {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func decodeNodes(b []byte) (*NodesConfig, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var c NodesConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("cluster: corrupt nodes configuration: %w", err)
	}
	if c.FormatVersion > formatVersion {
		return nil, fmt.Errorf("cluster: nodes configuration format %d is newer than this release understands", c.FormatVersion)
	}
	if c.Nodes == nil {
		c.Nodes = map[uint64]NodeInfo{}
	}
	return &c, nil
}

// PartitionTable fixes the partitions and their replicas. Replicas[p] are the voters of
// partition p's raft group; the first one is its preferred leader.
type PartitionTable struct {
	FormatVersion int        `json:"format_version"`
	NumPartitions uint16     `json:"num_partitions"`
	Replication   int        `json:"replication"`
	Replicas      [][]uint64 `json:"replicas"`
	// Bootstrap[p] are the voters partition p's raft group was created with; only they may
	// create the group, a replica added later waits to be contacted by the leader.
	Bootstrap [][]uint64 `json:"bootstrap"`
}

// BootstrapPeers are the peers node passes when opening partition p's group.
func (t *PartitionTable) BootstrapPeers(p uint16, node uint64) []uint64 {
	if int(p) < len(t.Bootstrap) {
		for _, b := range t.Bootstrap[p] {
			if b == node {
				return t.Bootstrap[p]
			}
		}
	}
	return nil
}

// HasReplica tells whether node replicates partition p.
func (t *PartitionTable) HasReplica(p uint16, node uint64) bool {
	for _, r := range t.Replicas[p] {
		if r == node {
			return true
		}
	}
	return false
}

func decodePartitions(b []byte) (*PartitionTable, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var t PartitionTable
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("cluster: corrupt partition table: %w", err)
	}
	if t.FormatVersion > formatVersion {
		return nil, fmt.Errorf("cluster: partition table format %d is newer than this release understands", t.FormatVersion)
	}
	return &t, nil
}

// GroupSize is how many replicas a partition gets for a replication factor: 2r-1 so that
// losing r-1 of them leaves a majority, as the raft quorum requires; at most the node count.
func GroupSize(replication, nodes int) int {
	n := 2*replication - 1
	if n < 1 {
		n = 1
	}
	if n > nodes {
		n = nodes
	}
	return n
}

// placePartitions spreads partitions over nodes: partition p starts at node p mod n, so
// preferred leaders are spread evenly.
func placePartitions(num uint16, replication int, nodes []uint64) [][]uint64 {
	size := GroupSize(replication, len(nodes))
	out := make([][]uint64, num)
	for p := 0; p < int(num); p++ {
		reps := make([]uint64, 0, size)
		for i := 0; i < size; i++ {
			reps = append(reps, nodes[(p+i)%len(nodes)])
		}
		out[p] = reps
	}
	return out
}
