// Package multiraft runs many raft groups on one node with shared machinery: one ticker, one
// transport, and one storage write (with one fsync) per ready cycle for all groups. The raft
// core is etcd's (go.etcd.io/raft/v3); this package only drives it.
//
// A group's state machine receives committed entries in order; the host applies membership
// changes itself. Raft entries and hard state live in the node's Pebble database, under their
// own key space; only the newest entries of each group are also kept in memory (logStore).
//
// A group's log can be compacted up to a position its state machine can rebuild without the
// entries (Group.Compact). The raft snapshot left at that position carries no state: a member
// that needs entries from before it is told to restore its state from elsewhere (the partition
// snapshot repository), see Restorer.
package multiraft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/restatego/restate/internal/storage"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// GroupID names a raft group on every node.
type GroupID uint32

// Committed is one committed entry with application data.
type Committed struct {
	Index, Term uint64
	Data        []byte
}

// StateMachine consumes a group's committed entries. Calls come from the host's loop and
// must not block.
type StateMachine interface {
	Apply(entries []Committed)
	// LeaderChanged reports the group's leader (0 = none known) and term as this node sees them.
	LeaderChanged(leader, term uint64)
}

// Restorer is implemented by state machines whose group log can be compacted. Restore is
// called, from the host's loop and before any later entry is applied, when the group's log
// starts after index: the entries up to it are gone (a raft snapshot replaced them), so the
// state machine must bring its state to at least index by other means. It must not block.
type Restorer interface {
	Restore(index uint64)
}

// Envelope is a raft message addressed to one group.
type Envelope struct {
	Group GroupID
	Msg   *pb.Message
}

// Transport carries raft messages between nodes. Send must not block; lost messages are
// fine (raft retries).
type Transport interface {
	Send(to uint64, msgs []Envelope)
}

// Config configures a host.
type Config struct {
	NodeID    uint64
	DB        *storage.DB
	Transport Transport
	Logger    *slog.Logger
	// TickInterval is the raft tick; elections take ElectionTicks ticks (randomised up to 2x).
	TickInterval  time.Duration
	ElectionTicks int
}

// ErrStopped is returned for operations on a stopped host.
var ErrStopped = errors.New("multiraft: host stopped")

// Host runs the raft groups of one node.
type Host struct {
	cfg    Config
	logger *slog.Logger

	mu     sync.Mutex
	groups map[GroupID]*Group
	nudge  chan struct{}
	stop   chan struct{}
	done   chan struct{}
	// startOnce runs the loop once; Stop on a host never started has no loop to wait for
	// (a node whose start failed before its cluster did).
	startOnce sync.Once
}

// Group is one raft group on this node.
type Group struct {
	id      GroupID
	host    *Host
	rn      *raft.RawNode
	storage *logStore
	sm      StateMachine
	// leader/term last reported to the state machine.
	leader, term uint64
	// onConfChange is told about applied membership changes (to learn peer addresses).
	onConfChange func(cc pb.ConfChangeI)
	// confs is the membership in force from each index on, oldest first: a compaction's
	// snapshot must carry the membership as of its own index. Only the host loop touches it.
	confs []confAt
	// compactTo is the highest position the state machine allows the log to be compacted to.
	compactTo uint64
}

type confAt struct {
	index uint64
	cs    *pb.ConfState
}

