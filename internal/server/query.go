package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/restatego/restate/internal/admin"
	"github.com/restatego/restate/internal/partition"
	"github.com/restatego/restate/internal/query"
)

// The SQL introspection tables of a cluster node cover every partition, each read on its
// leader: followers may lag (one catching up after a restart by seconds), and a query should
// see what the cluster acknowledged. The node reads the partitions it leads itself and asks
// the leaders of the others for their rows, passing the query's equality filters along so a
// lookup by id or key stays a point read there too. Only when a partition's leader cannot be
// reached (an election under way) does a follower answer, rather than failing the query.

const methodQueryScan = "query.scan"

// Bounds of one remote scan: its answer travels in one message, and a query should not hang
// on a node that stopped answering.
const (
	maxRemoteScanBytes = 48 << 20
	remoteScanTimeout  = 5 * time.Second
)

// queryLimits are the [admin.query-engine] settings; a node built without them (zero
// options) gets the defaults.
func (n *Node) queryLimits() query.Limits {
	limits := query.DefaultLimits
	if size := n.opts.Admin.QueryEngine.MemorySize; size != 0 {
		limits.MemoryBytes = int64(min(size, math.MaxInt64))
	}
	if d := n.opts.Admin.QueryEngine.QueryTimeout; d != 0 {
		limits.Timeout = d
	}
	return limits
}

func (n *Node) queryPartitions() query.Partitions {
	parts := query.Partitions{
		Count: n.partitionCount,
		Local: n.localProcs,
	}
	if n.cluster != nil {
		parts.Local = func() []*partition.Processor {
			var led []*partition.Processor
			for _, p := range n.localProcs() {
				if p.IsLeader() {
					led = append(led, p)
				}
			}
			return led
		}
		parts.Held = n.localProcs
		parts.Remote = n.scanRemote
	}
	return parts
}

// otherReplicas lists the nodes other than this one that hold partition p, its leader first.
func (n *Node) otherReplicas(p uint16) []uint64 {
	leader, _ := n.cluster.Log.Leader(p)
	var out []uint64
	if leader != 0 && leader != uint64(n.nodeID) {
		out = append(out, leader)
	}
	if table := n.cluster.Partitions(); table != nil && int(p) < len(table.Replicas) {
		for _, r := range table.Replicas[p] {
			if r != leader && r != uint64(n.nodeID) {
				out = append(out, r)
			}
		}
	}
	return out
}

// scanRemote reads table's rows of the partitions not in local. Every such partition must
// answer: a query over part of the data would mislead, so a partition no replica answers for
// fails the query with a 503 that names it.
func (n *Node) scanRemote(ctx context.Context, table string, filters []query.Equality, local []*partition.Processor, emit func(query.Row) bool) error {
	cols, ok := query.PartitionedColumns(table)
	if !ok {
		return fmt.Errorf("%q is not a partitioned table", table)
	}
	done := map[uint16]bool{}
	for _, p := range local {
		done[p.ID()] = true
	}
	count := n.partitionCount()
	var rows []query.Row
	asked := map[uint16]map[uint64]bool{} // nodes already asked for leader-only answers

	// Leaders first: the one this node knows for partitions it replicates (otherReplicas
	// lists it first), otherwise a replica, which names the leader if it is not. Then the
	// named leaders.
	targets := map[uint64][]uint16{}
	for p := range count {
		if others := n.otherReplicas(p); !done[p] && len(others) > 0 {
			targets[others[0]] = append(targets[others[0]], p)
		}
	}
	failed := map[uint64]bool{} // nodes whose call failed: not asked again in this query
	// nextReplica is a replica of p not asked yet, to try when the one asked failed.
	nextReplica := func(p uint16) uint64 {
		for _, r := range n.otherReplicas(p) {
			if !asked[p][r] && !failed[r] {
				return r
			}
		}
		return 0
	}
	for round := 0; round < 3 && len(targets) > 0; round++ {
		// A query that ended (its client left, its timeout passed) asks nobody more; the calls
		// under way end with ctx too, which cancels the scans on the other nodes.
		if err := ctx.Err(); err != nil {
			return err
		}
		next := map[uint64][]uint16{}
		for _, a := range n.scanNodes(ctx, table, filters, targets, false, len(cols)) {
			for _, p := range a.parts {
				if asked[p] == nil {
					asked[p] = map[uint64]bool{}
				}
				asked[p][a.node] = true
			}
			if a.err != nil {
				// Down or frozen: its partitions go to another replica, which answers if it
				// leads them now or names the leader.
				failed[a.node] = true
				for _, p := range a.parts {
					if r := nextReplica(p); r != 0 {
						next[r] = append(next[r], p)
					}
				}
				continue
			}
			rows = append(rows, a.res.Rows...)
			refused := map[uint16]bool{}
			for _, r := range a.res.Refused {
				refused[r.Partition] = true
				if r.Leader != 0 && r.Leader != uint64(n.nodeID) && !asked[r.Partition][r.Leader] && !failed[r.Leader] {
					next[r.Leader] = append(next[r.Leader], r.Partition)
				}
			}
			for _, p := range a.parts {
				if !refused[p] {
					done[p] = true
				}
			}
		}
		targets = next
	}

	if err := ctx.Err(); err != nil {
		return err
	}
	var missing []uint16
	for p := range count {
		if !done[p] {
			missing = append(missing, p)
		}
	}
	more, err := n.scanFollowers(ctx, table, filters, missing, failed, count, len(cols))
	if err != nil {
		return err
	}
	for _, r := range append(rows, more...) {
		if !emit(r) {
			return nil
		}
	}
	return nil
}

