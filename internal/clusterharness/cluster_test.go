package clusterharness

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restatego/restate/internal/testharness"
)

func TestMain(m *testing.M) { testharness.Main(m) }

// envValue returns the last value of key in env, as the process would see it.
func envValue(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

func TestLayoutMatchesSeedCompose(t *testing.T) {
	c := New(t, Options{})
	if len(c.Nodes) != 3 {
		t.Fatalf("%d nodes, want 3", len(c.Nodes))
	}
	addrs := `["` + c.Nodes[0].AdvertisedAddress() + `","` + c.Nodes[1].AdvertisedAddress() + `","` + c.Nodes[2].AdvertisedAddress() + `"]`
	ports := map[string]bool{}
	for i, n := range c.Nodes {
		id := string(rune('1' + i))
		want := map[string]string{
			"RESTATE_CLUSTER_NAME":               "test-cluster",
			"RESTATE_NODE_NAME":                  "restate-" + id,
			"RESTATE_FORCE_NODE_ID":              id,
			"RESTATE_ADVERTISED_ADDRESS":         "http://" + n.NodeAddr,
			"RESTATE_BIND_ADDRESS":               n.NodeAddr,
			"RESTATE_ADMIN__BIND_ADDRESS":        n.Admin,
			"RESTATE_INGRESS__BIND_ADDRESS":      n.Ingress,
			"RESTATE_AUTO_PROVISION":             map[bool]string{true: "true", false: "false"}[i == 0],
			"RESTATE_METADATA_CLIENT__ADDRESSES": addrs,
			"RESTATE_DEFAULT_REPLICATION":        "2",
			"RESTATE_ROLES":                      "[worker,admin,metadata-server,log-server,http-ingress]",
			"RESTATE_BIFROST__DEFAULT_PROVIDER":  "replicated",
			"RESTATE_BASE_DIR":                   n.BaseDir,
			PartitionFileEnv:                     n.PartitionFile,
		}
		for k, v := range want {
			if got, _ := envValue(n.Env, k); got != v {
				t.Errorf("%s: %s = %q, want %q", n.Name, k, got, v)
			}
		}
		for _, p := range []string{n.Ingress, n.Admin, n.NodeAddr} {
			if ports[p] || !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: address %s reused or not loopback", n.Name, p)
			}
			ports[p] = true
		}
	}
	if c.Nodes[0].BaseDir == c.Nodes[1].BaseDir {
		t.Errorf("separate base dirs expected, both %s", c.Nodes[0].BaseDir)
	}
}

func TestLayoutSharedBaseDirAndSeedPorts(t *testing.T) {
	c := New(t, Options{SharedBaseDir: true, SeedPorts: true, ClusterName: "restate-cluster", Env: []string{"RESTATE_DEFAULT_REPLICATION=3"}})
	if c.Nodes[0].BaseDir != c.Nodes[2].BaseDir || c.Nodes[0].DataDir() == c.Nodes[2].DataDir() {
		t.Fatalf("shared base dir: %s / %s, data %s / %s", c.Nodes[0].BaseDir, c.Nodes[2].BaseDir, c.Nodes[0].DataDir(), c.Nodes[2].DataDir())
	}
	if filepath.Base(c.Nodes[1].DataDir()) != "restate-2" {
		t.Fatalf("data dir %s is not <base-dir>/<node-name>", c.Nodes[1].DataDir())
	}
	n2 := c.Nodes[1]
	if n2.Ingress != "127.0.0.1:28080" || n2.Admin != "127.0.0.1:29070" || n2.NodeAddr != "127.0.0.1:25122" {
		t.Fatalf("node 2 ports %s %s %s", n2.Ingress, n2.Admin, n2.NodeAddr)
	}
	if v, _ := envValue(n2.Env, "RESTATE_DEFAULT_REPLICATION"); v != "3" {
		t.Fatalf("Options.Env does not override: replication %q", v)
	}
	n4 := c.AddNode("RESTATE_ROLES=[worker]")
	if n4.ID != 4 || strings.HasSuffix(n4.Ingress, ":8080") {
		t.Fatalf("added node %d at %s", n4.ID, n4.Ingress)
	}
	if v, _ := envValue(n4.Env, "RESTATE_AUTO_PROVISION"); v != "false" {
		t.Fatalf("added node auto-provisions: %q", v)
	}
	if v, _ := envValue(n4.Env, "RESTATE_ROLES"); v != "[worker]" {
		t.Fatalf("added node roles %q", v)
	}
}

