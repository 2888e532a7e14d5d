package cluster

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/restatego/restate/internal/metadata"
	"github.com/restatego/restate/internal/multiraft"
	"github.com/restatego/restate/internal/nodenet"
	"github.com/restatego/restate/internal/replog"
	"github.com/restatego/restate/internal/storage"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Options configure a cluster member.
type Options struct {
	NodeID      uint64
	NodeName    string
	ClusterName string
	Address     string // advertised node address, e.g. http://10.0.0.1:5122/
	// ClientTLS, when set, is used for every connection to another node's port: the CA
	// that peers' certificates must be issued by, and the certificate this node presents.
	ClientTLS     *tls.Config
	Roles         []string
	AutoProvision bool
	// MetadataAddresses are where to find the cluster when joining.
	MetadataAddresses []string
	NumPartitions     uint16
	Replication       int
	DB                *storage.DB
	Logger            *slog.Logger
	// LeaderObserver hears about partition leadership changes on this node.
	LeaderObserver replog.LeaderObserver
	// TickInterval of the raft groups (elections take about 10 ticks).
	TickInterval time.Duration
	// OnNewPartitions hears about partitions this node became a replica of after Start.
	OnNewPartitions func(partitions []uint16)
	// OnRemovedPartitions hears about partitions this node no longer serves: requests for
	// them go to their replicas (its raft replica keeps voting until it is removed).
	OnRemovedPartitions func(partitions []uint16)
	// ReadyToLead tells whether node's replica of partition p has applied the partition's log
	// as far as this node's (its leader's) has. Leadership is handed back to a preferred
	// leader only when it has: a replica still applying what it missed while it was down
	// would stall the partition until it caught up. Nil: raft's own view of the replica's log
	// decides alone.
	ReadyToLead func(ctx context.Context, node uint64, p uint16) bool
}

// Cluster is this node's membership in the cluster.
type Cluster struct {
	opts   Options
	logger *slog.Logger

	Server *nodenet.Server
	Client *nodenet.Client
	Host   *multiraft.Host
	Meta   *metadata.RaftStore
	Log    *replog.Log
	// meta publishes Meta to the network handlers, which run while Start opens it.
	meta atomic.Pointer[metadata.RaftStore]
	// registered: the node is a member: it reached the metadata quorum and is in the nodes
	// configuration, or it restarted with the metadata state of a member.
	registered atomic.Bool

	mu         sync.RWMutex
	addrs      map[uint64]string
	nodes      *NodesConfig
	partitions *PartitionTable

	ctx    context.Context
	cancel context.CancelFunc
	// rejoined is set when this node came back without its data.
	rejoined bool
}

// New prepares the network side (so the node port can serve it) without joining yet.
func New(opts Options) *Cluster {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Cluster{opts: opts, logger: opts.Logger.With("component", "cluster"), addrs: map[uint64]string{}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.addrs[opts.NodeID] = opts.Address
	c.Server = nodenet.NewServer()
	c.Client = nodenet.NewClient(opts.NodeID, c.resolve, opts.Logger, opts.ClientTLS)
	c.Host = multiraft.NewHost(multiraft.Config{NodeID: opts.NodeID, DB: opts.DB, Transport: raftTransport{c.Client},
		Logger: opts.Logger, TickInterval: opts.TickInterval})
	c.Server.HandleStream(func(from uint64, payload []byte) {
		envs, err := decodeRaftBatch(payload)
		if err != nil {
			c.logger.Warn("dropping an undecodable raft batch", "from", from, "err", err)
			return
		}
		c.Host.Step(envs)
	})
	c.Server.Handle(methodJoin, c.handleJoin)
	c.Server.Handle(methodReadd, c.handleReadd)
	c.Log = replog.New(c.Host, opts.NodeID, opts.LeaderObserver)
	return c
}

func (c *Cluster) resolve(node uint64) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	a, ok := c.addrs[node]
	return a, ok
}

func (c *Cluster) learn(node uint64, addr string) {
	if addr == "" {
		return
	}
	c.mu.Lock()
	c.addrs[node] = addr
	c.mu.Unlock()
}