// NewHost creates a host; Start runs it.
func NewHost(cfg Config) *Host {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TickInterval == 0 {
		cfg.TickInterval = 50 * time.Millisecond
	}
	if cfg.ElectionTicks == 0 {
		cfg.ElectionTicks = 10
	}
	return &Host{cfg: cfg, logger: cfg.Logger.With("component", "raft"), groups: map[GroupID]*Group{},
		nudge: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// Start runs the host's loop.
func (h *Host) Start() { h.startOnce.Do(func() { go h.loop() }) }

// Stop ends the loop and waits for it.
func (h *Host) Stop() {
	h.startOnce.Do(func() { close(h.done) }) // never started: nothing to wait for
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	<-h.done
}

func (h *Host) wake() {
	select {
	case h.nudge <- struct{}{}:
	default:
	}
}

// groupKey builds the key of a group's persisted raft state.
func groupKey(g GroupID, kind byte, index uint64) []byte {
	k := make([]byte, 0, 14)
	k = append(k, 0x04)
	k = binary.BigEndian.AppendUint32(k, uint32(g))
	k = append(k, kind)
	if kind == 'e' {
		k = binary.BigEndian.AppendUint64(k, index)
	}
	return k
}

const (
	kindEntry     = 'e'
	kindHardState = 'h'
	// kindSnapshot holds the raft snapshot (metadata only) at the log's compaction point.
	kindSnapshot = 's'
)

// HasState reports whether this node holds raft state for the group (it was a member before).
func (h *Host) HasState(id GroupID) (bool, error) {
	_, ok, err := storage.GetCopy(h.cfg.DB, groupKey(id, kindHardState, 0))
	return ok, err
}

// OpenGroup opens a group. A group with stored state restarts from it; otherwise, with peers
// given, it is created with those voters; with none, it waits to be contacted by the leader
// of a group that added this node.
func (h *Host) OpenGroup(id GroupID, peers []uint64, sm StateMachine, onConfChange func(pb.ConfChangeI)) (*Group, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if g, ok := h.groups[id]; ok {
		return g, nil
	}
	ms := newLogStore(h.cfg.DB, id)
	hasState, err := h.load(id, ms)
	if err != nil {
		return nil, err
	}
	var confs []confAt
	if snap, _ := ms.Snapshot(); !raft.IsEmptySnap(snap) {
		confs = []confAt{{snap.Metadata.GetIndex(), cloneConfState(snap.Metadata.ConfState)}}
	}
	rc := &raft.Config{
		ID:                        h.cfg.NodeID,
		ElectionTick:              h.cfg.ElectionTicks,
		HeartbeatTick:             1,
		Storage:                   ms,
		MaxSizePerMsg:             1 << 20,
		MaxInflightMsgs:           256,
		MaxUncommittedEntriesSize: 64 << 20,
		CheckQuorum:               true,
		PreVote:                   true,
		Logger:                    quietRaftLogger{h.logger},
	}
	rn, err := raft.NewRawNode(rc)
	if err != nil {
		return nil, fmt.Errorf("multiraft: group %d: %w", id, err)
	}
	if !hasState && len(peers) > 0 {
		rp := make([]raft.Peer, len(peers))
		for i, p := range peers {
			rp[i] = raft.Peer{ID: p}
		}
		if err := rn.Bootstrap(rp); err != nil {
			return nil, fmt.Errorf("multiraft: bootstrap group %d: %w", id, err)
		}
	}
	g := &Group{id: id, host: h, rn: rn, storage: ms, sm: sm, onConfChange: onConfChange, confs: confs}
	h.groups[id] = g
	h.wake()
	return g, nil
}

// load reads a group's persisted hard state, compaction snapshot and newest entries into ms
// (raft reads older entries from disk when it needs them).
func (h *Host) load(id GroupID, ms *logStore) (bool, error) {
	v, ok, err := storage.GetCopy(h.cfg.DB, groupKey(id, kindHardState, 0))
	if err != nil || !ok {
		return false, err
	}
	var hs pb.HardState
	if err := proto.Unmarshal(v, &hs); err != nil {
		return false, fmt.Errorf("multiraft: group %d: corrupt hard state: %w", id, err)
	}
	var snapIndex uint64
	if v, ok, err := storage.GetCopy(h.cfg.DB, groupKey(id, kindSnapshot, 0)); err != nil {
		return false, err
	} else if ok {
		snap := &pb.Snapshot{}
		if err := proto.Unmarshal(v, snap); err != nil {
			return false, fmt.Errorf("multiraft: group %d: corrupt snapshot: %w", id, err)
		}
		if err := ms.ApplySnapshot(snap); err != nil {
			return false, fmt.Errorf("multiraft: group %d: snapshot: %w", id, err)
		}
		snapIndex = snap.Metadata.GetIndex()
	}
	prefix := groupKey(id, kindEntry, 0)[:6]
	it, err := h.cfg.DB.NewIter(&pebble.IterOptions{LowerBound: groupKey(id, kindEntry, snapIndex+1), UpperBound: storage.TablePrefixEnd(prefix)})
	if err != nil {
		return false, err
	}
	defer it.Close()
	// Walk back over the newest entries to keep in memory.
	var tail []*pb.Entry
	for ok := it.Last(); ok && len(tail) < memKeepEntries; ok = it.Prev() {
		e := &pb.Entry{}
		if err := proto.Unmarshal(it.Value(), e); err != nil {
			return false, fmt.Errorf("multiraft: group %d: corrupt entry: %w", id, err)
		}
		tail = append(tail, e)
	}
	if err := it.Error(); err != nil {
		return false, err
	}
	slices.Reverse(tail)
	if len(tail) > 0 && tail[0].GetIndex() > snapIndex+1 {
		before := tail[0].GetIndex() - 1
		term, err := ms.Term(before)
		if err != nil {
			return false, fmt.Errorf("multiraft: group %d: entry %d: %w", id, before, err)
		}
		if err := ms.resetMemory(before, term); err != nil {
			return false, err
		}
	}
	if err := ms.Append(tail); err != nil {
		return false, err
	}
	ms.SetHardState(&hs)
	return true, nil
}

// Step hands received messages to their groups. Messages for groups not open here are dropped.
func (h *Host) Step(envs []Envelope) {
	h.mu.Lock()
	for _, e := range envs {
		if g, ok := h.groups[e.Group]; ok {
			clampHeartbeat(g, e.Msg)
			_ = g.rn.Step(e.Msg)
		}
	}
	h.mu.Unlock()
	h.wake()
}

// clampHeartbeat lowers the commit index a heartbeat carries to what this node has stored. A
// leader that still remembers the progress of a node whose disk was wiped sends it a commit
// index beyond its (empty) log, which raft treats as corruption; clamped, the node just
// reports itself behind and the leader sends it the log from the start.
func clampHeartbeat(g *Group, m *pb.Message) {
	if m.GetType() != pb.MessageType_MsgHeartbeat {
		return
	}
	if last, err := g.storage.LastIndex(); err == nil && m.GetCommit() > last {
		m.Commit = &last
	}
}

// ErrDropped is returned when raft refused a proposal (no leader known, or the group is
// changing leaders); the caller may retry.
var ErrDropped = raft.ErrProposalDropped

// Propose proposes data; it is committed (or lost) later, as the state machine observes.
func (g *Group) Propose(data []byte) error {
	g.host.mu.Lock()
	err := g.rn.Propose(data)
	g.host.mu.Unlock()
	g.host.wake()
	return err
}

// ProposeConfChange proposes a membership change.
func (g *Group) ProposeConfChange(cc pb.ConfChangeI) error {
	g.host.mu.Lock()
	err := g.rn.ProposeConfChange(cc)
	g.host.mu.Unlock()
	g.host.wake()
	return err
}

// TransferLeadership asks the leader to hand over to another voter.
func (g *Group) TransferLeadership(to uint64) {
	g.host.mu.Lock()
	g.rn.TransferLeader(to)
	g.host.mu.Unlock()
	g.host.wake()
}

// Status is a copy of the group's raft status.
func (g *Group) Status() raft.Status {
	g.host.mu.Lock()
	defer g.host.mu.Unlock()
	return g.rn.Status()
}

// Entries returns stored entries with index in [lo, hi).
func (g *Group) Entries(lo, hi uint64) ([]*pb.Entry, error) {
	return g.storage.Entries(lo, hi, 64<<20)
}

// LastIndex is the index of the last stored entry.
func (g *Group) LastIndex() uint64 {
	i, _ := g.storage.LastIndex()
	return i
}

type groupReady struct {
	g  *Group
	rd raft.Ready
}

func (h *Host) loop() {
	defer close(h.done)
	ticker := time.NewTicker(h.cfg.TickInterval)
	defer ticker.Stop()
	for {
		tick := false
		select {
		case <-h.stop:
			return
		case <-ticker.C:
			tick = true
		case <-h.nudge:
		}
		h.mu.Lock()
		var readies []groupReady
		for _, g := range h.groups {
			if tick {
				g.rn.Tick()
			}
			if g.rn.HasReady() {
				readies = append(readies, groupReady{g, g.rn.Ready()})
			}
		}
		h.mu.Unlock()
		if len(readies) == 0 {
			if tick {
				h.compactGroups()
			}
			continue
		}
		if err := h.persist(readies); err != nil {
			h.logger.Error("persisting raft state failed; stopping the raft loop", "err", err)
			return
		}
		h.send(readies)
		h.apply(readies)
		h.mu.Lock()
		for _, r := range readies {
			r.g.rn.Advance(r.rd)
			if r.g.rn.HasReady() {
				h.wake()
			}
		}
		h.mu.Unlock()
		for _, r := range readies {
			if n := len(r.rd.CommittedEntries); n > 0 {
				r.g.storage.boundMemory(r.rd.CommittedEntries[n-1].GetIndex())
			}
		}
		if tick {
			h.compactGroups()
		}
	}
}

// persist writes every group's new entries and hard state in one synced batch, then appends
// them to the in-memory storages.
func (h *Host) persist(readies []groupReady) error {
	b := h.cfg.DB.NewBatch()
	defer b.Close()
	dirty := false
	for _, r := range readies {
		if !raft.IsEmptySnap(r.rd.Snapshot) {
			// A snapshot from the leader replaces this member's whole log.
			v, err := proto.Marshal(r.rd.Snapshot)
			if err != nil {
				return err
			}
			_ = b.Set(groupKey(r.g.id, kindSnapshot, 0), v, nil)
			_ = b.DeleteRange(groupKey(r.g.id, kindEntry, 0), groupKey(r.g.id, kindEntry, ^uint64(0)), nil)
			dirty = true
		}
		if len(r.rd.Entries) > 0 {
			first := r.rd.Entries[0].GetIndex()
			// A new entry replaces any stored one at or after its index (a log conflict, rare).
			// Appending past the end needs no deletion, and range tombstones are costly.
			if last, _ := r.g.storage.LastIndex(); first <= last {
				_ = b.DeleteRange(groupKey(r.g.id, kindEntry, first), groupKey(r.g.id, kindEntry, last+1), nil)
			}
			for _, e := range r.rd.Entries {
				v, err := proto.Marshal(e)
				if err != nil {
					return err
				}
				_ = b.Set(groupKey(r.g.id, kindEntry, e.GetIndex()), v, nil)
			}
			dirty = true
		}
		if !raft.IsEmptyHardState(r.rd.HardState) {
			v, err := proto.Marshal(r.rd.HardState)
			if err != nil {
				return err
			}
			_ = b.Set(groupKey(r.g.id, kindHardState, 0), v, nil)
			dirty = true
		}
	}
	if dirty {
		if err := h.cfg.DB.CommitSynced("raft", b); err != nil {
			return err
		}
	}
	for _, r := range readies {
		if !raft.IsEmptySnap(r.rd.Snapshot) {
			if err := r.g.storage.ApplySnapshot(r.rd.Snapshot); err != nil {
				return err
			}
		}
		if len(r.rd.Entries) > 0 {
			if err := r.g.storage.Append(r.rd.Entries); err != nil {
				return err
			}
		}
		if !raft.IsEmptyHardState(r.rd.HardState) {
			r.g.storage.SetHardState(r.rd.HardState)
		}
	}
	return nil
}

func (h *Host) send(readies []groupReady) {
	if h.cfg.Transport == nil {
		return
	}
	out := map[uint64][]Envelope{}
	for _, r := range readies {
		for _, m := range r.rd.Messages {
			out[m.GetTo()] = append(out[m.GetTo()], Envelope{Group: r.g.id, Msg: m})
		}
	}
	for to, envs := range out {
		h.cfg.Transport.Send(to, envs)
	}
	// The transport does not confirm delivery. Reporting a snapshot as sent right away puts
	// the follower back into probing: if the snapshot was lost, the follower rejects the next
	// append and the leader sends the snapshot again, instead of waiting for it forever.
	for _, r := range readies {
		for _, m := range r.rd.Messages {
			if m.GetType() == pb.MessageType_MsgSnap {
				h.mu.Lock()
				r.g.rn.ReportSnapshot(m.GetTo(), raft.SnapshotFinish)
				h.mu.Unlock()
			}
		}
	}
}

func (h *Host) apply(readies []groupReady) {
	for _, r := range readies {
		g := r.g
		if snap := r.rd.Snapshot; !raft.IsEmptySnap(snap) {
			g.confs = []confAt{{snap.Metadata.GetIndex(), cloneConfState(snap.Metadata.ConfState)}}
			if rs, ok := g.sm.(Restorer); ok {
				rs.Restore(snap.Metadata.GetIndex())
			} else {
				h.logger.Error("group received a snapshot but its state machine cannot restore", "group", g.id)
			}
		}
		var batch []Committed
		for _, e := range r.rd.CommittedEntries {
			switch e.GetType() {
			case pb.EntryType_EntryNormal:
				if len(e.GetData()) > 0 {
					batch = append(batch, Committed{Index: e.GetIndex(), Term: e.GetTerm(), Data: e.GetData()})
				}
			case pb.EntryType_EntryConfChange, pb.EntryType_EntryConfChangeV2:
				if len(batch) > 0 {
					g.sm.Apply(batch)
					batch = nil
				}
				h.applyConfChange(g, e.GetIndex(), e)
			}
		}
		if len(batch) > 0 {
			g.sm.Apply(batch)
		}
		if ss := r.rd.SoftState; ss != nil || r.rd.HardState != nil {
			h.mu.Lock()
			st := g.rn.BasicStatus()
			h.mu.Unlock()
			term := st.HardState.GetTerm()
			if st.Lead != g.leader || term != g.term {
				g.leader, g.term = st.Lead, term
				g.sm.LeaderChanged(st.Lead, term)
			}
		}
	}
}

func (h *Host) applyConfChange(g *Group, index uint64, e *pb.Entry) {
	var cc pb.ConfChangeI
	if e.GetType() == pb.EntryType_EntryConfChange {
		c := &pb.ConfChange{}
		if err := proto.Unmarshal(e.GetData(), c); err != nil {
			h.logger.Error("undecodable conf change", "group", g.id, "err", err)
			return
		}
		cc = c
	} else {
		c := &pb.ConfChangeV2{}
		if err := proto.Unmarshal(e.GetData(), c); err != nil {
			h.logger.Error("undecodable conf change", "group", g.id, "err", err)
			return
		}
		cc = c
	}
	h.mu.Lock()
	cs := g.rn.ApplyConfChange(cc)
	h.mu.Unlock()
	g.confs = append(g.confs, confAt{index, cloneConfState(cs)})
	if g.onConfChange != nil {
		g.onConfChange(cc)
	}
}

// quietRaftLogger sends etcd raft's chatter to debug and its problems to warn.
type quietRaftLogger struct{ l *slog.Logger }

func (q quietRaftLogger) Debug(v ...any)                   {}
func (q quietRaftLogger) Debugf(format string, v ...any)   {}
func (q quietRaftLogger) Info(v ...any)                    {}
func (q quietRaftLogger) Infof(format string, v ...any)    {}
func (q quietRaftLogger) Warning(v ...any)                 { q.l.Warn(fmt.Sprint(v...)) }
func (q quietRaftLogger) Warningf(format string, v ...any) { q.l.Warn(fmt.Sprintf(format, v...)) }
func (q quietRaftLogger) Error(v ...any)                   { q.l.Error(fmt.Sprint(v...)) }
func (q quietRaftLogger) Errorf(format string, v ...any)   { q.l.Error(fmt.Sprintf(format, v...)) }
func (q quietRaftLogger) Fatal(v ...any)                   { panic(fmt.Sprint(v...)) }
func (q quietRaftLogger) Fatalf(format string, v ...any)   { panic(fmt.Sprintf(format, v...)) }
func (q quietRaftLogger) Panic(v ...any)                   { panic(fmt.Sprint(v...)) }
func (q quietRaftLogger) Panicf(format string, v ...any)   { panic(fmt.Sprintf(format, v...)) }

func cloneConfState(cs *pb.ConfState) *pb.ConfState {
	if cs == nil {
		return &pb.ConfState{}
	}
	return proto.Clone(cs).(*pb.ConfState)
}

// Compact allows the group's log to be compacted up to index: the state machine no longer
// needs the entries up to it to rebuild its state. The host compacts at its next tick, never
// past what it applied, and, on the leader, never past what a recently active follower still
// has to receive (a follower behind the compaction point must restore from a snapshot).
func (g *Group) Compact(index uint64) {
	g.host.mu.Lock()
	if index > g.compactTo {
		g.compactTo = index
	}
	g.host.mu.Unlock()
}

// FirstIndex is the index of the first entry the group's log still holds; entries before it
// were compacted away.
func (g *Group) FirstIndex() uint64 {
	i, _ := g.storage.FirstIndex()
	return i
}

// SnapshotIndex is the position the log was compacted to (0 if never).
func (g *Group) SnapshotIndex() uint64 { return g.storage.SnapshotIndex() }

// confStateAt is the membership in force at index.
func (g *Group) confStateAt(index uint64) (*pb.ConfState, bool) {
	var cs *pb.ConfState
	found := false
	for _, c := range g.confs {
		if c.index > index {
			break
		}
		cs, found = c.cs, true
	}
	return cs, found
}

// compactionPoint is where the group's log may be compacted to now (0 = nowhere).
func (g *Group) compactionPoint(self uint64) uint64 {
	g.host.mu.Lock()
	target := g.compactTo
	if target == 0 {
		g.host.mu.Unlock()
		return 0
	}
	st := g.rn.Status()
	g.host.mu.Unlock()
	idx := min(target, st.Applied)
	if st.RaftState == raft.StateLeader {
		for id, pr := range st.Progress {
			if id != self && pr.RecentActive && pr.Match < idx {
				idx = pr.Match
			}
		}
	}
	return idx
}

// compactGroups compacts the logs of groups whose state machines allowed it.
func (h *Host) compactGroups() {
	h.mu.Lock()
	groups := make([]*Group, 0, len(h.groups))
	for _, g := range h.groups {
		// Only groups with something left to compact: this runs every tick.
		if g.compactTo > g.storage.SnapshotIndex() {
			groups = append(groups, g)
		}
	}
	h.mu.Unlock()
	for _, g := range groups {
		if err := h.compact(g); err != nil {
			h.logger.Warn("compacting a raft log failed", "group", g.id, "err", err)
		}
	}
}

func (h *Host) compact(g *Group) error {
	idx := g.compactionPoint(h.cfg.NodeID)
	if idx <= g.SnapshotIndex() {
		return nil
	}
	cs, ok := g.confStateAt(idx)
	if !ok {
		return nil // membership at idx unknown (not replayed yet): wait
	}
	snap, err := g.storage.CreateSnapshot(idx, cs, []byte{snapshotDataVersion})
	if err != nil {
		if errors.Is(err, raft.ErrSnapOutOfDate) {
			return nil
		}
		return err
	}
	v, err := proto.Marshal(snap)
	if err != nil {
		return err
	}
	b := h.cfg.DB.NewBatch()
	defer b.Close()
	_ = b.Set(groupKey(g.id, kindSnapshot, 0), v, nil)
	_ = b.DeleteRange(groupKey(g.id, kindEntry, 0), groupKey(g.id, kindEntry, idx+1), nil)
	// Synced: the state machine's own writes up to idx, which went to the same write-ahead
	// log without a sync, become durable no later than the entries disappear.
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	if err := g.storage.Compact(snap); err != nil {
		return err
	}
	// Memberships before idx are no longer needed, except the one in force at idx.
	for len(g.confs) > 1 && g.confs[1].index <= idx {
		g.confs = g.confs[1:]
	}
	return nil
}

// snapshotDataVersion is the only byte of a compaction snapshot's data: the snapshot carries
// no state, the receiver restores from the partition snapshot repository.
const snapshotDataVersion = 1
