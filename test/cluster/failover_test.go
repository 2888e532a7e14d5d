package cluster

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	ch "github.com/restatego/restate/internal/clusterharness"
	"github.com/restatego/restate/internal/clusterharness/workload"
)

// Scenario timings. failoverBudget is how long after losing a node every key must make
// progress again; it is generous against Restate's few seconds so a loaded CI machine does
// not flake, and the measured stall is logged for the real number.
const (
	warmUp         = 3 * time.Second
	downTime       = 5 * time.Second
	settle         = 2 * time.Second
	pauseTime      = 15 * time.Second
	failoverBudget = 8 * time.Second
)

// TestKillEachNodeInTurn kills every node with SIGKILL in turn, the provisioning node first,
// under load through all three ingresses, on a shared base directory as in the seed compose.
func TestKillEachNodeInTurn(t *testing.T) {
	needCluster(t)
	r := newRig(t, ch.Options{SharedBaseDir: true})
	r.startLoad()
	time.Sleep(warmUp)

	var worst time.Duration
	for _, n := range r.c.Nodes {
		killed := time.Now()
		n.Kill()
		time.Sleep(downTime)
		if r.timeline.Count(killed.Add(downTime/2), time.Now()) == 0 {
			t.Errorf("no request succeeded in the second half of %s's downtime", n.Name)
		}
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		r.c.MustBeReady()
		time.Sleep(settle)
		worst = max(worst, r.reportStall("SIGKILL "+n.Name, killed, time.Now()))
	}
	t.Logf("failover time (longest stall of one key over all kills): %s", worst.Round(time.Millisecond))
	r.stopAndCheck()
}

// TestPauseLeader freezes the node leading the most partitions with SIGSTOP long enough for
// the others to take over, then lets it continue: it must step down rather than act on its
// stale leadership, which the linearizability check would catch.
func TestPauseLeader(t *testing.T) {
	needCluster(t)
	r := newRig(t, ch.Options{})
	r.startLoad()
	time.Sleep(warmUp)

	leader := r.busiestLeader()
	paused := time.Now()
	if err := leader.Pause(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(pauseTime)
	if stuck := r.keysWithoutProgress(paused.Add(failoverBudget), time.Now()); len(stuck) > 0 {
		t.Errorf("keys without a successful request from %s to %s after pausing %s: %v",
			failoverBudget, pauseTime, leader.Name, stuck)
	}
	leader.Resume()
	r.c.MustBeReady()
	time.Sleep(settle)
	r.reportStall("SIGSTOP "+leader.Name, paused, time.Now())
	r.stopAndCheck()
}

// TestWipedNodeRejoins deletes a node's data while it is down; started again it rejoins by
// itself, rebuilds its replicas and serves requests.
func TestWipedNodeRejoins(t *testing.T) {
	needCluster(t)
	r := newRig(t, ch.Options{SharedBaseDir: true})
	r.startLoad()
	time.Sleep(warmUp)

	victims := []*ch.Node{r.c.Node(3)}
	if longMode() {
		// The provisioning node wiped keeps RESTATE_AUTO_PROVISION=true: it must join the
		// existing cluster instead of provisioning a new one.
		victims = append(victims, r.c.Node(1))
	}
	for _, n := range victims {
		wiped := time.Now()
		if err := n.WipeAndRestart(); err != nil {
			t.Fatal(err)
		}
		r.c.MustBeReady()
		time.Sleep(settle)
		r.reportStall("wipe "+n.Name, wiped, time.Now())
		id, err := identity(n)
		if err != nil || id.PlainID() != n.ID {
			t.Fatalf("%s after the wipe: identity %+v, %v", n.Name, id, err)
		}
		// The wiped node must know the deployment again and serve any key.
		via := &workload.Caller{Targets: workload.NewTargets(n.IngressURL()), OpTimeout: 20 * time.Second}
		if _, err := workload.ReadLedger(via, r.ledgerKeys[0]); err != nil {
			t.Fatalf("reading through wiped %s: %v", n.Name, err)
		}
	}
	r.stopAndCheck()
}

// TestMinorityAnswers503 kills two of three nodes: the survivor has lost the majority and
// must answer requests with 503 and a message instead of hanging or accepting them. With the
// others back, everything acknowledged before is still there.
func TestMinorityAnswers503(t *testing.T) {
	needCluster(t)
	r := newRig(t, ch.Options{})
	r.startLoad()
	time.Sleep(warmUp)

	survivor := r.c.Node(1)
	r.c.Node(2).Kill()
	r.c.Node(3).Kill()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	probe := r.runID + "-minority-probe"
	r.probes[probe] = r.ledgerKeys[0]
	for {
		code, body, err := post(survivor.IngressURL()+"/Ledger/"+r.ledgerKeys[0]+"/Append", `"`+probe+`"`, probe)
		if err == nil && code == http.StatusServiceUnavailable {
			if msg := errorMessage(body); msg == "" {
				t.Errorf("503 without a message: %q", body)
			} else {
				t.Logf("survivor answers 503: %s", msg)
			}
			break
		}
		last = fmt.Sprintf("%d %q %v", code, body, err)
		if time.Now().After(deadline) {
			t.Fatalf("the survivor never answered 503 within 30s; last answer: %s", last)
		}
		time.Sleep(500 * time.Millisecond)
	}

	for _, n := range r.c.Nodes[1:] {
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
	}
	r.c.MustBeReady()
	time.Sleep(settle)
	r.stopAndCheck()
}

// post sends one request without retries.
func post(url, body, idempotencyKey string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("content-type", "application/json")
	req.Header.Set("idempotency-key", idempotencyKey)
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// errorMessage extracts the message of an error body: the "message" field of a JSON body, or
// the text itself.
func errorMessage(body string) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal([]byte(body), &m) == nil {
		return m.Message
	}
	return strings.TrimSpace(body)
}
