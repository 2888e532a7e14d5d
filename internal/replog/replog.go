// Package replog is the replicated partition log: each partition's log is a raft group
// (internal/multiraft) whose members are the partition's replicas. A record is acknowledged
// once raft committed it, that is once a majority of the replicas stored it durably.
//
// Any member can append: raft forwards proposals to the leader. Every record carries its
// proposer's node id and a sequence number, so the proposer recognises its own records when
// they come back committed and acknowledges the caller with their position.
package replog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/restatego/restate/internal/log"
	"github.com/restatego/restate/internal/multiraft"
)

// ProposalTimeout bounds how long an append may wait for its commit.
var ProposalTimeout = 10 * time.Second

// ErrNotCommitted is returned when an append was not committed in time: the partition has no
// leader or its replicas cannot reach a majority.
var ErrNotCommitted = errors.New("replog: the record was not committed in time (no leader or no majority of replicas reachable)")

const envelopeMagic = 'R'

// LeaderObserver is told when a partition's raft leadership changes on this node.
type LeaderObserver func(p uint16, leader, term uint64)

// Log implements log.Log over raft groups, one per partition this node replicates.
type Log struct {
	host     *multiraft.Host
	self     uint64
	observer LeaderObserver

	mu    sync.Mutex
	parts map[uint16]*partLog
	stop  chan struct{}
}

type pending struct {
	done     func(uint64, error)
	deadline time.Time
}

// partLog is one partition's raft group and its state machine.
type partLog struct {
	l        *Log
	p        uint16
	group    *multiraft.Group
	mu       sync.Mutex
	consumer log.Consumer
	seq      uint64
	pending  map[uint64]pending
	applied  uint64
	leader   uint64
	term     uint64
	buffered []log.Entry // committed entries that arrived before a consumer subscribed
}

// New creates the log; Open adds partitions.
func New(host *multiraft.Host, self uint64, observer LeaderObserver) *Log {
	l := &Log{host: host, self: self, observer: observer, parts: map[uint16]*partLog{}, stop: make(chan struct{})}
	go l.janitor()
	return l
}

// GroupOf is the raft group id of a partition.
func GroupOf(p uint16) multiraft.GroupID { return multiraft.GroupID(p) }

// Open starts (or restarts) replicating partition p. peers are the initial voters when the
// group is created for the first time on this node.
func (l *Log) Open(p uint16, peers []uint64) error {
	pl := &partLog{l: l, p: p, pending: map[uint64]pending{}}
	l.mu.Lock()
	if _, ok := l.parts[p]; ok {
		l.mu.Unlock()
		return nil
	}
	l.parts[p] = pl
	l.mu.Unlock()
	g, err := l.host.OpenGroup(GroupOf(p), peers, pl, nil)
	if err != nil {
		return err
	}
	pl.mu.Lock()
	pl.group = g
	pl.mu.Unlock()
	// A log compacted before this restart starts after its snapshot: tell the consumer, in
	// case its state is older (a crash in the middle of restoring).
	if idx := g.SnapshotIndex(); idx > 0 {
		pl.deliverMarker(idx, true)
	}
	return nil
}

// deliverMarker hands a restore marker to the consumer, or buffers it until one subscribes:
// first (ahead of buffered entries, whose positions it precedes) or last.
func (pl *partLog) deliverMarker(index uint64, first bool) {
	e := log.Entry{LSN: index, Restore: true}
	pl.mu.Lock()
	if index > pl.applied {
		pl.applied = index
	}
	c := pl.consumer
	switch {
	case c != nil:
	case first:
		pl.buffered = append([]log.Entry{e}, pl.buffered...)
	default:
		pl.buffered = append(pl.buffered, e)
	}
	pl.mu.Unlock()
	if c != nil {
		c([]log.Entry{e})
	}
}

// Restore is raft telling that the log now starts after index (a snapshot replaced the
// entries this replica lacked): the consumer must restore its state from a partition snapshot.
func (pl *partLog) Restore(index uint64) { pl.deliverMarker(index, false) }

// Trim lets partition p's log drop its records up to upTo, which a durable snapshot covers.
// Replicas that are still behind keep what they need; see multiraft.Group.Compact.
func (l *Log) Trim(p uint16, upTo uint64) {
	if g := l.Group(p); g != nil {
		g.Compact(upTo)
	}
}

// TrimPoint is the position partition p's log on this node was trimmed to (0 if never).
func (l *Log) TrimPoint(p uint16) uint64 {
	if g := l.Group(p); g != nil {
		return g.SnapshotIndex()
	}
	return 0
}

func (l *Log) part(p uint16) *partLog {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.parts[p]
}

// Has reports whether this node replicates partition p.
func (l *Log) Has(p uint16) bool { return l.part(p) != nil }

// Append proposes a record; done runs once it is committed, or when it fails.
func (l *Log) Append(p uint16, data []byte, done func(uint64, error)) {
	pl := l.part(p)
	if pl == nil || pl.group == nil {
		if done != nil {
			done(0, fmt.Errorf("replog: partition %d is not replicated on this node", p))
		}
		return
	}
	if len(data) > log.MaxRecordSize {
		if done != nil {
			done(0, fmt.Errorf("replog: record of %d bytes exceeds the limit of %d", len(data), log.MaxRecordSize))
		}
		return
	}
	pl.mu.Lock()
	pl.seq++
	seq := pl.seq
	if done != nil {
		pl.pending[seq] = pending{done: done, deadline: time.Now().Add(ProposalTimeout)}
	}
	pl.mu.Unlock()
	env := make([]byte, 0, 17+len(data))
	env = append(env, envelopeMagic)
	env = binary.BigEndian.AppendUint64(env, l.self)
	env = binary.BigEndian.AppendUint64(env, seq)
	env = append(env, data...)
	if err := pl.group.Propose(env); err != nil {
		pl.fail(seq, fmt.Errorf("replog: partition %d: %w", p, err))
	}
}

