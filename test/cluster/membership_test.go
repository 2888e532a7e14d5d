package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	ch "github.com/restatego/restate/internal/clusterharness"
	"github.com/restatego/restate/internal/clusterharness/workload"
)

// TestFourthNodeJoins adds a node to a running cluster under load: it joins the metadata
// quorum, shows up alive in the status, and serves the deployment registered before it came.
func TestFourthNodeJoins(t *testing.T) {
	needCluster(t)
	r := newRig(t, ch.Options{})
	r.startLoad()
	time.Sleep(warmUp)

	n4 := r.c.AddNode()
	if err := n4.Start(); err != nil {
		t.Fatal(err)
	}
	r.c.MustBeReady() // now expects metadata members 1..4 and node 4 alive
	s := status(t, r.c.Node(1))
	if ns, ok := s.NodeByID(4); !ok || !ns.Alive || ns.Name != n4.Name {
		t.Fatalf("node 4 in the status: %+v (found %v)", ns, ok)
	}
	if err := r.c.WaitServices(30*time.Second, workload.ServiceNames...); err != nil {
		t.Fatal(err)
	}
	via := &workload.Caller{Targets: workload.NewTargets(n4.IngressURL()), OpTimeout: 20 * time.Second}
	id := r.runID + "-via-node-4"
	if res := via.Call(context.Background(), "/Ledger/"+r.ledgerKeys[0]+"/Append", id, id, ""); res.Outcome != workload.Acked {
		t.Fatalf("append through the new node: %v", res.LastErr)
	}
	r.probes[id] = r.ledgerKeys[0]
	time.Sleep(settle)
	r.stopAndCheck()
	ledger, err := workload.ReadLedger(via, r.ledgerKeys[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(ledger, " "), id) {
		t.Fatalf("append acknowledged by node 4 is missing")
	}
}

// TestForeignClusterRefused starts a node configured for another cluster name against the
// cluster's metadata servers: it must refuse to join, exiting with an error that names the
// mismatch, and the cluster must not list it.
func TestForeignClusterRefused(t *testing.T) {
	needCluster(t)
	c := startCluster(t, ch.Options{})
	foreign := c.NewOutsider("RESTATE_CLUSTER_NAME=other-cluster")
	if err := foreign.Start(); err != nil {
		t.Fatal(err)
	}
	err := foreign.WaitExit(30 * time.Second)
	if errors.Is(err, ch.ErrStillRunning) {
		t.Fatalf("a node of cluster other-cluster is still running 30s after contacting %s", c.Name)
	}
	if err == nil {
		t.Fatalf("the foreign node exited with status 0")
	}
	if log := foreign.Log(); !strings.Contains(log, c.Name) {
		t.Errorf("the foreign node's log does not name the cluster it refused (%q):\n%s", c.Name, foreign.LogTail(20))
	}
	s := status(t, c.Node(1))
	if _, ok := s.NodeByID(uint32(foreign.ID)); ok || len(s.Nodes) != 3 {
		t.Fatalf("the cluster lists %d nodes after the foreign node tried to join: %+v", len(s.Nodes), s.Nodes)
	}
	c.MustBeReady() // metadata members still exactly 1..3
}
