package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/restatego/restate/internal/admin"
	"github.com/restatego/restate/internal/partition"
	"github.com/restatego/restate/internal/query"
)

// The SQL introspection tables of a cluster node cover every partition: the node reads its own
// processors, and asks the nodes holding the others for their rows (with the query's equality
// filters, so a lookup by id or key stays a point read there too).

const methodQueryScan = "query.scan"

// Bounds of one remote scan: its answer travels in one message, and a query should not hang
// on a node that stopped answering.
const (
	maxRemoteScanBytes = 48 << 20
	remoteScanTimeout  = 10 * time.Second
)

func (n *Node) queryPartitions() query.Partitions {
	parts := query.Partitions{
		Count: func() uint16 {
			n.procMu.Lock()
			defer n.procMu.Unlock()
			return n.numPartitions
		},
		Local: n.localProcs,
	}
	if n.cluster != nil {
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

// scanRemote reads table's rows of the partitions this node does not hold. Every such
// partition must answer: a query over part of the data would mislead, so an unreachable
// partition fails the query with a 503 that names it.
func (n *Node) scanRemote(ctx context.Context, table string, filters []query.Equality, emit func(query.Row) bool) error {
	cols, ok := query.PartitionedColumns(table)
	if !ok {
		return fmt.Errorf("%q is not a partitioned table", table)
	}
	local := map[uint16]bool{}
	for _, p := range n.localProcs() {
		local[p.ID()] = true
	}
	n.procMu.Lock()
	count := n.numPartitions
	n.procMu.Unlock()
	candidates := map[uint16][]uint64{}
	byNode := map[uint64][]uint16{}
	for p := range count {
		if local[p] {
			continue
		}
		c := n.otherReplicas(p)
		if len(c) == 0 {
			return admin.Errorf(http.StatusServiceUnavailable, "partition %d has no replica that could answer the query", p)
		}
		candidates[p] = c
		byNode[c[0]] = append(byNode[c[0]], p)
	}
	if len(byNode) == 0 {
		return nil
	}

	type answer struct {
		node  uint64
		parts []uint16
		rows  []query.Row
		err   error
	}
	answers := make([]answer, 0, len(byNode))
	for node, parts := range byNode {
		answers = append(answers, answer{node: node, parts: parts})
	}
	slices.SortFunc(answers, func(a, b answer) int { return int(a.parts[0]) - int(b.parts[0]) })
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			a := &answers[i]
			a.rows, a.err = n.fetchRemoteRows(ctx, a.node, table, a.parts, filters, len(cols))
		})
	}
	wg.Wait()

	for _, a := range answers {
		rows := a.rows
		if a.err != nil {
			// The first choice failed (it died, or no longer holds some of the partitions):
			// ask the other replicas, one partition at a time.
			rows = nil
			for _, p := range a.parts {
				got, err := n.fetchFromAny(ctx, candidates[p][1:], table, p, filters, len(cols))
				if err != nil {
					return admin.Errorf(http.StatusServiceUnavailable, "partition %d could not be read for the query: %v (and from node %d: %v)", p, err, a.node, a.err)
				}
				rows = append(rows, got...)
			}
		}
		for _, r := range rows {
			if !emit(r) {
				return nil
			}
		}
	}
	return nil
}

func (n *Node) fetchFromAny(ctx context.Context, nodes []uint64, table string, p uint16, filters []query.Equality, width int) ([]query.Row, error) {
	err := fmt.Errorf("no other replica")
	for _, node := range nodes {
		var rows []query.Row
		if rows, err = n.fetchRemoteRows(ctx, node, table, []uint16{p}, filters, width); err == nil {
			return rows, nil
		}
	}
	return nil, err
}

func (n *Node) fetchRemoteRows(ctx context.Context, node uint64, table string, parts []uint16, filters []query.Equality, width int) ([]query.Row, error) {
	ctx, cancel := context.WithTimeout(ctx, remoteScanTimeout)
	defer cancel()
	req := query.ScanRequest{Table: table, Partitions: parts, Filters: filters}
	out, err := n.cluster.Client.Call(ctx, node, methodQueryScan, req.Encode())
	if err != nil {
		return nil, err
	}
	return query.DecodeRows(out, width)
}

// handleQueryScan answers another node's remote scan from this node's processors.
func (n *Node) handleQueryScan(ctx context.Context, from uint64, body []byte) ([]byte, error) {
	req, err := query.DecodeScanRequest(body)
	if err != nil {
		return nil, fmt.Errorf("bad scan request: %w", err)
	}
	cols, ok := query.PartitionedColumns(req.Table)
	if !ok {
		return nil, fmt.Errorf("%q is not a partitioned table", req.Table)
	}
	procs := make([]*partition.Processor, 0, len(req.Partitions))
	for _, p := range req.Partitions {
		proc := n.proc(p)
		if proc == nil {
			return nil, fmt.Errorf("node %d does not hold partition %d", n.nodeID, p)
		}
		procs = append(procs, proc)
	}
	n.procMu.Lock()
	count := n.numPartitions
	n.procMu.Unlock()
	var rows []query.Row
	size := 0
	var tooBig bool
	err = query.ScanLocal(ctx, req.Table, procs, count, req.Filters, func(r query.Row) bool {
		for _, v := range r {
			size += 8 + len(v.Str())
		}
		if size > maxRemoteScanBytes {
			tooBig = true
			return false
		}
		rows = append(rows, r)
		return true
	})
	if err != nil {
		return nil, err
	}
	if tooBig {
		return nil, fmt.Errorf("the rows of %s in partitions %v exceed %d MiB; narrow the query with a WHERE clause", req.Table, req.Partitions, maxRemoteScanBytes>>20)
	}
	return query.EncodeRows(len(cols), rows)
}
