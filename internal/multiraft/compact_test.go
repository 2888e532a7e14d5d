package multiraft

import (
	"os"
	"testing"
)

// A compacted log survives restarts, and a member whose disk was wiped gets a snapshot (it
// is told to restore) followed by exactly the entries after it.
func TestCompactionAndSnapshotToWipedMember(t *testing.T) {
	net := NewMemNetwork()
	peers := []uint64{1, 2, 3}
	nodes, dirs := startThree(t, net)
	propose := func(prefix string, count int) { proposeAll(nodes, prefix, count) }
	applied := func(n *testNode) int { e, _ := n.sm.snapshot(); return len(e) }
	propose("a", 40)
	waitFor(t, "40 entries everywhere", func() bool {
		return applied(nodes[0]) >= 40 && applied(nodes[1]) >= 40 && applied(nodes[2]) >= 40
	})

	// Take a follower away, move on, and compact every remaining log past what it has.
	victim := nodes[2]
	if leaderOf(nodes) == victim {
		victim = nodes[1]
	}
	vi := int(victim.id - 1)
	victim.stop(net)
	nodes[vi] = nil
	propose("b", 40)
	var live []*testNode
	for _, n := range nodes {
		if n != nil {
			live = append(live, n)
		}
	}
	waitFor(t, "80 entries on the live nodes", func() bool { return applied(live[0]) >= 80 && applied(live[1]) >= 80 })
	target := live[0].g.LastIndex() - 5
	for _, n := range live {
		n.g.Compact(target)
	}
	waitFor(t, "the live logs to be compacted", func() bool {
		for _, n := range live {
			if n.g.SnapshotIndex() != target || n.g.FirstIndex() != target+1 {
				return false
			}
		}
		return true
	})

	// A compacted node restarts from its snapshot and its remaining entries.
	ri := int(live[0].id - 1)
	live[0].stop(net)
	nodes[ri] = startNode(t, net, live[0].id, dirs[ri], peers)
	if got := nodes[ri].g.SnapshotIndex(); got != target {
		t.Fatalf("restarted node's snapshot index = %d, want %d", got, target)
	}
	waitFor(t, "a leader after the restart", func() bool { return leaderOf(nodes) != nil })

	// The stopped follower comes back with an empty disk: it cannot get the compacted
	// entries, so it gets a snapshot and then the rest.
	if err := os.RemoveAll(dirs[vi]); err != nil {
		t.Fatal(err)
	}
	nodes[vi] = startNode(t, net, victim.id, dirs[vi], nil)
	propose("c", 10)
	waitFor(t, "the wiped member to restore and catch up", func() bool {
		nodes[vi].sm.mu.Lock()
		defer nodes[vi].sm.mu.Unlock()
		return len(nodes[vi].sm.restored) > 0 && len(nodes[vi].sm.entries) > 0 &&
			nodes[vi].sm.entries[len(nodes[vi].sm.entries)-1] == "c-9"
	})
	rs := nodes[vi].sm
	rs.mu.Lock()
	restoredAt := rs.restored[0]
	got := append([]string{}, rs.entries...)
	rs.mu.Unlock()
	if restoredAt < target {
		t.Fatalf("restored at %d, before the compaction point %d", restoredAt, target)
	}
	// What it applied after the snapshot is exactly the tail of a full member's history.
	full, _ := nodes[int(leaderOf(nodes).id-1)].sm.snapshot()
	tail := full[len(full)-len(got):]
	for i := range got {
		if got[i] != tail[i] {
			t.Fatalf("wiped member entry %d = %q, a full member has %q", i, got[i], tail[i])
		}
	}
	// target was 5 entries before the end of "b"; then came the 10 of "c" (a new leader
	// may add an empty entry, which the state machine does not see).
	if len(got) != 15 || got[0] != "b-35" {
		t.Fatalf("wiped member applied %d entries after its snapshot starting with %q; want the 15 from b-35", len(got), got[0])
	}
}

// Without any compaction the log stays on disk, not in memory: a follower that missed
// thousands of entries catches up from the leader's disk, and a restarted node replays its
// whole log from disk while keeping only a bounded tail in memory.
func TestLogTailInMemoryIsBounded(t *testing.T) {
	net := NewMemNetwork()
	nodes, dirs := startThree(t, net)
	proposeAll(nodes, "a", 100)
	lagging := nodes[2]
	if leaderOf(nodes) == lagging {
		lagging = nodes[1]
	}
	li := int(lagging.id - 1)
	lagging.stop(net)
	nodes[li] = nil
	const total = 3 * memMaxEntries
	proposeAll(nodes, "b", total)
	for _, n := range nodes {
		if n == nil {
			continue
		}
		waitFor(t, "the live nodes to apply everything", func() bool { e, _ := n.sm.snapshot(); return len(e) >= 100+total })
		waitFor(t, "a bounded in-memory tail", func() bool { return n.g.storage.memEntries() <= memMaxEntries })
		if n.g.FirstIndex() != 1 {
			t.Fatalf("node %d compacted its log without being asked", n.id)
		}
	}
	nodes[li] = startNode(t, net, lagging.id, dirs[li], []uint64{1, 2, 3})
	waitFor(t, "the lagging node to catch up", func() bool { e, _ := nodes[li].sm.snapshot(); return len(e) >= 100+total })
	want, _ := nodes[(li+1)%3].sm.snapshot()
	got, _ := nodes[li].sm.snapshot()
	got = got[len(got)-len(want):]
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("entry %d: lagging node has %q, others %q", i, got[i], want[i])
		}
	}
	// The tail is cut right after the entries are applied.
	waitFor(t, "the restarted node's in-memory tail to be cut", func() bool {
		return nodes[li].g.storage.memEntries() <= memMaxEntries
	})
}
