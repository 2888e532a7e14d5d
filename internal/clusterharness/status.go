package clusterharness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Status is the body of GET /cluster on a node's admin port (an extension: Restate has no
// such route). It is the server's view of the whole cluster.
type Status struct {
	ClusterName string `json:"cluster_name"`
	// ThisNode is the id of the node that answered.
	ThisNode   uint32            `json:"this_node"`
	Nodes      []NodeStatus      `json:"nodes"`
	Partitions []PartitionStatus `json:"partitions"`
	Metadata   MetadataStatus    `json:"metadata"`
}

// NodeStatus is one node as GET /cluster reports it.
type NodeStatus struct {
	ID      uint32   `json:"id"`
	Name    string   `json:"name"`
	Address string   `json:"address"`
	Roles   []string `json:"roles"`
	Alive   bool     `json:"alive"`
	// LeaderOf and FollowerOf are the partition ids this node runs as leader and as follower.
	LeaderOf   []uint32 `json:"leader_of"`
	FollowerOf []uint32 `json:"follower_of"`
}

// PartitionStatus is one partition as GET /cluster reports it.
type PartitionStatus struct {
	ID uint32 `json:"id"`
	// Leader is the node id of the current leader; 0 (or null) when there is none.
	Leader uint32 `json:"leader"`
	// Epoch is the leader epoch; it grows with every change of leader.
	Epoch    uint64   `json:"epoch"`
	Replicas []uint32 `json:"replicas"`
	// Applied is the leader's last applied log position and Durable the position up to which
	// the partition's state is durable.
	Applied uint64 `json:"applied"`
	Durable uint64 `json:"durable"`
	// Archived is the lsn of the newest snapshot announced for the partition; TrimPoint is
	// where the answering replica's log was trimmed to.
	Archived  uint64 `json:"archived"`
	TrimPoint uint64 `json:"trim_point"`
	// Voters are the members of the partition's raft group as the answering replica knows them.
	Voters []uint32 `json:"voters"`
}

// MetadataStatus is the raft metadata quorum as GET /cluster reports it.
type MetadataStatus struct {
	Members []uint32 `json:"members"`
	Leader  uint32   `json:"leader"`
	Term    uint64   `json:"term"`
}

// NodeByID finds a node in the status.
func (s Status) NodeByID(id uint32) (NodeStatus, bool) {
	for _, n := range s.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return NodeStatus{}, false
}

// ClusterHealth is the body of Restate's GET /cluster-health.
type ClusterHealth struct {
	ClusterName           string `json:"cluster_name"`
	MetadataClusterHealth *struct {
		Members []uint32 `json:"members"`
	} `json:"metadata_cluster_health"`
}

// Identity is the body of GET /health on a node's node port.
type Identity struct {
	Status      string   `json:"status"`
	NodeID      string   `json:"node_id"` // "N<id>:<generation>"
	NodeName    string   `json:"node_name"`
	ClusterName string   `json:"cluster_name"`
	Roles       []string `json:"roles"`
}

// PlainID is the node id in NodeID without its generation, 0 when NodeID is malformed.
func (i Identity) PlainID() int {
	s, ok := strings.CutPrefix(i.NodeID, "N")
	if !ok {
		return 0
	}
	s, _, _ = strings.Cut(s, ":")
	id, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		return 0
	}
	return int(id)
}

// ErrNoClusterStatus means GET /cluster answered 404: the server has no cluster engine.
var ErrNoClusterStatus = errors.New("GET /cluster is 404: the server has no cluster status")

// getJSON fetches url with client and decodes a 200 JSON body into v; callers bound each
// request with a context.
func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: reading body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return &StatusError{URL: url, Code: resp.StatusCode, Body: string(body)}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: body is not the expected JSON: %w: %.300s", url, err, body)
	}
	return nil
}

// StatusError is a non-200 answer to a status request.
type StatusError struct {
	URL  string
	Code int
	Body string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: %d %.300s", e.URL, e.Code, e.Body)
}

