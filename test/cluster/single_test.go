package cluster

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	ch "github.com/restatego/restate/internal/clusterharness"
	"github.com/restatego/restate/internal/clusterharness/workload"
)

// TestSingleNodeWorkload runs the workload and both checkers against a one-node "cluster"
// (auto-provision, replication 1) killed with SIGKILL mid-run. It needs no cluster engine, so
// it shows that the harness, workload and checkers work end to end on today's server; it
// then plants a duplicate and a foreign entry to show the checker sees them through the
// server.
func TestSingleNodeWorkload(t *testing.T) {
	r := newRig(t, ch.Options{Nodes: 1, Replication: 1, Ready: ch.ReadyHealth})
	r.startLoad()
	time.Sleep(3 * time.Second)
	n := r.c.Node(1)
	killed := time.Now()
	n.Kill()
	time.Sleep(time.Second)
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	r.c.MustBeReady()
	time.Sleep(3 * time.Second)
	r.reportStall("SIGKILL single node", killed, time.Now())
	r.stopAndCheck()
	if t.Failed() {
		return
	}

	// Append an acknowledged id again under a fresh idempotency key, plus an id nobody sent:
	// the ledger check must flag both.
	key := r.ledgerKeys[0]
	ledger, err := workload.ReadLedger(r.caller, key)
	if err != nil || len(ledger) == 0 {
		t.Fatalf("ledger %s: %v %v", key, ledger, err)
	}
	dup := ledger[0]
	for _, entry := range []string{dup, "planted-" + r.runID} {
		if res := r.caller.Call(context.Background(), "/Ledger/"+key+"/Append", entry, "plant-"+entry, ""); res.Outcome != workload.Acked {
			t.Fatalf("planting %s: %v", entry, res.LastErr)
		}
	}
	contents, err := workload.ReadLedgers(r.caller, r.ledgerKeys)
	if err != nil {
		t.Fatal(err)
	}
	history := &workload.LedgerHistory{Entries: map[string]workload.LedgerEntry{}}
	for k, ids := range contents {
		for _, id := range ids {
			if !strings.HasPrefix(id, "planted-") {
				history.Entries[id] = workload.LedgerEntry{Key: k, Outcome: workload.Acked}
			}
		}
	}
	err = workload.CheckLedger(history, contents).Err()
	if err == nil || !strings.Contains(err.Error(), dup+" x2") || !strings.Contains(err.Error(), "planted-"+r.runID) {
		t.Fatalf("planted duplicate and phantom not reported: %v", err)
	}
}

// TestSeedPorts runs a cluster exactly as the seed's compose lays it out: fixed ports,
// shared base directory, cluster name restate-cluster. The ports may be taken on a developer
// machine, hence the switch.
func TestSeedPorts(t *testing.T) {
	needCluster(t)
	if os.Getenv("RESTATE_CLUSTER_SEED_PORTS") == "" {
		t.Skip("set RESTATE_CLUSTER_SEED_PORTS=1 to use ports 8080/9070/5122, 28080/29070/25122, 38080/39070/35122")
	}
	r := newRig(t, ch.Options{SeedPorts: true, SharedBaseDir: true, ClusterName: "restate-cluster"})
	r.startLoad()
	time.Sleep(warmUp)
	r.stopAndCheck()
}
