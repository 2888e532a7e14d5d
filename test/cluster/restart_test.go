package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	ch "github.com/restatego/restate/internal/clusterharness"
)

// Restart budgets. restartGapBudget is the longest the healthy nodes may go without a
// successful request while a killed node comes back (the goal is 1s; the margin absorbs a
// loaded CI machine). restartServeBudget is how long after its process starts a restarted
// node may take to serve through its ingress: it only has to reach the metadata quorum and
// forward to the partitions' current leaders, as Restate's does at once.
const (
	restartGapBudget   = 1500 * time.Millisecond
	restartServeBudget = 4 * time.Second
	restartWatch       = 10 * time.Second
	// restartDownTime is long enough for gRPC's default reconnect backoff to reach seconds
	// and for the node to miss thousands of records.
	restartDownTime = 10 * time.Second
)

// TestRestartUnderLoad kills a node with SIGKILL under load through the other two, lets the
// survivors take over, and starts it again. The survivors must keep serving while it comes
// back (no stall while it catches up or takes its partitions back), and the restarted node
// must serve through its ingress soon after it starts, with its node-port /health saying 200
// only once it does.
func TestRestartUnderLoad(t *testing.T) {
	needCluster(t)
	r := newRig(t, ch.Options{})
	r.startLoad()
	time.Sleep(warmUp)
	// The busiest leader is the preferred leader of its partitions: once back, it gets them
	// back, which must not stall them.
	victim := r.busiestLeader()
	var healthy []string
	for _, n := range r.c.Nodes {
		if n != victim {
			healthy = append(healthy, n.IngressURL())
		}
	}
	r.caller.Targets.Set(healthy...)

	victim.Kill()
	time.Sleep(restartDownTime)
	restarted := time.Now()
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	w := watchRestart(t, victim, r.registerKeys[0], restarted.Add(restartWatch))
	if until := time.Until(restarted.Add(restartWatch)); until > 0 {
		time.Sleep(until)
	}
	end := time.Now()
	gap := r.timeline.LongestGap(restarted, end)
	keyGap := r.timeline.LongestKeyGap(restarted, end)
	t.Logf("restart of %s: /health 200 after %s, first request served through it after %s; "+
		"longest stretch without a success on the healthy nodes: %s (whole cluster), %s (key %s); %d successes in %s",
		victim.Name, w.healthAt.Round(time.Millisecond), w.servedAt.Round(time.Millisecond),
		gap.Duration().Round(time.Millisecond), keyGap.Duration().Round(time.Millisecond), keyGap.Key,
		r.timeline.Count(restarted, end), end.Sub(restarted).Round(time.Millisecond))
	var buckets []string
	for at := restarted; at.Before(end); at = at.Add(500 * time.Millisecond) {
		buckets = append(buckets, fmt.Sprint(r.timeline.Count(at, at.Add(500*time.Millisecond))))
	}
	t.Logf("successes per 500ms after the restart: %s", strings.Join(buckets, " "))
	if gap.Duration() > restartGapBudget {
		t.Errorf("the healthy nodes served nothing for %s (from %s to %s after the restart); budget %s",
			gap.Duration().Round(time.Millisecond), gap.From.Sub(restarted).Round(time.Millisecond),
			gap.To.Sub(restarted).Round(time.Millisecond), restartGapBudget)
	}
	if w.healthAt == 0 || w.healthAt > restartServeBudget {
		t.Errorf("the restarted node's /health said 200 after %s (0 = never within %s); budget %s",
			w.healthAt.Round(time.Millisecond), restartWatch, restartServeBudget)
	}
	if w.servedAt == 0 || w.servedAt > restartServeBudget {
		t.Errorf("the restarted node served its first request after %s (0 = never within %s); budget %s",
			w.servedAt.Round(time.Millisecond), restartWatch, restartServeBudget)
	}
	for _, e := range w.errors {
		t.Error(e)
	}
	r.c.MustBeReady()
	r.stopAndCheck()
}

// restartView is what watchRestart saw of a restarting node, as durations since its start.
type restartView struct {
	healthAt, servedAt time.Duration
	errors             []string
}