// Registered reports whether the node is a member of the cluster: it reached the metadata
// quorum and is in the nodes configuration, or it restarted with a member's metadata state
// (a restarted member cannot reach the quorum alone when the whole cluster restarts, and the
// others may start only once it reports healthy). It stays true once it was.
func (c *Cluster) Registered() bool { return c.registered.Load() }

// Start provisions or joins the cluster and opens the partitions this node replicates. It
// returns the partition table and the partitions replicated here.
func (c *Cluster) Start(ctx context.Context) (*PartitionTable, []uint16, error) {
	c.Host.Start()
	hasState, err := c.Host.HasState(metadata.Group)
	if err != nil {
		return nil, nil, err
	}
	if hasState {
		c.registered.Store(true)
	}
	onConf := func(cc pb.ConfChangeI) {
		v1, ok := cc.(*pb.ConfChange)
		if ok && v1.GetType() == pb.ConfChangeType_ConfChangeAddNode {
			c.learn(v1.GetNodeId(), string(v1.GetContext()))
		}
	}
	switch {
	case hasState:
		c.Meta, err = metadata.OpenRaftStore(c.Host, c.opts.NodeID, nil, onConf)
	case c.opts.AutoProvision:
		// A provisioning node that lost its disk must not found a second cluster: if its peers
		// already form one, it joins them instead.
		jctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		joinErr := c.join(jctx)
		cancel()
		if isRefusal(joinErr) {
			return nil, nil, joinErr
		}
		if joinErr == nil {
			c.logger.Info("found an existing cluster; joining it instead of provisioning a new one")
			c.Meta, err = metadata.OpenRaftStore(c.Host, c.opts.NodeID, nil, onConf)
		} else {
			c.Meta, err = metadata.OpenRaftStore(c.Host, c.opts.NodeID, []uint64{c.opts.NodeID}, onConf)
		}
	default:
		if err := c.join(ctx); err != nil {
			return nil, nil, err
		}
		c.Meta, err = metadata.OpenRaftStore(c.Host, c.opts.NodeID, nil, onConf)
	}
	if err != nil {
		return nil, nil, err
	}
	c.meta.Store(c.Meta)
	// Learn peer addresses as soon as the local copy of the metadata is replayed: a restarted
	// node needs them to answer the leader before it can do anything else.
	go c.watchNodes()
	if err := c.waitMetadata(ctx); err != nil {
		return nil, nil, err
	}
	if err := c.register(ctx); err != nil {
		return nil, nil, err
	}
	c.registered.Store(true)
	table, err := c.partitionTable(ctx)
	if err != nil {
		return nil, nil, err
	}
	var mine []uint16
	for p := range table.Replicas {
		if table.HasReplica(uint16(p), c.opts.NodeID) {
			if err := c.Log.Open(uint16(p), table.BootstrapPeers(uint16(p), c.opts.NodeID)); err != nil {
				return nil, nil, err
			}
			mine = append(mine, uint16(p))
		}
	}
	c.mu.Lock()
	c.partitions = table
	c.mu.Unlock()
	if c.rejoined {
		for _, p := range mine {
			go c.requestReadd(p, table.Replicas[p])
		}
	}
	go c.balanceLeaders()
	go c.watchPartitions()
	go c.placeReplicas()
	go c.reconfigure()
	return table, mine, nil
}

