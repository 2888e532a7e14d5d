package server

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/restatego/restate/internal/admin"
	"github.com/restatego/restate/internal/cluster"
	"github.com/restatego/restate/internal/clusterapi"
	"github.com/restatego/restate/internal/config"
	"github.com/restatego/restate/internal/partition"
)

// clusterMode tells whether the configuration describes a multi-node cluster: more than one
// metadata address, a node that must join rather than provision, or replication above one.
func clusterMode(o *config.Options) bool {
	return len(o.MetadataClient.Addresses) > 1 || !o.AutoProvision || o.DefaultReplication > 1
}

func (n *Node) newCluster() error {
	if n.opts.ForceNodeID == 0 {
		return errors.New("a node of a multi-node cluster needs a node id: set force-node-id (RESTATE_FORCE_NODE_ID)")
	}
	addr := n.opts.AdvertisedAddress
	if u, err := url.Parse(addr); err != nil || u.Host == "" {
		return fmt.Errorf("advertised-address %q is not a URL such as http://host:5122/", addr)
	}
	n.leaderState = map[uint16][2]uint64{}
	n.cluster = cluster.New(cluster.Options{
		NodeID:              uint64(n.nodeID),
		NodeName:            n.opts.NodeName,
		ClusterName:         n.opts.ClusterName,
		Address:             addr,
		ClientTLS:           n.tls.client,
		Roles:               n.opts.Roles,
		AutoProvision:       n.opts.AutoProvision,
		MetadataAddresses:   n.opts.MetadataClient.Addresses,
		NumPartitions:       n.opts.DefaultNumPartitions,
		Replication:         n.opts.DefaultReplication,
		DB:                  n.db,
		Logger:              n.logger,
		LeaderObserver:      n.onPartitionLeader,
		OnNewPartitions:     n.addPartitions,
		OnRemovedPartitions: n.retirePartitions,
		ReadyToLead:         n.readyToLead,
	})
	n.cluster.Server.Handle(methodSubmit, n.handleSubmit)
	n.cluster.Server.Handle(methodPartitionStatus, n.handlePartitionStatus)
	n.cluster.Server.Handle(methodDeliver, n.handleDeliver)
	n.cluster.Server.Handle(methodSnapshot, n.handleSnapshot)
	n.cluster.Server.Handle(methodQueryScan, n.handleQueryScan)
	if path := os.Getenv(partitionFileEnv); path != "" {
		go n.watchPartitionFile(path)
	}
	return nil
}

// bootstrapCluster provisions or joins the cluster, then starts the worker on the partitions
// this node replicates.
func (n *Node) bootstrapCluster() error {
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Minute)
	defer cancel()
	table, mine, err := n.cluster.Start(ctx)
	if err != nil {
		return err
	}
	n.meta = meteredMetadata{Store: n.cluster.Meta, server: true}
	n.log = n.cluster.Log
	n.health.joinedAt.Store(time.Now().UnixNano())
	n.health.joined.Store(true)
	return n.startWorker(table.NumPartitions, mine, true)
}

// onPartitionLeader forwards raft leadership changes to the partition's processor, and keeps
// the latest one for processors not created yet.
func (n *Node) onPartitionLeader(p uint16, leader, term uint64) {
	n.procMu.Lock()
	if n.leaderState != nil {
		n.leaderState[p] = [2]uint64{leader, term}
	}
	var proc *partition.Processor
	if int(p) < len(n.procs) {
		proc = n.procs[p]
	}
	n.procMu.Unlock()
	if proc != nil {
		proc.OnLeaderChange(leader, term)
	}
}

// addPartitions starts processors for partitions this node became a replica of.
func (n *Node) addPartitions(ps []uint16) {
	n.procMu.Lock()
	if n.procs == nil {
		// The worker has not started: it will pick these up.
		n.pendingPartitions = append(n.pendingPartitions, ps...)
		n.procMu.Unlock()
		return
	}
	var started []*partition.Processor
	for _, p := range ps {
		if int(p) < len(n.procs) && n.procs[p] == nil {
			n.procs[p] = n.newProcessor(p, true)
			started = append(started, n.procs[p])
		}
	}
	n.procMu.Unlock()
	for _, proc := range started {
		n.runProcessor(proc)
	}
}

