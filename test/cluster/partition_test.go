package cluster

import (
	"net/http"
	"testing"
	"time"

	ch "github.com/restatego/restate/internal/clusterharness"
)

// TestIsolatedNode cuts the busiest leader off from the other two through the server's
// RESTATE_TEST_PARTITION_FILE hook: the isolated node answers 503 with a message, the
// majority carries on, and after healing the histories check out.
func TestIsolatedNode(t *testing.T) {
	needCluster(t)
	r := newRig(t, ch.Options{})
	r.startLoad()
	time.Sleep(warmUp)

	victim := r.busiestLeader()
	cut := time.Now()
	if err := r.c.Isolate(victim); err != nil {
		t.Fatal(err)
	}
	probe := r.runID + "-isolated-probe"
	r.probes[probe] = r.ledgerKeys[0]
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, err := post(victim.IngressURL()+"/Ledger/"+r.ledgerKeys[0]+"/Append", `"`+probe+`"`, probe)
		if err == nil && code == http.StatusServiceUnavailable {
			if errorMessage(body) == "" {
				t.Errorf("503 without a message: %q", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("isolated %s never answered 503 (last: %d %q %v)", victim.Name, code, body, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(max(0, pauseTime-time.Since(cut)))
	if stuck := r.keysWithoutProgress(cut.Add(failoverBudget), time.Now()); len(stuck) > 0 {
		t.Errorf("keys without progress while %s was isolated: %v", victim.Name, stuck)
	}
	if err := r.c.Heal(); err != nil {
		t.Fatal(err)
	}
	r.c.MustBeReady()
	time.Sleep(settle)
	r.reportStall("isolate "+victim.Name, cut, time.Now())
	r.stopAndCheck()
}
