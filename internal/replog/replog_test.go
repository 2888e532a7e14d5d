package replog

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/multiraft"
	"github.com/restatego/restate/internal/partition"
	"github.com/restatego/restate/internal/storage"
	"github.com/restatego/restate/internal/wire"
)

// effects records the leader actions of one node.
type effects struct {
	mu      sync.Mutex
	invoked map[ids.InvocationID]int
}

func (e *effects) Invoke(p *partition.Processor, inv ids.InvocationID) {
	e.mu.Lock()
	e.invoked[inv]++
	e.mu.Unlock()
}
func (e *effects) Notify(ids.InvocationID, uint32, partition.Entry)           {}
func (e *effects) Abort(ids.InvocationID)                                     {}
func (e *effects) StepDown(*partition.Processor)                              {}
func (e *effects) Respond(partition.Sink, ids.InvocationID, partition.Result) {}

func (e *effects) count(inv ids.InvocationID) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.invoked[inv]
}

type node struct {
	id     uint64
	db     *storage.DB
	host   *multiraft.Host
	log    *Log
	proc   *partition.Processor
	fx     *effects
	cancel context.CancelFunc
	done   chan struct{}
}

func startNode(t *testing.T, net *multiraft.MemNetwork, id uint64, dir string) *node {
	t.Helper()
	db, err := storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	host := multiraft.NewHost(multiraft.Config{NodeID: id, DB: db, Transport: net.Transport(id), TickInterval: 10 * time.Millisecond})
	net.Attach(id, host)
	n := &node{id: id, db: db, host: host, fx: &effects{invoked: map[ids.InvocationID]int{}}, done: make(chan struct{})}
	n.log = New(host, id, func(p uint16, leader, term uint64) {
		if n.proc != nil {
			n.proc.OnLeaderChange(leader, term)
		}
	})
	n.proc = partition.New(partition.Config{ID: 0, Node: uint32(id), DB: db, Log: n.log, Effects: n.fx, RaftLeadership: true})
	if err := n.log.Open(0, []uint64{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	host.Start()
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { n.proc.Run(ctx); close(n.done) }()
	return n
}

func (n *node) stop(net *multiraft.MemNetwork) {
	net.Detach(n.id)
	n.cancel()
	<-n.done
	n.host.Stop()
	n.log.Close()
	n.db.Close()
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func leader(nodes []*node) *node {
	for _, n := range nodes {
		if n != nil && n.proc.IsLeader() {
			return n
		}
	}
	return nil
}

func TestReplicatedPartitionFailover(t *testing.T) {
	net := multiraft.NewMemNetwork()
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	nodes := make([]*node, 3)
	for i := range nodes {
		nodes[i] = startNode(t, net, uint64(i+1), dirs[i])
	}
	defer func() {
		for _, n := range nodes {
			if n != nil {
				n.stop(net)
			}
		}
	}()
	waitFor(t, "a processor leader", func() bool { return leader(nodes) != nil })
	l := leader(nodes)

	// Submit through a follower: raft forwards it, every replica applies it, and only the
	// leader acts on it.
	var follower *node
	for _, n := range nodes {
		if n != l {
			follower = n
			break
		}
	}
	inv := ids.NewInvocationID(1)
	rec := &partition.Record{Kind: partition.KindInvoke, Inv: inv, Target: partition.Target{Service: "S", Handler: "h"},
		Body: []byte(`"x"`), CreatedAt: time.Now().UnixMilli()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := follower.proc.Submit(ctx, rec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every replica to store the invocation", func() bool {
		for _, n := range nodes {
			st, _ := n.proc.ReadStatus(inv)
			if st == nil || st.Phase != partition.PhaseInvoked {
				return false
			}
		}
		return true
	})
	waitFor(t, "the leader to invoke it", func() bool { return l.fx.count(inv) == 1 })
	for _, n := range nodes {
		if n != l && n.fx.count(inv) != 0 {
			t.Fatalf("follower %d invoked the invocation", n.id)
		}
	}

	// The leader dies: a follower takes over with the state in place and resumes the
	// invocation it had not finished.
	idx := int(l.id - 1)
	l.stop(net)
	nodes[idx] = nil
	waitFor(t, "a new processor leader", func() bool { n := leader(nodes); return n != nil && n.id != l.id })
	nl := leader(nodes)
	waitFor(t, "the new leader to resume the invocation", func() bool { return nl.fx.count(inv) == 1 })

	// The old leader's late proposals are fenced: it comes back as a follower and converges.
	out := wire.OutputCommand{Result: wire.ValueResult([]byte(`"done"`))}
	if err := nl.proc.Submit(ctx, &partition.Record{Kind: partition.KindJournalAppend, Inv: inv,
		EntryType: uint16(wire.TypeOutputCommand), Payload: out.AppendTo(nil)}); err != nil {
		t.Fatal(err)
	}
	if err := nl.proc.Submit(ctx, &partition.Record{Kind: partition.KindEnd, Inv: inv}); err != nil {
		t.Fatal(err)
	}
	nodes[idx] = startNode(t, net, l.id, dirs[idx])
	waitFor(t, "the restarted node to apply the end", func() bool {
		st, _ := nodes[idx].proc.ReadStatus(inv)
		return st == nil // no retention: a completed invocation is removed
	})
}