// retirePartitions stops the processors of partitions moved to other nodes.
func (n *Node) retirePartitions(ps []uint16) {
	n.procMu.Lock()
	var stop []context.CancelFunc
	for _, p := range ps {
		if int(p) < len(n.procs) && n.procs[p] != nil {
			n.procs[p] = nil
			if c := n.procCancel[p]; c != nil {
				stop = append(stop, c)
				delete(n.procCancel, p)
			}
		}
	}
	n.procMu.Unlock()
	for _, c := range stop {
		c()
	}
}

func (n *Node) proc(p uint16) *partition.Processor {
	n.procMu.Lock()
	defer n.procMu.Unlock()
	if int(p) < len(n.procs) {
		return n.procs[p]
	}
	return nil
}

// ---- forwarding between nodes ----

const (
	methodSubmit          = "partition.submit"
	methodDeliver         = "reply.deliver"
	methodPartitionStatus = "partition.status"
)

// partitionView is what a replica knows of its partition.
type partitionView struct {
	Leader  uint64 `json:"leader"`
	Epoch   uint64 `json:"epoch"`
	Applied uint64 `json:"applied"`
	Durable uint64 `json:"durable"`
	// Archived is the lsn of the newest snapshot in the repository (Restate's archived lsn);
	// TrimPoint is where this replica's log was trimmed to.
	Archived  uint64 `json:"archived"`
	TrimPoint uint64 `json:"trim_point"`
	// Voters are the members of the partition's raft group, as this replica knows them.
	Voters []uint64 `json:"voters"`
}

func (n *Node) localPartitionView(p uint16) (partitionView, bool) {
	g := n.cluster.Log.Group(p)
	if g == nil {
		return partitionView{}, false
	}
	st := g.Status()
	v := partitionView{Leader: st.Lead, Epoch: st.HardState.GetTerm(), Durable: st.HardState.GetCommit()}
	for id := range st.Config.Voters.IDs() {
		v.Voters = append(v.Voters, id)
	}
	sort.Slice(v.Voters, func(i, j int) bool { return v.Voters[i] < v.Voters[j] })
	if proc := n.proc(p); proc != nil {
		// The applied leader epoch; raft's term above is the epoch a new leader will claim.
		if e := proc.Epoch(); e != 0 {
			v.Epoch = e
		}
		v.Applied = proc.AppliedLSN()
		v.Archived = proc.SnapshotLSN()
	}
	v.TrimPoint = n.cluster.Log.TrimPoint(p)
	if v.Durable > v.Applied {
		v.Durable = v.Applied
	}
	return v, true
}

func (n *Node) handlePartitionStatus(ctx context.Context, from uint64, body []byte) ([]byte, error) {
	if len(body) != 2 {
		return nil, errors.New("bad partition status request")
	}
	v, ok := n.localPartitionView(binary.BigEndian.Uint16(body))
	if !ok {
		return nil, errors.New("partition not replicated here")
	}
	return json.Marshal(v)
}

// readyToLead tells whether node's processor of partition p applied the partition's log as
// far as this node's has (within lagSlack), asking the node.
func (n *Node) readyToLead(ctx context.Context, node uint64, p uint16) bool {
	proc := n.proc(p)
	if proc == nil {
		return false
	}
	mine := proc.AppliedLSN()
	out, err := n.cluster.Client.Call(ctx, node, methodPartitionStatus, binary.BigEndian.AppendUint16(nil, p))
	var v partitionView
	if err != nil || json.Unmarshal(out, &v) != nil {
		return false
	}
	return v.Applied+lagSlack >= mine
}

