package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	ch "github.com/restatego/restate/internal/clusterharness"
	"github.com/restatego/restate/internal/clusterharness/workload"
)

var allRoles = []string{"admin", "http-ingress", "log-server", "metadata-server", "worker"}

func status(t *testing.T, n *ch.Node) ch.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := n.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestClusterStatus checks the three status endpoints on every node of a fresh cluster, and
// that a deployment registered through one node is callable through every node.
func TestClusterStatus(t *testing.T) {
	needCluster(t)
	const partitions = 8
	c := startCluster(t, ch.Options{Partitions: partitions})
	r := newRigOn(t, c, c.Node(2))

	// Write through every ingress, then read everything back through every ingress.
	for _, n := range c.Nodes {
		via := &workload.Caller{Targets: workload.NewTargets(n.IngressURL()), OpTimeout: 20 * time.Second}
		for _, key := range r.ledgerKeys {
			id := fmt.Sprintf("%s-%s-%s", r.runID, n.Name, key)
			if res := via.Call(context.Background(), "/Ledger/"+key+"/Append", id, id, ""); res.Outcome != workload.Acked {
				t.Fatalf("append through %s: %v", n.Name, res.LastErr)
			}
		}
	}
	for _, n := range c.Nodes {
		via := &workload.Caller{Targets: workload.NewTargets(n.IngressURL()), OpTimeout: 20 * time.Second}
		got, err := workload.ReadLedgers(via, r.ledgerKeys)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range r.ledgerKeys {
			if len(got[key]) != len(c.Nodes) {
				t.Errorf("ledger %s through %s: %v, want one entry per node", key, n.Name, got[key])
			}
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range c.Nodes {
		h, err := n.ClusterHealth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if h.ClusterName != c.Name || h.MetadataClusterHealth == nil || !slices.Equal(slices.Sorted(slices.Values(h.MetadataClusterHealth.Members)), []uint32{1, 2, 3}) {
			t.Errorf("%s /cluster-health = %+v", n.Name, h)
		}

		id, err := n.Identity(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if id.PlainID() != n.ID || id.ClusterName != c.Name || id.Status != "Alive" {
			t.Errorf("%s node-port /health = %+v", n.Name, id)
		}

		s := status(t, n)
		checkStatus(t, n.Name, c, s, partitions)
	}
}

// checkStatus checks one node's GET /cluster of a healthy three-node cluster.
func checkStatus(t *testing.T, from string, c *ch.Cluster, s ch.Status, partitions int) {
	t.Helper()
	if s.ClusterName != c.Name {
		t.Errorf("%s: cluster_name %q", from, s.ClusterName)
	}
	if n := c.Node(int(s.ThisNode)); n.Name != from {
		t.Errorf("%s: this_node is %d (%s)", from, s.ThisNode, n.Name)
	}
	if len(s.Nodes) != len(c.Nodes) {
		t.Fatalf("%s: %d nodes, want %d: %+v", from, len(s.Nodes), len(c.Nodes), s.Nodes)
	}
	led, followed := map[uint32]uint32{}, map[uint32][]uint32{}
	for _, ns := range s.Nodes {
		n := c.Node(int(ns.ID))
		if ns.Name != n.Name || strings.TrimSuffix(ns.Address, "/") != n.AdvertisedAddress() || !ns.Alive {
			t.Errorf("%s: node %d = %+v, want name %s, address %s, alive", from, ns.ID, ns, n.Name, n.AdvertisedAddress())
		}
		if !slices.Equal(slices.Sorted(slices.Values(ns.Roles)), allRoles) {
			t.Errorf("%s: node %d roles %v", from, ns.ID, ns.Roles)
		}
		for _, p := range ns.LeaderOf {
			led[p] = ns.ID
		}
		for _, p := range ns.FollowerOf {
			followed[p] = append(followed[p], ns.ID)
		}
	}
	if len(s.Partitions) != partitions {
		t.Fatalf("%s: %d partitions, want %d", from, len(s.Partitions), partitions)
	}
	var applied uint64
	for _, p := range s.Partitions {
		applied += p.Applied
		// RESTATE_DEFAULT_REPLICATION=2: at least a leader and one follower.
		if p.Leader == 0 || !slices.Contains(p.Replicas, p.Leader) || len(p.Replicas) < 2 {
			t.Errorf("%s: partition %d: leader %d, replicas %v (want at least 2 replicas including the leader)", from, p.ID, p.Leader, p.Replicas)
			continue
		}
		if p.Epoch == 0 {
			t.Errorf("%s: partition %d has leader %d at epoch 0", from, p.ID, p.Leader)
		}
		if led[p.ID] != p.Leader {
			t.Errorf("%s: partition %d led by %d, but node %d lists it as led", from, p.ID, p.Leader, led[p.ID])
		}
		var wantFollowers []uint32
		for _, id := range p.Replicas {
			if id != p.Leader {
				wantFollowers = append(wantFollowers, id)
			}
		}
		if !slices.Equal(slices.Sorted(slices.Values(followed[p.ID])), slices.Sorted(slices.Values(wantFollowers))) {
			t.Errorf("%s: partition %d followed by %v, replicas say %v", from, p.ID, followed[p.ID], wantFollowers)
		}
		if p.Durable > p.Applied {
			t.Errorf("%s: partition %d durable %d beyond applied %d", from, p.ID, p.Durable, p.Applied)
		}
	}
	if applied == 0 {
		t.Errorf("%s: no partition reports an applied position after writes", from)
	}
	m := s.Metadata
	if !slices.Equal(slices.Sorted(slices.Values(m.Members)), []uint32{1, 2, 3}) || !slices.Contains(m.Members, m.Leader) || m.Term == 0 {
		t.Errorf("%s: metadata quorum %+v", from, m)
	}
}