// watchRestart polls a restarting node's node-port /health and sends a read through its
// ingress, every 50ms, until both succeeded or deadline: whenever /health says 200 the read
// must succeed at its first try (200 means the node serves).
func watchRestart(t *testing.T, n *ch.Node, registerKey string, deadline time.Time) restartView {
	t.Helper()
	start := time.Now()
	var v restartView
	seen := map[string]bool{}
	fail := func(msg string) {
		if !seen[msg] {
			seen[msg] = true
			v.errors = append(v.errors, msg)
		}
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for time.Now().Before(deadline) && (v.servedAt == 0 || v.healthAt == 0) {
		health, body := get(client, http.MethodGet, n.NodeURL()+"/health")
		if health == http.StatusOK && v.healthAt == 0 {
			v.healthAt = time.Since(start)
		}
		if health != 0 && health != http.StatusOK && health != http.StatusServiceUnavailable {
			fail(fmt.Sprintf("/health answered %d while starting: %.200s", health, body))
		}
		if health != http.StatusOK && v.servedAt != 0 {
			time.Sleep(50 * time.Millisecond)
			continue // served already; waiting for /health to say so
		}
		code, body := get(client, http.MethodPost, n.IngressURL()+"/Register/"+registerKey+"/Get")
		switch {
		case code == http.StatusOK:
			if v.servedAt == 0 {
				v.servedAt = time.Since(start)
			}
		case health == http.StatusOK:
			fail(fmt.Sprintf("/health said 200 but the ingress answered %d: %.200s", code, strings.TrimSpace(body)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return v
}

// get sends a body-less request and returns the status (0 when it failed) and body.
func get(client *http.Client, method, url string) (int, string) {
	req, _ := http.NewRequestWithContext(context.Background(), method, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSingleNodeHealth polls a single node's node-port /health from the moment its process
// starts, twice (fresh and restarted with data): it answers 503 with status StartingUp until
// the node serves, then 200 with every role ready and every partition led, and a request
// through the ingress succeeds right away.
func TestSingleNodeHealth(t *testing.T) {
	r := newRig(t, ch.Options{Nodes: 1, Replication: 1, Partitions: 8, Ready: ch.ReadyHealth})
	n := r.c.Node(1)
	r.startLoad()
	time.Sleep(2 * time.Second)
	n.Kill()
	r.ledger.Abort()
	r.register.Abort()
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	var starting int
	for {
		if time.Now().After(deadline) {
			t.Fatalf("/health never said 200 (%d answers with 503)", starting)
		}
		code, body := get(client, http.MethodGet, n.NodeURL()+"/health")
		if code == 0 {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		var id struct {
			Status        string `json:"status"`
			WorkerStatus  string `json:"worker_status"`
			AdminStatus   string `json:"admin_status"`
			Metadata      string `json:"metadata_server_status"`
			PartitionsLed int    `json:"partitions_led"`
		}
		if err := json.Unmarshal([]byte(body), &id); err != nil {
			t.Fatalf("/health answered %d with a body that is not its JSON: %v: %.200s", code, err, body)
		}
		if code == http.StatusServiceUnavailable {
			if id.Status != "StartingUp" {
				t.Fatalf("/health answered 503 with status %q: %s", id.Status, body)
			}
			starting++
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if code != http.StatusOK || id.Status != "Alive" || id.WorkerStatus != "Ready" || id.AdminStatus != "Ready" ||
			id.Metadata != "Member" || id.PartitionsLed != 8 {
			t.Fatalf("/health answered %d: %s; want 200, Alive, every role ready and 8 partitions led", code, body)
		}
		break
	}
	start := time.Now()
	code, body := get(client, http.MethodPost, n.IngressURL()+"/Register/"+r.registerKeys[0]+"/Get")
	if code != http.StatusOK {
		t.Fatalf("/health said 200 but the ingress answered %d: %.200s", code, body)
	}
	t.Logf("/health answered 503 %d times; the first request after its 200 took %s", starting, time.Since(start).Round(time.Millisecond))
}
