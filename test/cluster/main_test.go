// Package cluster tests the highly available cluster: three (or more) restate-server
// processes on loopback under a steady load of acknowledged updates, with nodes killed,
// paused, wiped and cut off. After every scenario each acknowledged ledger append is present
// exactly once and the register history is linearizable.
//
// Environment switches:
//
//	RESTATE_CLUSTER_SEED_PORTS=1    run the test on the seed's fixed ports 8080/9070/5122...
//	RESTATE_CLUSTER_LONG=1          longer scenarios (also wipe the provisioning node)
//	RESTATE_CLUSTER_ARTIFACTS=dir   keep node logs and porcupine visualisations of failures
package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	ch "github.com/restatego/restate/internal/clusterharness"
	"github.com/restatego/restate/internal/clusterharness/workload"
	"github.com/restatego/restate/internal/testharness"
)

func TestMain(m *testing.M) { testharness.Main(m) }

// noClusterEngine is set once a test found that the server has no GET /cluster, so the other
// tests fail at once instead of each waiting for readiness.
var noClusterEngine atomic.Bool

// needCluster skips multi-node scenarios in -short runs.
func needCluster(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-node scenario; skipped with -short")
	}
	if noClusterEngine.Load() {
		t.Fatal("the server has no cluster engine (an earlier test found GET /cluster answering 404)")
	}
}

// startCluster starts a cluster and waits until it is ready.
func startCluster(t *testing.T, opts ch.Options) *ch.Cluster {
	t.Helper()
	c := ch.New(t, opts)
	start := time.Now()
	c.StartAll()
	// A server without a cluster engine answers /cluster with 404 from the start; give it a
	// short while, then fail without waiting the whole readiness timeout.
	err := c.WaitReady(15 * time.Second)
	if errors.Is(err, ch.ErrNoClusterStatus) {
		noClusterEngine.Store(true)
		t.Fatalf("cluster not ready: %v", err)
	}
	if err != nil {
		c.MustBeReady()
	}
	t.Logf("cluster of %d ready after %s", len(c.Nodes), time.Since(start).Round(10*time.Millisecond))
	return c
}

// Load sizes. Each ledger key has one client and each register key two, so a key stalls
// only when its partition does.
const (
	ledgerKeys        = 6
	registerKeys      = 3
	registerPerKey    = 2
	pace              = 5 * time.Millisecond
	attemptTimeout    = 5 * time.Second
	opTimeout         = 30 * time.Second
	porcupineDeadline = 60 * time.Second
)

// rig is a cluster with the Ledger and Register services registered and a load running
// through every node's ingress.
type rig struct {
	t        *testing.T
	c        *ch.Cluster
	ep       *workload.Endpoint
	timeline *workload.Timeline
	caller   *workload.Caller
	runID    string

	ledgerKeys, registerKeys []string
	ledger                   *workload.LedgerRun
	register                 *workload.RegisterRun
	// probes are appends a test sent outside the load (id to key) whose outcome it does not
	// know: they may be present at most once.
	probes map[string]string
}

// newRig starts the cluster and the service endpoint and registers the endpoint through
// node 1 (any node must accept it).
func newRig(t *testing.T, opts ch.Options) *rig {
	t.Helper()
	var c *ch.Cluster
	if opts.Ready == nil {
		c = startCluster(t, opts)
	} else {
		c = ch.Start(t, opts)
	}
	return newRigOn(t, c, c.Nodes[0])
}

func newRigOn(t *testing.T, c *ch.Cluster, registerVia *ch.Node) *rig {
	t.Helper()
	ep, err := workload.StartEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ep.Close)
	if err := c.RegisterDeployment(registerVia, ep.URL, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitServices(30*time.Second, workload.ServiceNames...); err != nil {
		t.Fatal(err)
	}
	// The first invocation an sdk-go endpoint serves is slow (the SDK prepares its protocol
	// core lazily; seconds under -race), so serve one before the load starts measuring.
	warm := &workload.Caller{Targets: workload.NewTargets(registerVia.IngressURL()), AttemptTimeout: time.Minute, OpTimeout: time.Minute}
	if res := warm.Call(context.Background(), "/Register/warm-up/Get", nil, "", ""); res.Outcome != workload.Acked {
		t.Fatalf("warm-up call through %s: %v", registerVia.Name, res.LastErr)
	}
	r := &rig{t: t, c: c, ep: ep, timeline: workload.NewTimeline(), probes: map[string]string{}, runID: fmt.Sprintf("r%d", time.Now().UnixNano()%1_000_000)}
	r.caller = &workload.Caller{Targets: workload.NewTargets(c.IngressURLs()...), AttemptTimeout: attemptTimeout, OpTimeout: opTimeout, Timeline: r.timeline}
	for i := range ledgerKeys {
		r.ledgerKeys = append(r.ledgerKeys, fmt.Sprintf("%s-ledger-%d", r.runID, i))
	}
	for i := range registerKeys {
		r.registerKeys = append(r.registerKeys, fmt.Sprintf("%s-register-%d", r.runID, i))
	}
	return r
}