func TestPartitionFiles(t *testing.T) {
	c := New(t, Options{})
	if err := c.Isolate(c.Node(3)); err != nil {
		t.Fatal(err)
	}
	want := map[int][]string{1: {"3"}, 2: {"3"}, 3: {"1", "2"}}
	for id, ids := range want {
		b, err := os.ReadFile(c.Node(id).PartitionFile)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, line := range strings.Split(string(b), "\n") {
			if line != "" && !strings.HasPrefix(line, "#") {
				got = append(got, line)
			}
		}
		if !slices.Equal(got, ids) {
			t.Errorf("node %d blocks %v, want %v", id, got, ids)
		}
	}
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(c.Node(3).PartitionFile)
	if strings.Contains(string(b), "1") || !strings.HasPrefix(string(b), "#") {
		t.Fatalf("healed file still blocks: %q", b)
	}
}

func TestCheckStatusReady(t *testing.T) {
	live := map[uint32]bool{1: true, 2: true}
	good := Status{
		Nodes:      []NodeStatus{{ID: 1, Alive: true}, {ID: 2, Alive: true}, {ID: 3}},
		Partitions: []PartitionStatus{{ID: 0, Leader: 1}, {ID: 1, Leader: 2}},
	}
	if err := checkStatusReady(good, live); err != nil {
		t.Fatalf("ready status rejected: %v", err)
	}
	bad := map[string]Status{
		"no partitions":           {Nodes: good.Nodes},
		"leaderless partition":    {Nodes: good.Nodes, Partitions: []PartitionStatus{{ID: 0, Leader: 1}, {ID: 1}}},
		"leader down":             {Nodes: good.Nodes, Partitions: []PartitionStatus{{ID: 0, Leader: 3}}},
		"live node not alive yet": {Nodes: []NodeStatus{{ID: 1, Alive: true}, {ID: 2}}, Partitions: good.Partitions},
		"live node missing":       {Nodes: []NodeStatus{{ID: 1, Alive: true}}, Partitions: []PartitionStatus{{ID: 0, Leader: 1}}},
	}
	for name, s := range bad {
		if err := checkStatusReady(s, live); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestIdentityPlainID(t *testing.T) {
	for in, want := range map[string]int{"N3:7": 3, "N12:1": 12, "N1": 1, "": 0, "3:1": 0, "Nx:1": 0, "N-1:2": 0, "N+4:1": 0} {
		if got := (Identity{NodeID: in}).PlainID(); got != want {
			t.Errorf("PlainID(%q) = %d, want %d", in, got, want)
		}
	}
}

func adminAnswers(n *Node, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.AdminURL()+"/health", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// TestNodeLifecycle drives one real server through every fault the harness injects.
func TestNodeLifecycle(t *testing.T) {
	c := Start(t, Options{Nodes: 1, Ready: ReadyHealth})
	n := c.Node(1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	id, err := n.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if id.PlainID() != 1 || id.ClusterName != "test-cluster" {
		t.Fatalf("identity %+v", id)
	}

	if err := n.Pause(); err != nil {
		t.Fatal(err)
	}
	if !n.Paused() || len(c.Running()) != 0 {
		t.Fatalf("paused node counted as running")
	}
	if adminAnswers(n, 500*time.Millisecond) {
		t.Fatalf("paused node answered")
	}
	n.Resume()
	if !adminAnswers(n, 5*time.Second) {
		t.Fatalf("resumed node does not answer")
	}

	pid := n.Pid()
	n.Kill()
	if n.Running() || n.UnexpectedExit() != nil {
		t.Fatalf("after kill: running %v, unexpected exit %v", n.Running(), n.UnexpectedExit())
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	c.MustBeReady()
	if n.Pid() == pid {
		t.Fatalf("restart kept pid %d", pid)
	}

	marker := filepath.Join(n.DataDir(), "harness-marker")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := n.Wipe(); err == nil {
		t.Fatalf("wiping a running node succeeded")
	}
	if err := n.WipeAndRestart(); err != nil {
		t.Fatal(err)
	}
	c.MustBeReady()
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("data survived the wipe: %v", err)
	}
	if !strings.Contains(n.Log(), "clusterharness: starting restate-1") {
		t.Fatalf("log does not record the starts")
	}
}

// TestWaitReadyStopsOnExit checks that a node dying on its own ends the wait at once
// instead of after the timeout.
func TestWaitReadyStopsOnExit(t *testing.T) {
	artifacts := t.TempDir()
	c := New(t, Options{Nodes: 1, Ready: ReadyHealth, ArtifactsDir: artifacts, Env: []string{"RESTATE_DEFAULT_NUM_PARTITIONS=not-a-number"}})
	c.StartAll()
	start := time.Now()
	err := c.WaitReady(30 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "exited on its own") {
		t.Fatalf("WaitReady = %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("WaitReady took %s", time.Since(start))
	}
	c.saveLogs()
	b, err := os.ReadFile(filepath.Join(artifacts, t.Name(), "restate-1.log"))
	if err != nil || !strings.Contains(string(b), "default-num-partitions") {
		t.Fatalf("saved log: %v %q", err, b)
	}
}
