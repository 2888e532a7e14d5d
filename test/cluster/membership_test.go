package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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

	// Node 4 takes a share of the partitions, so no node holds them all any more; still, each
	// node's SQL endpoint sees every partition (the others answer for what it lacks).
	eventually(t, 60*time.Second, "node 4 to hold a share of the partitions", func() error {
		for _, ns := range status(t, r.c.Node(1)).Nodes {
			if ns.ID == 4 && len(ns.LeaderOf)+len(ns.FollowerOf) == 0 {
				return fmt.Errorf("node 4 holds no partition")
			}
		}
		return nil
	})
	checkQueriesSeeEveryPartition(t, r.c)

	// Right after a node dies its partitions have no leader for a moment; a query asked then
	// still sees every partition (a follower's copy answers for the dead leader).
	const countAll = "SELECT count(*) AS n FROM sys_invocation"
	before := sqlRows(t, r.c.Node(1), countAll)[0]["n"]
	n4.Kill()
	for _, n := range []int{1, 2, 3} {
		if got := sqlRows(t, r.c.Node(n), countAll)[0]["n"]; got != before {
			t.Errorf("with node 4 just killed, %s counts %v invocations, %v before", r.c.Node(n).Name, got, before)
		}
	}
}

// checkQueriesSeeEveryPartition asks every node's /query the same questions, with no load
// running: the answers agree, and a lookup by invocation id finds the invocation from any node,
// whether or not that node holds its partition.
func checkQueriesSeeEveryPartition(t *testing.T, c *ch.Cluster) {
	t.Helper()
	nodes := c.Running()
	ids := sqlRows(t, nodes[0], "SELECT id FROM sys_invocation WHERE target_service_name = 'Ledger' ORDER BY id LIMIT 16")
	if len(ids) < 8 {
		t.Fatalf("only %d Ledger invocations in sys_invocation", len(ids))
	}
	for _, q := range []string{"SELECT count(*) AS n FROM sys_invocation", "SELECT count(*) AS n FROM state", "SELECT count(*) AS n FROM sys_journal"} {
		want := sqlRows(t, nodes[0], q)[0]["n"]
		for _, n := range nodes[1:] {
			if got := sqlRows(t, n, q)[0]["n"]; got != want {
				t.Errorf("%s: %s answers %v, %s answers %v", q, nodes[0].Name, want, n.Name, got)
			}
		}
	}
	for _, n := range nodes {
		for _, row := range ids {
			got := sqlRows(t, n, fmt.Sprintf("SELECT id, status FROM sys_invocation WHERE id = '%s'", row["id"]))
			if len(got) != 1 || got[0]["status"] != "completed" {
				t.Errorf("%s: invocation %s: %v", n.Name, row["id"], got)
			}
		}
	}
}

func sqlRows(t *testing.T, n *ch.Node, q string) []map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": q})
	req, _ := http.NewRequest(http.MethodPost, n.AdminURL()+"/query", bytes.NewReader(body))
	req.Header.Set("content-type", "application/json")
	req.Header.Set("accept", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s /query: %v", n.Name, err)
	}
	defer resp.Body.Close()
	var out struct {
		Rows []map[string]any `json:"rows"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil {
		t.Fatalf("%s /query %q: %d %s", n.Name, q, resp.StatusCode, b)
	}
	return out.Rows
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