func (pl *partLog) fail(seq uint64, err error) {
	pl.mu.Lock()
	pd, ok := pl.pending[seq]
	delete(pl.pending, seq)
	pl.mu.Unlock()
	if ok {
		pd.done(0, err)
	}
}

func decodeEnvelope(b []byte) (origin, seq uint64, data []byte, ok bool) {
	if len(b) < 17 || b[0] != envelopeMagic {
		return 0, 0, nil, false
	}
	return binary.BigEndian.Uint64(b[1:]), binary.BigEndian.Uint64(b[9:]), b[17:], true
}

// Apply receives committed entries from raft.
func (pl *partLog) Apply(entries []multiraft.Committed) {
	out := make([]log.Entry, 0, len(entries))
	type ack struct {
		done func(uint64, error)
		lsn  uint64
	}
	var acks []ack
	pl.mu.Lock()
	for _, e := range entries {
		origin, seq, data, ok := decodeEnvelope(e.Data)
		if !ok {
			continue
		}
		out = append(out, log.Entry{LSN: e.Index, Data: data})
		if origin == pl.l.self {
			if pd, ok := pl.pending[seq]; ok {
				delete(pl.pending, seq)
				acks = append(acks, ack{pd.done, e.Index})
			}
		}
		pl.applied = e.Index
	}
	c := pl.consumer
	if c == nil {
		pl.buffered = append(pl.buffered, out...)
	}
	pl.mu.Unlock()
	if c != nil && len(out) > 0 {
		c(out)
	}
	for _, a := range acks {
		a.done(a.lsn, nil)
	}
}

// ErrLeaderChanged is returned for appends in flight when the partition's leader changed:
// they may or may not commit. Callers retry records that are safe to repeat.
var ErrLeaderChanged = errors.New("replog: the partition's leader changed while the record was in flight")

// LeaderChanged receives raft leadership changes.
func (pl *partLog) LeaderChanged(leader, term uint64) {
	pl.mu.Lock()
	changed := leader != pl.leader
	pl.leader, pl.term = leader, term
	var orphaned []func(uint64, error)
	if changed {
		for seq, pd := range pl.pending {
			orphaned = append(orphaned, pd.done)
			delete(pl.pending, seq)
		}
	}
	pl.mu.Unlock()
	for _, done := range orphaned {
		done(0, ErrLeaderChanged)
	}
	if pl.l.observer != nil {
		pl.l.observer(pl.p, leader, term)
	}
}

// Leader returns the leader and term this node knows for partition p.
func (l *Log) Leader(p uint16) (leader, term uint64) {
	pl := l.part(p)
	if pl == nil {
		return 0, 0
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.leader, pl.term
}

// Group returns partition p's raft group (nil if not replicated here).
func (l *Log) Group(p uint16) *multiraft.Group {
	pl := l.part(p)
	if pl == nil {
		return nil
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.group
}

// Read returns nothing: committed records reach the consumer through raft, which delivers
// every committed entry again when a node restarts, and the processor skips what it applied.
func (l *Log) Read(p uint16, from uint64, max int) ([]log.Entry, error) { return nil, nil }

// Tail is the last committed position delivered on this node.
func (l *Log) Tail(p uint16) uint64 {
	pl := l.part(p)
	if pl == nil {
		return 0
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.applied
}

// Subscribe sets the consumer of p's committed records; records committed before it get
// delivered to it first.
func (l *Log) Subscribe(p uint16, c log.Consumer) {
	pl := l.part(p)
	if pl == nil {
		return
	}
	pl.mu.Lock()
	buffered := pl.buffered
	pl.buffered = nil
	pl.consumer = c
	if len(buffered) > 0 {
		c(buffered)
	}
	pl.mu.Unlock()
}

// Close fails every pending append.
func (l *Log) Close() error {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.mu.Lock()
	parts := make([]*partLog, 0, len(l.parts))
	for _, pl := range l.parts {
		parts = append(parts, pl)
	}
	l.mu.Unlock()
	for _, pl := range parts {
		pl.mu.Lock()
		pend := pl.pending
		pl.pending = map[uint64]pending{}
		pl.mu.Unlock()
		for _, pd := range pend {
			pd.done(0, log.ErrClosed)
		}
	}
	return nil
}

// janitor fails appends that were not committed in time (lost in a leader change, or no
// majority reachable), so callers never wait forever.
func (l *Log) janitor() {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case now := <-t.C:
			l.mu.Lock()
			parts := make([]*partLog, 0, len(l.parts))
			for _, pl := range l.parts {
				parts = append(parts, pl)
			}
			l.mu.Unlock()
			for _, pl := range parts {
				var expired []func(uint64, error)
				pl.mu.Lock()
				for seq, pd := range pl.pending {
					if now.After(pd.deadline) {
						expired = append(expired, pd.done)
						delete(pl.pending, seq)
					}
				}
				pl.mu.Unlock()
				for _, done := range expired {
					done(0, ErrNotCommitted)
				}
			}
		}
	}
}