// remotePartitionView asks the partition's replicas, for a node that does not replicate it.
func (n *Node) remotePartitionView(ctx context.Context, p uint16, replicas []uint64) partitionView {
	for _, r := range replicas {
		cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		out, err := n.cluster.Client.Call(cctx, r, methodPartitionStatus, binary.BigEndian.AppendUint16(nil, p))
		cancel()
		var v partitionView
		if err == nil && json.Unmarshal(out, &v) == nil {
			return v
		}
	}
	return partitionView{}
}

// forwardSubmit sends a record to a node that replicates its partition.
func (n *Node) forwardSubmit(ctx context.Context, p uint16, r *partition.Record) error {
	table := n.cluster.Partitions()
	if table == nil || int(p) >= len(table.Replicas) {
		return fmt.Errorf("partition %d is not known yet", p)
	}
	body := binary.BigEndian.AppendUint16(nil, p)
	body = append(body, r.Encode()...)
	var lastErr error
	for _, replica := range table.Replicas[p] {
		if _, err := n.cluster.Client.Call(ctx, replica, methodSubmit, body); err != nil {
			lastErr = err
			continue
		}
		return nil
	}
	return fmt.Errorf("no replica of partition %d accepted the record: %w", p, lastErr)
}

// submitOnce makes one attempt at appending r to partition p's log. A replica acknowledges
// a record once it applied it, so a replica still applying what it missed (a node that came
// back) would hold the request until it caught up: it hands the record to the partition's
// leader instead, which acknowledges it as soon as it is committed.
func (n *Node) submitOnce(ctx context.Context, p uint16, r *partition.Record) error {
	proc := n.proc(p)
	if proc == nil {
		return n.forwardSubmit(ctx, p, r)
	}
	if leader, _ := n.cluster.Log.Leader(p); leader != 0 && leader != uint64(n.nodeID) && n.replicaBehind(p, proc.AppliedLSN()) {
		return n.submitTo(ctx, leader, p, r)
	}
	return proc.Submit(ctx, r)
}

// lagSlack is how many log positions a replica may trail its log's commit point and still
// count as caught up: under load every replica trails by the records in flight.
const lagSlack = 16

// replicaBehind tells whether this node's replica of partition p, whose processor applied up
// to applied, has not caught up with its log: no leader heard from yet, committed entries
// raft has not handed over yet, or records handed over that the processor has not applied.
func (n *Node) replicaBehind(p uint16, applied uint64) bool {
	g := n.cluster.Log.Group(p)
	if g == nil {
		return false
	}
	st := g.Status()
	if st.Lead == 0 || st.Applied+lagSlack < st.HardState.GetCommit() {
		return true
	}
	return applied+lagSlack < n.cluster.Log.Tail(p)
}

// submitTo sends a record to the node that leads its partition.
func (n *Node) submitTo(ctx context.Context, node uint64, p uint16, r *partition.Record) error {
	body := binary.BigEndian.AppendUint16(nil, p)
	body = append(body, r.Encode()...)
	if _, err := n.cluster.Client.Call(ctx, node, methodSubmit, body); err != nil {
		return fmt.Errorf("partition %d: leader %d did not accept the record: %w", p, node, err)
	}
	return nil
}

func (n *Node) handleSubmit(ctx context.Context, from uint64, body []byte) ([]byte, error) {
	if len(body) < 2 {
		return nil, errors.New("truncated submission")
	}
	p := binary.BigEndian.Uint16(body)
	proc := n.proc(p)
	if proc == nil {
		return nil, fmt.Errorf("partition %d is not replicated on node %d", p, n.nodeID)
	}
	r, err := partition.DecodeRecord(body[2:])
	if err != nil {
		return nil, err
	}
	return nil, proc.Submit(ctx, r)
}

// deliverRemote sends an answer to the node where the request waits.
func (n *Node) deliverRemote(sink partition.Sink, res partition.Result) {
	body := binary.BigEndian.AppendUint64(nil, sink.RequestID)
	body = append(body, partition.EncodeResult(res)...)
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	if _, err := n.cluster.Client.Call(ctx, uint64(sink.Node), methodDeliver, body); err != nil {
		n.logger.Debug("delivering an answer to another node failed", "node", sink.Node, "err", err)
	}
}

