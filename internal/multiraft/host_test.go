package multiraft

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/restatego/restate/internal/storage"
)

type recordingSM struct {
	mu       sync.Mutex
	entries  []string
	leader   uint64
	restored []uint64 // indexes of Restore calls
	lastIdx  uint64
}

func (s *recordingSM) Restore(index uint64) {
	s.mu.Lock()
	s.restored = append(s.restored, index)
	s.lastIdx = index
	s.mu.Unlock()
}

func (s *recordingSM) Apply(c []Committed) {
	s.mu.Lock()
	for _, e := range c {
		if e.Index <= s.lastIdx {
			panic(fmt.Sprintf("entry %d applied after %d", e.Index, s.lastIdx))
		}
		s.lastIdx = e.Index
		s.entries = append(s.entries, string(e.Data))
	}
	s.mu.Unlock()
}

func (s *recordingSM) LeaderChanged(leader, term uint64) {
	s.mu.Lock()
	s.leader = leader
	s.mu.Unlock()
}

func (s *recordingSM) snapshot() ([]string, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{}, s.entries...), s.leader
}

type testNode struct {
	id   uint64
	dir  string
	db   *storage.DB
	host *Host
	sm   *recordingSM
	g    *Group
}

func startNode(t *testing.T, net *MemNetwork, id uint64, dir string, peers []uint64) *testNode {
	t.Helper()
	db, err := storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHost(Config{NodeID: id, DB: db, Transport: net.Transport(id), TickInterval: 10 * time.Millisecond})
	net.Attach(id, h)
	sm := &recordingSM{}
	g, err := h.OpenGroup(7, peers, sm, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Start()
	return &testNode{id: id, dir: dir, db: db, host: h, sm: sm, g: g}
}

func (n *testNode) stop(net *MemNetwork) {
	net.Detach(n.id)
	n.host.Stop()
	n.db.Close()
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startThree starts a three-member group on fresh directories; nodes[i] is nil once stopped.
func startThree(t *testing.T, net *MemNetwork) (nodes []*testNode, dirs []string) {
	t.Helper()
	peers := []uint64{1, 2, 3}
	nodes = make([]*testNode, 3)
	dirs = []string{t.TempDir(), t.TempDir(), t.TempDir()}
	for i := range nodes {
		nodes[i] = startNode(t, net, uint64(i+1), dirs[i], peers)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			if n != nil {
				n.stop(net)
			}
		}
	})
	waitFor(t, "a leader", func() bool { return leaderOf(nodes) != nil })
	return nodes, dirs
}

// proposeAll proposes prefix-0 .. prefix-(count-1) through whichever node leads.
func proposeAll(nodes []*testNode, prefix string, count int) {
	for i := 0; i < count; {
		l := leaderOf(nodes)
		if l == nil || l.g.Propose([]byte(fmt.Sprintf("%s-%d", prefix, i))) != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		i++
	}
}

func leaderOf(nodes []*testNode) *testNode {
	for _, n := range nodes {
		if n != nil && n.g.Status().Lead == n.id {
			return n
		}
	}
	return nil
}

func TestReplicationFailoverAndRestart(t *testing.T) {
	net := NewMemNetwork()
	peers := []uint64{1, 2, 3}
	nodes, dirs := startThree(t, net)
	propose := func(prefix string, n int) { proposeAll(nodes, prefix, n) }
	propose("a", 50)
	waitFor(t, "all nodes to apply 50 entries", func() bool {
		for _, n := range nodes {
			if e, _ := n.sm.snapshot(); len(e) < 50 {
				return false
			}
		}
		return true
	})

	// Kill the leader: the other two elect a new one and keep committing.
	old := leaderOf(nodes)
	oldIdx := int(old.id - 1)
	old.stop(net)
	nodes[oldIdx] = nil
	waitFor(t, "a new leader", func() bool { l := leaderOf(nodes); return l != nil && l.id != old.id })
	propose("b", 20)

	// Restart the old leader from its disk: it catches up with what it missed.
	nodes[oldIdx] = startNode(t, net, old.id, dirs[oldIdx], peers)
	waitFor(t, "the restarted node to catch up", func() bool {
		e, _ := nodes[oldIdx].sm.snapshot()
		return len(e) >= 70
	})
	// Every node applied the same sequence.
	want, _ := nodes[0].sm.snapshot()
	for _, n := range nodes[1:] {
		got, _ := n.sm.snapshot()
		// A restarted node re-applies from the start of the log: compare the tails.
		got = got[len(got)-len(want):]
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("node %d entry %d = %q, node 1 has %q", n.id, i, got[i], want[i])
			}
		}
	}
}

func TestMinorityCannotCommit(t *testing.T) {
	net := NewMemNetwork()
	peers := []uint64{1, 2, 3}
	nodes := make([]*testNode, 3)
	for i := range nodes {
		nodes[i] = startNode(t, net, uint64(i+1), t.TempDir(), peers)
	}
	defer func() {
		for _, n := range nodes {
			n.stop(net)
		}
	}()
	waitFor(t, "a leader", func() bool { return leaderOf(nodes) != nil })
	l := leaderOf(nodes)
	net.Cut(l.id, true)
	before, _ := l.sm.snapshot()
	_ = l.g.Propose([]byte("isolated"))
	time.Sleep(500 * time.Millisecond)
	after, _ := l.sm.snapshot()
	if len(after) != len(before) {
		t.Fatalf("an isolated leader committed an entry: %v", after)
	}
	// The majority side moves on with a new leader.
	waitFor(t, "a leader on the majority side", func() bool {
		for _, n := range nodes {
			if n.id != l.id && n.g.Status().Lead == n.id {
				return true
			}
		}
		return false
	})
	// The isolated node steps down (check quorum).
	waitFor(t, "the isolated leader to step down", func() bool { return l.g.Status().Lead != l.id })
}

// A node whose start fails before its raft host runs (a port in use) still shuts down: Stop
// on a host that never started returns at once, and a later Start does not run a loop.
func TestStopWithoutStart(t *testing.T) {
	h := NewHost(Config{NodeID: 1})
	done := make(chan struct{})
	go func() {
		h.Stop()
		h.Stop()
		h.Start()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop of a host that never started hangs")
	}
}
