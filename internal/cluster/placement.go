package cluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/restatego/restate/internal/multiraft"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Growing the cluster: when nodes join after the partitions were created, the metadata leader
// spreads replicas over all nodes again (placeReplicas); each partition's raft leader then
// adds the new replicas to its group and, once they caught up, removes the replaced ones
// (reconfigure). A node that becomes a replica opens the group and waits for the leader
// (watchPartitions). Nodes that stop are not replaced: they are expected back.

// placeReplicas runs on every node and acts only on the metadata leader.
func (c *Cluster) placeReplicas() {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		if leader, _ := c.Meta.Leader(); leader != c.opts.NodeID {
			continue
		}
		raw, ver, err := c.Meta.Get(c.ctx, KeyPartitions)
		if err != nil {
			continue
		}
		table, err := decodePartitions(raw)
		if err != nil || table == nil {
			continue
		}
		nodes := c.Nodes()
		if nodes == nil {
			continue
		}
		ids := nodes.SortedIDs()
		if !grew(table, ids) {
			continue
		}
		next := *table
		next.Replicas = placePartitions(table.NumPartitions, table.Replication, ids)
		b, _ := json.Marshal(&next)
		if _, err := c.Meta.CompareAndSwap(c.ctx, KeyPartitions, ver, b); err == nil {
			c.logger.Info("spreading partitions over the nodes", "nodes", ids)
		}
	}
}

// grew reports whether some node holds no replica while the table could give it some.
func grew(t *PartitionTable, nodes []uint64) bool {
	used := map[uint64]bool{}
	for _, reps := range t.Replicas {
		for _, r := range reps {
			used[r] = true
		}
	}
	for _, n := range nodes {
		if !used[n] {
			return GroupSize(t.Replication, len(nodes)) > 0
		}
	}
	return false
}

// watchPartitions opens the groups of partitions this node was made a replica of.
func (c *Cluster) watchPartitions() {
	for range c.Meta.Watch(c.ctx, KeyPartitions) {
		raw, _, err := c.Meta.Get(c.ctx, KeyPartitions)
		if err != nil {
			continue
		}
		table, err := decodePartitions(raw)
		if err != nil || table == nil {
			continue
		}
		var added, removed []uint16
		for p := range table.Replicas {
			pp := uint16(p)
			if !table.HasReplica(pp, c.opts.NodeID) && c.Log.Has(pp) {
				removed = append(removed, pp)
			}
			if table.HasReplica(pp, c.opts.NodeID) && !c.Log.Has(pp) {
				if err := c.Log.Open(pp, table.BootstrapPeers(pp, c.opts.NodeID)); err != nil {
					c.logger.Error("opening a partition", "partition", p, "err", err)
					continue
				}
				added = append(added, pp)
			}
		}
		c.mu.Lock()
		c.partitions = table
		cb, rcb := c.opts.OnNewPartitions, c.opts.OnRemovedPartitions
		c.mu.Unlock()
		if len(added) > 0 && cb != nil {
			cb(added)
		}
		if len(removed) > 0 && rcb != nil {
			rcb(removed)
		}
	}
}

// reconfigure makes the voters of the groups this node leads match the partition table, one
// change at a time: add missing replicas first, remove extra ones once the others caught up.
func (c *Cluster) reconfigure() {
	// Raft refuses a membership change while another is pending; waiting between proposals
	// per partition keeps us from proposing ones it would drop.
	lastChange := map[int]time.Time{}
	c.everyLedPartition(time.Second, func(p int, want []uint64, g *multiraft.Group, st raft.Status) {
		if time.Since(lastChange[p]) < 3*time.Second {
			return
		}
		voters := st.Config.Voters[0]
		var change *pb.ConfChange
		for _, w := range want {
			if _, ok := voters[w]; !ok {
				change = confChange(pb.ConfChangeType_ConfChangeAddNode, w)
				break
			}
		}
		if change == nil {
			caughtUp := true
			for _, w := range want {
				if pr, ok := st.Progress[w]; !ok || pr.Match+64 < st.HardState.GetCommit() {
					caughtUp = false
				}
			}
			for v := range voters {
				if !caughtUp || slices.Contains(want, v) {
					continue
				}
				if v == c.opts.NodeID {
					// Hand leadership to a replica that stays; it removes this node.
					g.TransferLeadership(want[0])
					lastChange[p] = time.Now()
					return
				}
				change = confChange(pb.ConfChangeType_ConfChangeRemoveNode, v)
				break
			}
		}
		if change != nil {
			lastChange[p] = time.Now()
			if err := g.ProposeConfChange(change); err != nil {
				c.logger.Debug("proposing a replica change", "partition", p, "err", err)
			}
		}
	})
}

func confChange(typ pb.ConfChangeType, node uint64) *pb.ConfChange {
	cc := &pb.ConfChange{}
	cc.Type = &typ
	cc.NodeId = &node
	return cc
}

const methodReadd = "partition.readd"

// requestReadd asks partition p's leader to remove this node from the partition's group, so
// that it is added back (by reconfigure) with fresh progress after it lost its data.
func (c *Cluster) requestReadd(p uint16, replicas []uint64) {
	body := make([]byte, 0, 10)
	body = append(body, byte(p>>8), byte(p))
	body = binary.BigEndian.AppendUint64(body, c.opts.NodeID)
	for attempt := 0; attempt < 120; attempt++ {
		for _, r := range replicas {
			if r == c.opts.NodeID {
				continue
			}
			ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
			_, err := c.Client.Call(ctx, r, methodReadd, body)
			cancel()
			if err == nil {
				return
			}
		}
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
	c.logger.Error("could not get re-added to a partition after losing data", "partition", p)
}

// handleReadd removes a replica that lost its data, when this node leads the partition;
// others forward to the leader they know.
func (c *Cluster) handleReadd(ctx context.Context, from uint64, body []byte) ([]byte, error) {
	if len(body) != 10 {
		return nil, errors.New("bad re-add request")
	}
	p := uint16(body[0])<<8 | uint16(body[1])
	node := binary.BigEndian.Uint64(body[2:])
	g := c.Log.Group(p)
	if g == nil {
		return nil, fmt.Errorf("partition %d is not replicated on node %d", p, c.opts.NodeID)
	}
	st := g.Status()
	if st.Lead == 0 {
		return nil, fmt.Errorf("partition %d has no leader", p)
	}
	if st.Lead != c.opts.NodeID {
		return c.Client.Call(ctx, st.Lead, methodReadd, body)
	}
	if _, ok := st.Config.Voters[0][node]; !ok {
		return nil, nil // already removed; reconfigure adds it back
	}
	c.logger.Warn("a replica lost its data; removing it so that it is re-added", "partition", p, "node", node)
	return nil, g.ProposeConfChange(confChange(pb.ConfChangeType_ConfChangeRemoveNode, node))
}