// waitMetadata waits until this member has applied everything committed so far.
func (c *Cluster) waitMetadata(ctx context.Context) error {
	for {
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := c.Meta.Sync(sctx)
		cancel()
		if err == nil {
			return nil
		}
		c.logger.Info("waiting for the metadata quorum", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: metadata store not reachable: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// register adds (or updates) this node in the nodes configuration, creating it when this node
// provisions the cluster, and refuses a cluster of another name.
func (c *Cluster) register(ctx context.Context) error {
	for {
		raw, ver, err := c.Meta.Get(ctx, KeyNodes)
		if err != nil {
			return err
		}
		cfg, err := decodeNodes(raw)
		if err != nil {
			return err
		}
		if cfg == nil {
			if !c.opts.AutoProvision {
				return errors.New("cluster: the cluster is not provisioned: no nodes configuration in the metadata store")
			}
			cfg = newNodesConfig(c.opts.ClusterName)
		}
		if cfg.ClusterName != c.opts.ClusterName {
			return fmt.Errorf("cluster: this node is configured for cluster %q but the metadata store belongs to cluster %q", c.opts.ClusterName, cfg.ClusterName)
		}
		self := NodeInfo{ID: c.opts.NodeID, Name: c.opts.NodeName, Address: c.opts.Address, Roles: c.opts.Roles}
		if other, ok := cfg.Nodes[self.ID]; ok && other.Name != self.Name {
			return fmt.Errorf("cluster: node id %d already belongs to node %q; this node is %q", self.ID, other.Name, self.Name)
		}
		if cur, ok := cfg.Nodes[self.ID]; ok && cur.Address == self.Address && cur.Name == self.Name {
			c.setNodes(cfg)
			return nil
		}
		cfg.Nodes[self.ID] = self
		b, _ := json.Marshal(cfg)
		if _, err := c.Meta.CompareAndSwap(ctx, KeyNodes, ver, b); errors.Is(err, metadata.ErrVersionMismatch) {
			continue
		} else if err != nil {
			return err
		}
		c.setNodes(cfg)
		return nil
	}
}

func (c *Cluster) setNodes(cfg *NodesConfig) {
	c.mu.Lock()
	c.nodes = cfg
	for id, n := range cfg.Nodes {
		if id != c.opts.NodeID {
			c.addrs[id] = n.Address
		}
	}
	c.mu.Unlock()
}

func (c *Cluster) watchNodes() {
	for range c.Meta.Watch(c.ctx, KeyNodes) {
		raw, _, err := c.Meta.Get(c.ctx, KeyNodes)
		if err != nil {
			continue
		}
		if cfg, err := decodeNodes(raw); err == nil && cfg != nil {
			c.setNodes(cfg)
		}
	}
}

// partitionTable reads the partition table, creating it once enough nodes joined: 2r-1 of
// them, or r after a grace period, so that every partition starts with enough replicas.
func (c *Cluster) partitionTable(ctx context.Context) (*PartitionTable, error) {
	start := time.Now()
	for {
		raw, ver, err := c.Meta.Get(ctx, KeyPartitions)
		if err != nil {
			return nil, err
		}
		if t, err := decodePartitions(raw); err != nil || t != nil {
			return t, err
		}
		raw, _, err = c.Meta.Get(ctx, KeyNodes)
		if err != nil {
			return nil, err
		}
		cfg, err := decodeNodes(raw)
		if err != nil {
			return nil, err
		}
		r := c.opts.Replication
		if r < 1 {
			r = 1
		}
		n := 0
		var ids []uint64
		if cfg != nil {
			ids = cfg.SortedIDs()
			n = len(ids)
		}
		if n >= 2*r-1 || (n >= r && time.Since(start) > 10*time.Second) {
			reps := placePartitions(c.opts.NumPartitions, r, ids)
			t := &PartitionTable{FormatVersion: formatVersion, NumPartitions: c.opts.NumPartitions, Replication: r,
				Replicas: reps, Bootstrap: reps}
			b, _ := json.Marshal(t)
			if _, err := c.Meta.CompareAndSwap(ctx, KeyPartitions, ver, b); err != nil && !errors.Is(err, metadata.ErrVersionMismatch) {
				return nil, err
			}
			continue
		}
		c.logger.Info("waiting for nodes to join before creating the partitions", "nodes", n, "needed", 2*r-1)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		if err := c.Meta.Sync(ctx); err != nil {
			c.logger.Info("metadata sync", "err", err)
		}
	}
}

// Partitions is the partition table (nil before Start finished).
func (c *Cluster) Partitions() *PartitionTable {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.partitions
}

// Nodes is the nodes configuration as last seen.
func (c *Cluster) Nodes() *NodesConfig {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.nodes
}

// Stop leaves: the raft loop and the network stop.
func (c *Cluster) Stop() {
	c.cancel()
	c.Log.Close()
	c.Host.Stop()
	c.Client.Close()
	c.Server.Stop()
}

// everyLedPartition calls fn, every interval until the cluster stops, for each partition whose
// raft group this node leads, with the replicas the partition table wants for it.
func (c *Cluster) everyLedPartition(interval time.Duration, fn func(p int, want []uint64, g *multiraft.Group, st raft.Status)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		table := c.Partitions()
		if table == nil {
			continue
		}
		for p, want := range table.Replicas {
			g := c.Log.Group(uint16(p))
			if g == nil || len(want) == 0 {
				continue
			}
			if st := g.Status(); st.Lead == c.opts.NodeID {
				fn(p, want, g, st)
			}
		}
	}
}

// balanceLeaders hands leadership of each partition this node leads to the partition's
// preferred leader (its first replica) when that one is up and caught up, so leaders stay
// spread. It hands over one partition at a time: a partition pauses while its leader changes
// (the new leader announces itself and restarts the running invocations), and a node that
// came back would otherwise take all its partitions in the same moment.
func (c *Cluster) balanceLeaders() {
	var last time.Time
	c.everyLedPartition(time.Second, func(p int, want []uint64, g *multiraft.Group, st raft.Status) {
		if want[0] == c.opts.NodeID || time.Since(last) < balanceSpacing {
			return
		}
		pr, ok := st.Progress[want[0]]
		if !ok || !pr.RecentActive || pr.Match+10 < st.HardState.GetCommit() {
			return
		}
		if c.opts.ReadyToLead != nil {
			ctx, cancel := context.WithTimeout(c.ctx, time.Second)
			ready := c.opts.ReadyToLead(ctx, want[0], uint16(p))
			cancel()
			if !ready {
				return
			}
		}
		g.TransferLeadership(want[0])
		last = time.Now()
	})
}

// balanceSpacing is the least time between two leadership hand-overs by one node.
const balanceSpacing = time.Second

// ---- joining ----

const methodJoin = "cluster.join"

type joinRequest struct {
	ClusterName string   `json:"cluster_name"`
	Node        NodeInfo `json:"node"`
}

type joinResponse struct {
	Nodes map[uint64]string `json:"nodes"`
	// Rejoined says the node was a member before: it lost its data and was re-added, and
	// must have its partition replicas re-added too.
	Rejoined bool `json:"rejoined"`
}

// join asks the cluster (any metadata address) to add this node to the metadata quorum.
func (c *Cluster) join(ctx context.Context) error {
	req, _ := json.Marshal(joinRequest{ClusterName: c.opts.ClusterName,
		Node: NodeInfo{ID: c.opts.NodeID, Name: c.opts.NodeName, Address: c.opts.Address, Roles: c.opts.Roles}})
	for attempt := 0; ; attempt++ {
		for _, addr := range c.opts.MetadataAddresses {
			if addr == c.opts.Address {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			out, err := c.Client.CallAddr(cctx, addr, methodJoin, req)
			cancel()
			if err != nil {
				if isRefusal(err) {
					c.logger.Error("the cluster refused this node", "via", addr, "err", err)
					return err
				}
				if attempt%10 == 0 {
					if nodenet.IsHandshakeError(err) {
						c.logger.Warn("cannot join the cluster: the TLS handshake failed; this node's certificate and the cluster's must be issued by the CA in tls-ca-file",
							"via", addr, "err", err)
					} else {
						c.logger.Info("joining the cluster", "via", addr, "err", err)
					}
				}
				continue
			}
			var resp joinResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				return fmt.Errorf("cluster: bad join answer from %s: %w", addr, err)
			}
			for id, a := range resp.Nodes {
				c.learn(id, a)
			}
			c.rejoined = resp.Rejoined
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: could not join via %v: %w", c.opts.MetadataAddresses, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

type refusalError struct{ msg string }

func (e refusalError) Error() string { return e.msg }

// isRefusal tells a definitive "no" (wrong cluster) from a transient failure worth retrying.
func isRefusal(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "belongs to cluster") || strings.Contains(err.Error(), "already belongs to node"))
}

// handleJoin adds a node to the metadata quorum; followers forward to the metadata leader.
func (c *Cluster) handleJoin(ctx context.Context, from uint64, body []byte) ([]byte, error) {
	meta := c.meta.Load() // Start may still be opening it
	if meta == nil {
		return nil, errors.New("cluster: this node is not part of a cluster yet")
	}
	var req joinRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("cluster: bad join request: %w", err)
	}
	// A node configured for another cluster must not become a member of this one, even
	// if it can reach it: both clusters' data would mix. Checked before anything else.
	if req.ClusterName != c.opts.ClusterName {
		c.logger.Warn("refused a node configured for another cluster", "node", req.Node.ID, "node-name", req.Node.Name,
			"address", req.Node.Address, "its-cluster", req.ClusterName, "this-cluster", c.opts.ClusterName)
		return nil, refusalError{fmt.Sprintf("node %q is configured for cluster %q but this node belongs to cluster %q", req.Node.Name, req.ClusterName, c.opts.ClusterName)}
	}
	leader, _ := meta.Leader()
	if leader != c.opts.NodeID {
		if leader == 0 {
			return nil, errors.New("cluster: no metadata leader yet")
		}
		return c.Client.Call(ctx, leader, methodJoin, body)
	}
	c.learn(req.Node.ID, req.Node.Address)
	// A node that asks to join holds no raft state. If it is a member already, it lost its
	// disk: the leader still believes it holds what it acknowledged, so it is removed and
	// added again, which makes the leader send it everything from the start.
	member := false
	for _, m := range meta.Members() {
		if m == req.Node.ID {
			member = true
		}
	}
	// A node registered in the nodes configuration had joined before; asking again means it
	// lost its disk, even if an earlier attempt of this rejoin already removed it from the
	// quorum and then failed (its partition replicas must be re-added all the same).
	rejoined := member
	if cfg := c.Nodes(); cfg != nil {
		if _, ok := cfg.Nodes[req.Node.ID]; ok {
			rejoined = true
		}
	}
	if member {
		c.logger.Warn("a member rejoins without its data; re-adding it", "node", req.Node.ID)
		if err := meta.RemoveMember(ctx, req.Node.ID); err != nil {
			return nil, err
		}
	}
	if err := meta.AddMember(ctx, req.Node.ID, req.Node.Address); err != nil {
		return nil, err
	}
	out := joinResponse{Nodes: map[uint64]string{}, Rejoined: rejoined}
	c.mu.RLock()
	for id, a := range c.addrs {
		out.Nodes[id] = a
	}
	c.mu.RUnlock()
	return json.Marshal(out)
}

// ---- raft transport ----

type raftTransport struct{ c *nodenet.Client }

func (t raftTransport) Send(to uint64, envs []multiraft.Envelope) {
	t.c.Stream(to, encodeRaftBatch(envs))
}

func encodeRaftBatch(envs []multiraft.Envelope) []byte {
	b := binary.AppendUvarint(nil, uint64(len(envs)))
	for _, e := range envs {
		m, err := proto.Marshal(e.Msg)
		if err != nil {
			continue
		}
		b = binary.BigEndian.AppendUint32(b, uint32(e.Group))
		b = binary.AppendUvarint(b, uint64(len(m)))
		b = append(b, m...)
	}
	return b
}

func decodeRaftBatch(b []byte) ([]multiraft.Envelope, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errors.New("bad batch header")
	}
	b = b[k:]
	out := make([]multiraft.Envelope, 0, n)
	for i := uint64(0); i < n; i++ {
		if len(b) < 4 {
			return nil, errors.New("truncated batch")
		}
		g := multiraft.GroupID(binary.BigEndian.Uint32(b))
		l, k := binary.Uvarint(b[4:])
		if k <= 0 || uint64(len(b)-4-k) < l {
			return nil, errors.New("truncated message")
		}
		m := &pb.Message{}
		if err := proto.Unmarshal(b[4+k:4+k+int(l)], m); err != nil {
			return nil, err
		}
		out = append(out, multiraft.Envelope{Group: g, Msg: m})
		b = b[4+k+int(l):]
	}
	return out, nil
}