// Status fetches GET /cluster from the node's admin port.
func (n *Node) Status(ctx context.Context) (Status, error) {
	var s Status
	err := getJSON(ctx, n.cluster.client, n.AdminURL()+"/cluster", &s)
	if se := (*StatusError)(nil); errors.As(err, &se) && se.Code == http.StatusNotFound {
		return s, fmt.Errorf("%s: %w", n.Name, ErrNoClusterStatus)
	}
	return s, err
}

// ClusterHealth fetches GET /cluster-health from the node's admin port.
func (n *Node) ClusterHealth(ctx context.Context) (ClusterHealth, error) {
	var h ClusterHealth
	return h, getJSON(ctx, n.cluster.client, n.AdminURL()+"/cluster-health", &h)
}

// Identity fetches GET /health from the node port.
func (n *Node) Identity(ctx context.Context) (Identity, error) {
	var id Identity
	return id, getJSON(ctx, n.cluster.client, n.NodeURL()+"/health", &id)
}

// ReadyFunc returns nil when the cluster is ready for the test to go on, or an error saying
// what is missing.
type ReadyFunc func(ctx context.Context, c *Cluster) error

// ReadyHealth only needs every running node's admin GET /health to answer 200; it suits a
// server without a cluster engine.
func ReadyHealth(ctx context.Context, c *Cluster) error {
	for _, n := range c.Running() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.AdminURL()+"/health", nil)
		resp, err := c.client.Do(req)
		if err != nil {
			return fmt.Errorf("%s: admin /health: %w", n.Name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: admin /health: %d", n.Name, resp.StatusCode)
		}
	}
	return nil
}

// ReadyCluster needs, on every running node: /cluster-health naming the cluster with every
// member node in metadata_cluster_health.members, and /cluster reporting every running
// member alive and every partition led by a running, unpaused node.
func ReadyCluster(ctx context.Context, c *Cluster) error {
	running := c.Running()
	if len(running) == 0 {
		return errors.New("no node is running")
	}
	wantMembers := make([]uint32, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		wantMembers = append(wantMembers, uint32(n.ID))
	}
	live := map[uint32]bool{}
	for _, n := range running {
		live[uint32(n.ID)] = true
	}
	for _, n := range running {
		// /cluster first: its 404 is the clearest sign of a server without a cluster engine.
		s, err := n.Status(ctx)
		if err != nil {
			return err
		}
		if err := checkStatusReady(s, live); err != nil {
			return fmt.Errorf("%s: /cluster: %w", n.Name, err)
		}
		h, err := n.ClusterHealth(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
		if h.ClusterName != c.Name {
			return fmt.Errorf("%s: /cluster-health names cluster %q, want %q", n.Name, h.ClusterName, c.Name)
		}
		if h.MetadataClusterHealth == nil {
			return fmt.Errorf("%s: /cluster-health has no metadata_cluster_health", n.Name)
		}
		members := slices.Sorted(slices.Values(h.MetadataClusterHealth.Members))
		if !slices.Equal(members, wantMembers) {
			return fmt.Errorf("%s: metadata members %v, want %v", n.Name, members, wantMembers)
		}
	}
	return nil
}

// checkStatusReady checks one node's /cluster view against the nodes the harness knows to
// be live.
func checkStatusReady(s Status, live map[uint32]bool) error {
	if len(s.Partitions) == 0 {
		return errors.New("no partitions")
	}
	for id := range live {
		ns, ok := s.NodeByID(id)
		if !ok {
			return fmt.Errorf("node %d missing", id)
		}
		if !ns.Alive {
			return fmt.Errorf("node %d not alive yet", id)
		}
	}
	for _, p := range s.Partitions {
		if p.Leader == 0 {
			return fmt.Errorf("partition %d has no leader", p.ID)
		}
		if !live[p.Leader] {
			return fmt.Errorf("partition %d is led by node %d, which is down or paused", p.ID, p.Leader)
		}
	}
	return nil
}