// startLoad starts the ledger and register clients.
func (r *rig) startLoad() {
	r.ledger = workload.LedgerLoad{Caller: r.caller, Keys: r.ledgerKeys, Clients: ledgerKeys, Pace: pace, RunID: r.runID}.Start()
	r.register = workload.RegisterLoad{Caller: r.caller, Keys: r.registerKeys, ClientsPerKey: registerPerKey, Pace: pace, RunID: r.runID, Seed: uint64(time.Now().UnixNano())}.Start()
	// A test that fails half-way must not leave clients hammering the next test's cluster.
	r.t.Cleanup(func() {
		r.ledger.Abort()
		r.register.Abort()
	})
}

// stopAndCheck stops the load and checks both invariants: the ledgers, read through every
// running node, agree and hold every acknowledged append exactly once; the register history
// is linearizable.
func (r *rig) stopAndCheck() {
	r.t.Helper()
	ledgerHistory := r.ledger.Stop()
	registerHistory := r.register.Stop()
	for id, key := range r.probes {
		ledgerHistory.Entries[id] = workload.LedgerEntry{Key: key, Outcome: workload.Maybe}
	}

	var first map[string][]string
	for _, n := range r.c.Running() {
		via := &workload.Caller{Targets: workload.NewTargets(n.IngressURL()), AttemptTimeout: attemptTimeout, OpTimeout: opTimeout}
		contents, err := workload.ReadLedgers(via, r.ledgerKeys)
		if err != nil {
			r.t.Fatalf("reading ledgers through %s: %v", n.Name, err)
		}
		if first == nil {
			first = contents
			continue
		}
		for _, k := range r.ledgerKeys {
			if fmt.Sprint(contents[k]) != fmt.Sprint(first[k]) {
				r.t.Errorf("%s sees ledger %s with %d entries, %s sees %d", n.Name, k, len(contents[k]), r.c.Running()[0].Name, len(first[k]))
			}
		}
	}
	rep := workload.CheckLedger(ledgerHistory, first)
	r.t.Logf("ledger: %s", rep)
	if rep.Acked == 0 {
		r.t.Errorf("ledger: no append was acknowledged")
	}
	if err := rep.Err(); err != nil {
		r.t.Error(err)
	}

	r.t.Logf("register: %d operations (%d with unknown outcome, %d dropped)", len(registerHistory.Ops), registerHistory.Unknown, registerHistory.Dropped)
	if len(registerHistory.Ops) == registerHistory.Unknown {
		r.t.Errorf("register: no operation completed")
	}
	res, info := workload.CheckRegister(registerHistory, porcupineDeadline)
	if res != porcupine.Ok {
		r.t.Errorf("register history is not proven linearizable: porcupine says %s%s", res, r.visualize(info))
	}
}

// visualize writes porcupine's HTML view of a failed check and says where.
func (r *rig) visualize(info porcupine.LinearizationInfo) string {
	dir := os.Getenv("RESTATE_CLUSTER_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("porcupine-%s-%s.html", r.t.Name(), r.runID))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return ""
	}
	if err := porcupine.VisualizePath(workload.RegisterModel, info, path); err != nil {
		return fmt.Sprintf(" (visualisation failed: %v)", err)
	}
	return " (visualisation: " + path + ")"
}

// reportStall logs how long clients went without success in [from, to] and returns the
// longest stall of a single key, the failover time a client of that key saw.
func (r *rig) reportStall(event string, from, to time.Time) time.Duration {
	key := r.timeline.LongestKeyGap(from, to)
	all := r.timeline.LongestGap(from, to)
	r.t.Logf("%s: longest stretch without a successful request: %s for key %s, %s for the whole cluster (%d successes in %s)",
		event, key.Duration().Round(time.Millisecond), key.Key, all.Duration().Round(time.Millisecond),
		r.timeline.Count(from, to), to.Sub(from).Round(time.Millisecond))
	return key.Duration()
}

// busiestLeader returns the running node leading the most partitions according to the
// cluster status.
func (r *rig) busiestLeader() *ch.Node {
	r.t.Helper()
	s := status(r.t, r.c.Running()[0])
	best, count := 0, -1
	for _, ns := range s.Nodes {
		if len(ns.LeaderOf) > count {
			best, count = int(ns.ID), len(ns.LeaderOf)
		}
	}
	r.t.Logf("restate-%d leads %d partitions; metadata leader is %d", best, count, s.Metadata.Leader)
	return r.c.Node(best)
}

// keysWithoutProgress lists the keys that had no success in [from, to].
func (r *rig) keysWithoutProgress(from, to time.Time) []string {
	var stuck []string
	for _, k := range r.ledgerKeys {
		if r.keyCount("ledger/"+k, from, to) == 0 {
			stuck = append(stuck, k)
		}
	}
	for _, k := range r.registerKeys {
		if r.keyCount("register/"+k, from, to) == 0 {
			stuck = append(stuck, k)
		}
	}
	return stuck
}

func (r *rig) keyCount(key string, from, to time.Time) int {
	return r.timeline.CountKey(key, from, to)
}

// identity fetches a node's node-port /health.
func identity(n *ch.Node) (ch.Identity, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return n.Identity(ctx)
}

func longMode() bool { return os.Getenv("RESTATE_CLUSTER_LONG") != "" }