func (n *Node) handleDeliver(ctx context.Context, from uint64, body []byte) ([]byte, error) {
	if len(body) < 8 {
		return nil, errors.New("truncated answer")
	}
	res, err := partition.DecodeResult(body[8:])
	if err != nil {
		return nil, err
	}
	n.replies.Deliver(binary.BigEndian.Uint64(body), res)
	return nil, nil
}

// ---- readiness gate ----

// gate serves a handler installed once the node is ready. Before that, a single node (which
// becomes ready in moments) holds requests until it is; a cluster node, which may wait for
// its peers for a long time, answers 503.
type gate struct {
	h atomic.Pointer[http.Handler]
	// inCluster, when set, answers GET /health before the handler is installed: 200 once the
	// node is a member (it reached the metadata quorum, or restarted as a member), 503 before.
	// It does not wait for the partitions: in the seed's compose file the other nodes start
	// only once node 1 is healthy, both for a new cluster and for a restart of all nodes.
	inCluster func() bool
	hold      bool
	once      sync.Once
	ready     chan struct{}
}

func (g *gate) init() { g.once.Do(func() { g.ready = make(chan struct{}) }) }

func (g *gate) set(h http.Handler) {
	g.init()
	g.h.Store(&h)
	close(g.ready)
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.init()
	if g.hold && g.h.Load() == nil {
		select {
		case <-g.ready:
		case <-r.Context().Done():
			return
		case <-time.After(time.Minute):
		}
	}
	if h := g.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	if g.inCluster != nil && r.URL.Path == "/health" {
		if !g.inCluster() {
			w.Header().Set("content-type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"message":"the node is starting: it has not reached the metadata quorum yet"}`))
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"message":"the node is starting: it is waiting for the cluster (metadata quorum and partitions)"}`))
}

// ---- status ----

type clusterInfo struct{ n *Node }

func (c clusterInfo) ClusterHealth(ctx context.Context) (admin.ClusterHealth, error) {
	h := admin.ClusterHealth{ClusterName: c.n.opts.ClusterName}
	if c.n.cluster == nil {
		h.MetadataMembers = []uint32{c.n.nodeID}
		return h, nil
	}
	if c.n.cluster.Meta == nil {
		return h, admin.ErrNotProvisioned
	}
	for _, m := range c.n.cluster.Meta.Members() {
		h.MetadataMembers = append(h.MetadataMembers, uint32(m))
	}
	slices.Sort(h.MetadataMembers) // in node id order, whatever order raft keeps them in
	return h, nil
}

// localProcs lists the processors on this node when it holds every partition (the SQL tables
// need them all); otherwise only the local ones.
func (n *Node) localProcs() []*partition.Processor {
	n.procMu.Lock()
	defer n.procMu.Unlock()
	out := make([]*partition.Processor, 0, len(n.procs))
	for _, p := range n.procs {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// ClusterStatus describes the cluster for GET /cluster (an extension the seed promises).
func (c clusterInfo) ClusterStatus(ctx context.Context) (any, error) {
	n := c.n
	out := clusterapi.Status{ClusterName: n.opts.ClusterName, ThisNode: uint64(n.nodeID)}

	if n.cluster == nil {
		ns := clusterapi.Node{ID: uint64(n.nodeID), Name: n.opts.NodeName, Address: n.opts.AdvertisedAddress, Roles: n.opts.Roles, Alive: true, IsSelf: true}
		for _, p := range n.localProcs() {
			if p.IsLeader() {
				ns.Leads = append(ns.Leads, p.ID())
			}
			out.Partitions = append(out.Partitions, clusterapi.Partition{ID: p.ID(), Leader: uint64(n.nodeID), Replicas: []uint64{uint64(n.nodeID)},
				Epoch: p.Epoch(), Applied: p.AppliedLSN(), Durable: n.log.Tail(p.ID()), Archived: p.SnapshotLSN(), TrimPoint: n.trimPoint(p.ID())})
		}
		out.Nodes = []clusterapi.Node{ns}
		out.Metadata = clusterapi.Metadata{Members: []uint64{uint64(n.nodeID)}, Leader: uint64(n.nodeID), Term: 1}
		return out, nil
	}
	cl := n.cluster
	if cl.Meta == nil {
		return nil, admin.ErrNotProvisioned
	}
	_, _, term, leader := cl.Meta.Status()
	out.Metadata = clusterapi.Metadata{Members: cl.Meta.Members(), Leader: leader, Term: term, Progress: cl.Meta.Progress()}
	alive := map[uint64]bool{uint64(n.nodeID): true, leader: leader != 0}
	for _, id := range cl.Meta.RecentlyActive() {
		alive[id] = true
	}
	byNode := map[uint64]*clusterapi.Node{}
	if cfg := cl.Nodes(); cfg != nil {
		for _, id := range cfg.SortedIDs() {
			ni := cfg.Nodes[id]
			out.Nodes = append(out.Nodes, clusterapi.Node{ID: id, Name: ni.Name, Address: ni.Address, Roles: ni.Roles, IsSelf: id == uint64(n.nodeID)})
		}
	}
	for i := range out.Nodes {
		byNode[out.Nodes[i].ID] = &out.Nodes[i]
	}
	if table := cl.Partitions(); table != nil {
		for p, reps := range table.Replicas {
			ps := clusterapi.Partition{ID: uint16(p), Replicas: reps}
			v, local := n.localPartitionView(uint16(p))
			if local {
				if g := cl.Log.Group(uint16(p)); g != nil {
					for id, pr := range g.Status().Progress {
						if pr.RecentActive {
							alive[id] = true
						}
					}
				}
			} else {
				v = n.remotePartitionView(ctx, uint16(p), reps)
			}
			ps.Leader, ps.Epoch, ps.Applied, ps.Durable = v.Leader, v.Epoch, v.Applied, v.Durable
			ps.Archived, ps.TrimPoint, ps.Voters = v.Archived, v.TrimPoint, v.Voters
			if ps.Leader != 0 {
				alive[ps.Leader] = true
			}
			for _, r := range reps {
				if ns := byNode[r]; ns != nil {
					if r == ps.Leader {
						ns.Leads = append(ns.Leads, uint16(p))
					} else {
						ns.Follows = append(ns.Follows, uint16(p))
					}
				}
			}
			out.Partitions = append(out.Partitions, ps)
		}
	}
	for i := range out.Nodes {
		out.Nodes[i].Alive = alive[out.Nodes[i].ID]
	}
	return out, nil
}

// partitionFileEnv names a test hook: a file listing node ids (one per line, '#' comments) this
// node drops all node-to-node traffic to and from. Tests use it to cut nodes off.
const partitionFileEnv = "RESTATE_TEST_PARTITION_FILE"

// watchPartitionFile applies the fault-injection file while the node runs.
func (n *Node) watchPartitionFile(path string) {
	var blocked atomic.Pointer[map[uint64]bool]
	empty := map[uint64]bool{}
	blocked.Store(&empty)
	isBlocked := func(peer uint64) bool { return (*blocked.Load())[peer] }
	n.cluster.Server.SetBlocked(isBlocked)
	n.cluster.Client.SetBlocked(isBlocked)
	var last string
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		b, _ := os.ReadFile(path)
		if string(b) == last {
			continue
		}
		last = string(b)
		set := map[uint64]bool{}
		for _, line := range strings.Split(last, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if id, err := strconv.ParseUint(line, 10, 64); err == nil {
				set[id] = true
			}
		}
		blocked.Store(&set)
		n.logger.Warn("fault injection: traffic to and from these nodes is dropped", "nodes", line(set))
	}
}

func line(set map[uint64]bool) string {
	var ids []string
	for id := range set {
		ids = append(ids, strconv.FormatUint(id, 10))
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}
