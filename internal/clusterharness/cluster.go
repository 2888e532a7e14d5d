// Package clusterharness runs a multi-node restate-server cluster on loopback for tests: it
// starts the processes with the same RESTATE_* settings as the seed's docker-compose, injects
// faults (SIGKILL, SIGSTOP/SIGCONT, wiping a node's data, network isolation through a file the
// server watches) and waits until the cluster reports itself ready.
//
// The server binary is the one testharness.Main builds, so a test package using this harness
// calls testharness.Main from its TestMain.
package clusterharness

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/restatego/restate/internal/testharness"
	"github.com/restatego/restate/internal/tlsconf"
)

// Options describe the cluster to start. The zero value is three nodes with replication 2.
type Options struct {
	// Nodes is the number of nodes started up front (default 3). Node i (1-based) is named
	// "restate-i" and forced to node id i; node 1 auto-provisions the cluster.
	Nodes int
	// ClusterName defaults to "test-cluster".
	ClusterName string
	// Replication is RESTATE_DEFAULT_REPLICATION (default 2, or 1 for a single node).
	Replication int
	// Partitions sets RESTATE_DEFAULT_NUM_PARTITIONS when non-zero.
	Partitions int
	// SharedBaseDir gives every node the same RESTATE_BASE_DIR, as the seed's compose does with
	// its one volume; each node then keeps its data under <base-dir>/<node-name>/.
	SharedBaseDir bool
	// SeedPorts uses the seed's fixed ports (8080/9070/5122, 28080/29070/25122,
	// 38080/39070/35122) for the first three nodes instead of random free ones.
	SeedPorts bool
	// Env is added to every node's environment after the harness's own settings, so it can
	// override them.
	Env []string
	// Ready decides when the cluster is ready; nil means ReadyCluster.
	Ready ReadyFunc
	// ReadyTimeout bounds WaitReady in Start (default 60s).
	ReadyTimeout time.Duration
	// Binary is the restate-server to run; empty means testharness.ServerBinary().
	Binary string
	// TLS, when set, turns TLS on for all three listeners of every node and mutual TLS between
	// nodes; the harness's own requests use it too.
	TLS *TLS
	// ArtifactsDir, when set, receives a copy of every node's log if the test fails, under
	// <ArtifactsDir>/<test name>/. Empty means $RESTATE_CLUSTER_ARTIFACTS.
	ArtifactsDir string
}

// TLS names the PEM files of a cluster with TLS: the CA every node trusts, and the
// certificate and key each node presents (as server and as client). A node's Env can point it
// to other files.
type TLS struct {
	CAFile, CertFile, KeyFile string
}

// seedPorts are the seed compose's host ports: ingress, admin, node, per node.
var seedPorts = [][3]int{{8080, 9070, 5122}, {28080, 29070, 25122}, {38080, 39070, 35122}}

// Cluster is a set of restate-server processes forming one cluster.
type Cluster struct {
	t    *testing.T
	opts Options
	// Dir holds logs, partition files and (unless a node says otherwise) data.
	Dir string
	// Name is the cluster name every member node is configured with.
	Name string
	// Nodes are the member nodes in id order, including ones added later with AddNode.
	Nodes []*Node
	// metadataAddresses is the value of RESTATE_METADATA_CLIENT__ADDRESSES: the advertised
	// addresses of the initial nodes.
	metadataAddresses []string
	// outsiders are nodes made with NewOutsider: cleaned up, but not expected to join.
	outsiders []*Node
	binary    string
	// client makes the harness's HTTP requests, with the cluster's TLS settings.
	client *http.Client
}

// New lays out a cluster (ports, directories, environment) without starting any process.
func New(t *testing.T, opts Options) *Cluster {
	t.Helper()
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.ClusterName == "" {
		opts.ClusterName = "test-cluster"
	}
	if opts.Replication == 0 {
		opts.Replication = min(2, opts.Nodes)
	}
	if opts.Ready == nil {
		opts.Ready = ReadyCluster
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 60 * time.Second
	}
	if opts.ArtifactsDir == "" {
		opts.ArtifactsDir = os.Getenv("RESTATE_CLUSTER_ARTIFACTS")
	}
	if opts.SeedPorts && opts.Nodes > len(seedPorts) {
		t.Fatalf("clusterharness: the seed defines ports for %d nodes, asked for %d", len(seedPorts), opts.Nodes)
	}
	binary := opts.Binary
	if binary == "" {
		binary = testharness.ServerBinary()
	}
	if binary == "" {
		t.Fatal("clusterharness: no restate-server binary; call testharness.Main from TestMain or set Options.Binary")
	}
	c := &Cluster{t: t, opts: opts, Dir: t.TempDir(), Name: opts.ClusterName, binary: binary, client: &http.Client{}}
	if opts.TLS != nil {
		cfg, err := opts.TLS.clientConfig()
		if err != nil {
			t.Fatalf("clusterharness: %v", err)
		}
		c.client = &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
	}
	for i := 1; i <= opts.Nodes; i++ {
		n := c.layoutNode(i, opts.SeedPorts)
		c.Nodes = append(c.Nodes, n)
		c.metadataAddresses = append(c.metadataAddresses, n.AdvertisedAddress())
	}
	for _, n := range c.Nodes {
		n.Env = c.nodeEnv(n, n.ID == 1)
	}
	t.Cleanup(func() {
		for _, n := range c.allNodes() {
			n.Kill()
		}
		if t.Failed() {
			c.DumpLogs(60)
			c.saveLogs()
		}
	})
	return c
}