// scanFollowers reads the partitions no leader answered for from a follower's copy: this
// node's own where it has one, otherwise any replica that answers (skipping failed nodes).
func (n *Node) scanFollowers(ctx context.Context, table string, filters []query.Equality, parts []uint16, failed map[uint64]bool, count uint16, width int) ([]query.Row, error) {
	var rows []query.Row
	var followed []*partition.Processor
	var elsewhere []uint16
	for _, p := range parts {
		if proc := n.proc(p); proc != nil {
			followed = append(followed, proc)
		} else {
			elsewhere = append(elsewhere, p)
		}
	}
	if len(followed) > 0 {
		if err := query.ScanLocal(ctx, table, followed, n.localProcs(), count, filters, func(r query.Row) bool {
			rows = append(rows, r)
			return true
		}); err != nil {
			return nil, err
		}
	}
	got := make([][]query.Row, len(elsewhere))
	errs := make([]error, len(elsewhere))
	var wg sync.WaitGroup
	for i, p := range elsewhere {
		wg.Go(func() { got[i], errs[i] = n.scanAnyReplica(ctx, table, filters, p, failed, width) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, p := range elsewhere {
		if errs[i] != nil {
			return nil, admin.Errorf(http.StatusServiceUnavailable, "partition %d could not be read for the query: %v", p, errs[i])
		}
		rows = append(rows, got[i]...)
	}
	return rows, nil
}

type scanAnswer struct {
	node  uint64
	parts []uint16
	res   *query.ScanResult
	err   error
}

// scanNodes sends one scan request per node, all at once.
func (n *Node) scanNodes(ctx context.Context, table string, filters []query.Equality, targets map[uint64][]uint16, allowFollower bool, width int) []scanAnswer {
	answers := make([]scanAnswer, 0, len(targets))
	for node, parts := range targets {
		answers = append(answers, scanAnswer{node: node, parts: parts})
	}
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			a := &answers[i]
			a.res, a.err = n.fetchRemoteRows(ctx, a.node, &query.ScanRequest{Table: table, AllowFollower: allowFollower, Partitions: a.parts, Filters: filters}, width)
		})
	}
	wg.Wait()
	return answers
}

// scanAnyReplica reads partition p from the first replica that answers, leader or not,
// skipping the nodes that already failed this query.
func (n *Node) scanAnyReplica(ctx context.Context, table string, filters []query.Equality, p uint16, failed map[uint64]bool, width int) ([]query.Row, error) {
	err := fmt.Errorf("no other replica")
	for _, node := range n.otherReplicas(p) {
		if failed[node] {
			err = fmt.Errorf("node %d did not answer", node)
			continue
		}
		var res *query.ScanResult
		res, err = n.fetchRemoteRows(ctx, node, &query.ScanRequest{Table: table, AllowFollower: true, Partitions: []uint16{p}, Filters: filters}, width)
		if err == nil && len(res.Refused) == 0 {
			return res.Rows, nil
		}
		if err == nil {
			err = fmt.Errorf("node %d no longer holds it", node)
		}
	}
	return nil, err
}

func (n *Node) fetchRemoteRows(ctx context.Context, node uint64, req *query.ScanRequest, width int) (*query.ScanResult, error) {
	ctx, cancel := context.WithTimeout(ctx, remoteScanTimeout)
	defer cancel()
	out, err := n.cluster.Client.Call(ctx, node, methodQueryScan, req.Encode())
	if err != nil {
		return nil, err
	}
	return query.DecodeScanResult(out, width)
}

// handleQueryScan answers another node's remote scan from this node's processors: the
// partitions it leads (or holds at all, when followers may answer); the others it declines,
// naming the leader it knows.
func (n *Node) handleQueryScan(ctx context.Context, from uint64, body []byte) ([]byte, error) {
	req, err := query.DecodeScanRequest(body)
	if err != nil {
		return nil, fmt.Errorf("bad scan request: %w", err)
	}
	cols, ok := query.PartitionedColumns(req.Table)
	if !ok {
		return nil, fmt.Errorf("%q is not a partitioned table", req.Table)
	}
	var procs []*partition.Processor
	var refused []query.Refusal
	for _, p := range req.Partitions {
		proc := n.proc(p)
		if proc != nil && (proc.IsLeader() || req.AllowFollower) {
			procs = append(procs, proc)
			continue
		}
		var leader uint64
		if n.cluster != nil {
			leader, _ = n.cluster.Log.Leader(p)
		}
		refused = append(refused, query.Refusal{Partition: p, Leader: leader})
	}
	count := n.partitionCount()
	w := query.NewResultWriter(len(cols))
	var writeErr error
	err = query.ScanLocal(ctx, req.Table, procs, n.localProcs(), count, req.Filters, func(r query.Row) bool {
		if writeErr = w.AddRow(r); writeErr == nil && w.Len() > maxRemoteScanBytes {
			writeErr = fmt.Errorf("the rows of %s in partitions %v exceed %d MiB; narrow the query with a WHERE clause", req.Table, req.Partitions, maxRemoteScanBytes>>20)
		}
		return writeErr == nil
	})
	if err == nil {
		err = writeErr
	}
	if err != nil {
		return nil, err
	}
	return w.Finish(refused), nil
}