// saveLogs copies the node logs to the artifacts directory, if there is one.
func (c *Cluster) saveLogs() {
	if c.opts.ArtifactsDir == "" {
		return
	}
	dir := filepath.Join(c.opts.ArtifactsDir, strings.ReplaceAll(c.t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Logf("saving logs: %v", err)
		return
	}
	for _, n := range c.allNodes() {
		b, err := os.ReadFile(n.LogPath)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, n.Name+".log"), b, 0o644)
		}
		if err != nil {
			c.t.Logf("saving the log of %s: %v", n.Name, err)
		}
	}
	c.t.Logf("node logs saved in %s", dir)
}

// Start lays out the cluster, starts every node and waits until it is ready.
func Start(t *testing.T, opts Options) *Cluster {
	t.Helper()
	c := New(t, opts)
	c.StartAll()
	c.MustBeReady()
	return c
}

func (c *Cluster) allNodes() []*Node {
	return append(append([]*Node(nil), c.Nodes...), c.outsiders...)
}

// layoutNode chooses ports and directories for node id.
func (c *Cluster) layoutNode(id int, seed bool) *Node {
	n := &Node{ID: id, Name: fmt.Sprintf("restate-%d", id), cluster: c}
	if seed && id <= len(seedPorts) {
		p := seedPorts[id-1]
		n.Ingress = fmt.Sprintf("127.0.0.1:%d", p[0])
		n.Admin = fmt.Sprintf("127.0.0.1:%d", p[1])
		n.NodeAddr = fmt.Sprintf("127.0.0.1:%d", p[2])
	} else {
		n.Ingress = testharness.FreePort(c.t)
		n.Admin = testharness.FreePort(c.t)
		n.NodeAddr = testharness.FreePort(c.t)
	}
	if c.opts.SharedBaseDir {
		n.BaseDir = filepath.Join(c.Dir, "data")
	} else {
		n.BaseDir = filepath.Join(c.Dir, n.Name, "data")
	}
	n.LogPath = filepath.Join(c.Dir, n.Name+".log")
	n.PartitionFile = filepath.Join(c.Dir, n.Name+".partition")
	return n
}

// nodeEnv is the environment of node n, in the seed compose's terms plus the three bind
// addresses that differ per node because all nodes share one loopback interface.
func (c *Cluster) nodeEnv(n *Node, provision bool) []string {
	env := []string{
		"RESTATE_CLUSTER_NAME=" + c.Name,
		"RESTATE_NODE_NAME=" + n.Name,
		"RESTATE_FORCE_NODE_ID=" + strconv.Itoa(n.ID),
		"RESTATE_ADVERTISED_ADDRESS=" + n.AdvertisedAddress(),
		"RESTATE_BIND_ADDRESS=" + n.NodeAddr,
		"RESTATE_ADMIN__BIND_ADDRESS=" + n.Admin,
		"RESTATE_INGRESS__BIND_ADDRESS=" + n.Ingress,
		"RESTATE_BASE_DIR=" + n.BaseDir,
		"RESTATE_AUTO_PROVISION=" + strconv.FormatBool(provision),
		"RESTATE_METADATA_CLIENT__ADDRESSES=" + listValue(c.metadataAddresses),
		"RESTATE_DEFAULT_REPLICATION=" + strconv.Itoa(c.opts.Replication),
		"RESTATE_ROLES=[worker,admin,metadata-server,log-server,http-ingress]",
		"RESTATE_BIFROST__DEFAULT_PROVIDER=replicated",
		"RESTATE_LOG_FILTER=info",
		PartitionFileEnv + "=" + n.PartitionFile,
	}
	if c.opts.Partitions > 0 {
		env = append(env, "RESTATE_DEFAULT_NUM_PARTITIONS="+strconv.Itoa(c.opts.Partitions))
	}
	if t := c.opts.TLS; t != nil {
		env = append(env, "RESTATE_TLS_CERT_FILE="+t.CertFile, "RESTATE_TLS_KEY_FILE="+t.KeyFile, "RESTATE_TLS_CA_FILE="+t.CAFile)
	}
	return append(env, c.opts.Env...)
}

// listValue renders a list the way the compose file writes RESTATE_METADATA_CLIENT__ADDRESSES:
// ["http://a:5122","http://b:5122"].
func listValue(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(quoted, ",") + "]"
}

// StartAll starts every member node that is not running, without waiting for readiness:
// nodes of a fresh cluster need each other to form the metadata quorum.
func (c *Cluster) StartAll() {
	c.t.Helper()
	for _, n := range c.Nodes {
		if !n.Running() {
			if err := n.Start(); err != nil {
				c.t.Fatal(err)
			}
		}
	}
}

// AddNode lays out a new member node with the next id, configured to join the existing
// cluster through the initial nodes' metadata addresses. extraEnv overrides its settings. The
// node is not started.
func (c *Cluster) AddNode(extraEnv ...string) *Node {
	c.t.Helper()
	n := c.newNode(len(c.Nodes)+len(c.outsiders)+1, extraEnv)
	c.Nodes = append(c.Nodes, n)
	return n
}

// NewOutsider lays out a node that is not expected to become a member (for example one
// configured with another cluster name): readiness checks ignore it. It is not started.
func (c *Cluster) NewOutsider(extraEnv ...string) *Node {
	c.t.Helper()
	n := c.newNode(len(c.Nodes)+len(c.outsiders)+1, extraEnv)
	c.outsiders = append(c.outsiders, n)
	return n
}

func (c *Cluster) newNode(id int, extraEnv []string) *Node {
	n := c.layoutNode(id, false)
	n.Env = append(c.nodeEnv(n, false), extraEnv...)
	return n
}

// Node returns the member node with the given id.
func (c *Cluster) Node(id int) *Node {
	for _, n := range c.Nodes {
		if n.ID == id {
			return n
		}
	}
	c.t.Fatalf("clusterharness: no node %d", id)
	return nil
}

// Running returns the member nodes whose process runs and is not paused.
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n.Running() && !n.Paused() {
			out = append(out, n)
		}
	}
	return out
}

// IngressURLs are the base URLs of every member node's ingress, live or not: clients spread
// over all of them and move on when one does not answer.
func (c *Cluster) IngressURLs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.IngressURL()
	}
	return out
}

// WaitReady polls the readiness function until it reports nil. It gives up early when a node
// process the harness did not stop has exited, since waiting cannot help then.
func (c *Cluster) WaitReady(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		for _, n := range c.Nodes {
			if err := n.UnexpectedExit(); err != nil {
				return err
			}
		}
		attempt, cancelAttempt := context.WithTimeout(ctx, 5*time.Second)
		last = c.opts.Ready(attempt, c)
		cancelAttempt()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready within %s: %w", timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// MustBeReady is WaitReady with the cluster's ReadyTimeout that fails the test on error.
func (c *Cluster) MustBeReady() {
	c.t.Helper()
	start := time.Now()
	if err := c.WaitReady(c.opts.ReadyTimeout); err != nil {
		c.t.Fatalf("cluster not ready: %v", err)
	}
	c.t.Logf("cluster ready after %s", time.Since(start).Round(10*time.Millisecond))
}

// DumpLogs logs the last lines of every node's log.
func (c *Cluster) DumpLogs(lines int) {
	for _, n := range c.allNodes() {
		c.t.Logf("%s log (tail):\n%s", n.Name, n.LogTail(lines))
	}
}

// clientConfig trusts the cluster's CA and presents the nodes' certificate, as a node would.
func (t *TLS) clientConfig() (*tls.Config, error) {
	roots, err := tlsconf.LoadCA(t.CAFile)
	if err != nil {
		return nil, err
	}
	cert, err := tlsconf.NewReloader(t.CertFile, t.KeyFile, nil)
	if err != nil {
		return nil, err
	}
	return tlsconf.Client(roots, cert), nil
}

// HTTPClient is the client the harness talks to the nodes with (TLS when the cluster has it).
func (c *Cluster) HTTPClient() *http.Client { return c.client }

// scheme is the URL scheme of the nodes' listeners.
func (c *Cluster) scheme() string {
	if c.opts.TLS != nil {
		return "https://"
	}
	return "http://"
}
