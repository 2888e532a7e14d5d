// Package partition is the partition processor: a deterministic state machine that applies
// its log's records, in order, to the partition's tables, plus the leader's side of the world
// (handing invocations to the invoker, firing timers, answering ingress callers).
//
// Every replica applies the same records and ends in the same state; only the leader acts on
// what it applied. The leader proposes new records (results from deployments, timer firings)
// stamped with its epoch, and the state machine drops records from deposed leaders.
package partition

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/log"
	"github.com/restatego/restate/internal/metrics"
	"github.com/restatego/restate/internal/storage"
)

// Effects is how the leader acts on the world. Calls come from the processor goroutine after
// the records that caused them are applied and committed; implementations must not block.
type Effects interface {
	// Invoke asks the invoker to run (or resume) an invocation of this partition.
	Invoke(p *Processor, inv ids.InvocationID)
	// Notify hands a newly stored journal entry to a running attempt, if any.
	Notify(inv ids.InvocationID, index uint32, e Entry)
	// Abort stops any running attempt of the invocation.
	Abort(inv ids.InvocationID)
	// Respond delivers an invocation's result to a waiting party.
	Respond(sink Sink, inv ids.InvocationID, res Result)
	// StepDown stops everything the processor started as leader (its running attempts).
	StepDown(p *Processor)
}

// Config configures a processor.
type Config struct {
	ID      uint16
	Node    uint32
	DB      *storage.DB
	Log     log.Log
	Effects Effects
	Router  Router
	Logger  *slog.Logger
	// RaftLeadership makes leadership follow the log's raft leadership (OnLeaderChange)
	// instead of being claimed at start, as a single node does.
	RaftLeadership bool
	// CleanupInterval is how often the leader removes completed invocations whose retention
	// has passed.
	CleanupInterval time.Duration
	// Restore replaces the partition's state with a snapshot taken at minLSN or later, when
	// the log no longer holds the records this replica lacks. Nil: no snapshot repository.
	Restore func(ctx context.Context, p uint16, minLSN uint64) error
	// RestoreWhenEmpty makes a replica that starts without any state try the newest snapshot
	// first (a wiped or newly added replica of a cluster), instead of rebuilding everything
	// from the log. Never for a single node, whose log restarts from the beginning with it.
	RestoreWhenEmpty bool
	// Trim lets the log drop the records up to upTo, which a durable snapshot covers. Every
	// replica calls it when it applies the record announcing a newer snapshot.
	Trim func(p uint16, upTo uint64)
}

// ErrNotLeader is returned for requests that only the leader can serve.
var ErrNotLeader = errors.New("partition: not the leader")

// Processor applies one partition's log.
type Processor struct {
	cfg    Config
	id     uint16
	db     *storage.DB
	log    log.Log
	logger *slog.Logger

	queueMu sync.Mutex
	queue   []log.Entry
	wake    chan struct{}

	applied uint64 // only touched by the run goroutine
	epoch   uint64 // current leader epoch as applied

	leader      atomic.Bool
	leaderEpoch atomic.Uint64 // our epoch while leader
	epochSeen   atomic.Uint64 // epoch as applied, for status readers on other goroutines
	proposed    uint64        // epoch we announced, awaiting apply
	appliedLSN  atomic.Uint64
	timers      timerHeap
	timerArmed  *time.Timer

	effects []func()
	// onCommit runs after the current batch commits, on every replica.
	onCommit []func()
	outbox   outboxState

	runCtx      context.Context
	snapshotLSN atomic.Uint64 // newest snapshot announced in the log
	snapshotAt  atomic.Int64  // when it was taken (unix ms)
	announcedAt atomic.Uint64 // lsn of the record that announced it (0 before one since start)
	trimTarget  atomic.Uint64 // where the log may be trimmed to (the previous snapshot)
	restores    atomic.Uint64 // snapshots this replica restored

	leaderEvents chan leaderEvent
}

type leaderEvent struct{ leader, term uint64 }

// New creates a processor; Run drives it.
func New(cfg Config) *Processor {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.CleanupInterval <= 0 {
		cfg.CleanupInterval = time.Hour
	}
	return &Processor{
		cfg:    cfg,
		id:     cfg.ID,
		db:     cfg.DB,
		log:    cfg.Log,
		logger: cfg.Logger.With("component", "partition", "partition", cfg.ID),
		wake:   make(chan struct{}, 1),

		leaderEvents: make(chan leaderEvent, 256),
	}
}

// idLabel is the partition label of the processor's metrics.
func (p *Processor) idLabel() string { return strconv.Itoa(int(p.id)) }

// ID is the partition id.
func (p *Processor) ID() uint16 { return p.id }

// IsLeader reports whether this processor currently leads its partition.
func (p *Processor) IsLeader() bool { return p.leader.Load() }

// Epoch is the leader epoch of the partition as applied (the epoch of its latest leader).
func (p *Processor) Epoch() uint64 { return p.epochSeen.Load() }

// AppliedLSN is the last applied log position.
func (p *Processor) AppliedLSN() uint64 { return p.appliedLSN.Load() }

// Propose appends a record to the partition's log. Records of the leader's own making carry
// its epoch so a deposed leader's late proposals are dropped.
func (p *Processor) Propose(r *Record, done func(lsn uint64, err error)) {
	if r.CreatedAt == 0 {
		r.CreatedAt = time.Now().UnixMilli()
	}
	if r.Kind != KindInvoke && r.Kind != KindAnnounceLeader && r.Epoch == 0 {
		r.Epoch = p.leaderEpoch.Load()
	}
	p.log.Append(p.id, r.Encode(), done)
}

// Submit proposes and waits until the record is durable.
func (p *Processor) Submit(ctx context.Context, r *Record) error {
	ch := make(chan error, 1)
	p.Propose(r, func(_ uint64, err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Invocation is what the invoker needs to start an attempt.
type Invocation struct {
	Status  *Status
	Journal []Entry
	State   []StateEntry // eager state for keyed targets
}

// ReadInvocation reads an invocation's status, journal and, for keyed targets, its object
// state from committed storage. It returns nil when the invocation is not running any more.
func (p *Processor) ReadInvocation(inv ids.InvocationID, withState bool) (*Invocation, error) {
	snap := p.db.NewSnapshot()
	defer snap.Close()
	rd := reader{p: p.id, r: snap}
	st, err := rd.status(inv)
	if err != nil || st == nil || st.Phase != PhaseInvoked {
		return nil, err
	}
	j, err := rd.journal(inv, st.JournalLen)
	if err != nil {
		return nil, err
	}
	if uint32(len(j)) != st.JournalLen {
		return nil, fmt.Errorf("partition %d: journal of %s has %d entries, status says %d", p.id, inv, len(j), st.JournalLen)
	}
	out := &Invocation{Status: st, Journal: j}
	if withState && st.Target.Keyed() {
		if out.State, err = rd.state(st.Target.Service, st.Target.Key); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ReadStatus reads an invocation's committed status (nil if unknown).
func (p *Processor) ReadStatus(inv ids.InvocationID) (*Status, error) {
	return reader{p: p.id, r: p.db}.status(inv)
}

// ReadState reads one object's state.
func (p *Processor) ReadState(service, key string) ([]StateEntry, error) {
	return reader{p: p.id, r: p.db}.state(service, key)
}

// enqueue is the log consumer: it must not block.
func (p *Processor) enqueue(entries []log.Entry) {
	p.queueMu.Lock()
	p.queue = append(p.queue, entries...)
	p.queueMu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run recovers the partition from its log and applies records until ctx ends.
func (p *Processor) Run(ctx context.Context) error {
	p.runCtx = ctx
	if err := p.loadPosition(); err != nil {
		return err
	}
	if err := p.restoreWhenEmpty(); err != nil {
		return err
	}
	// Subscribe before reading the tail so nothing committed in between is missed; entries
	// seen twice are skipped by lsn.
	p.log.Subscribe(p.id, p.enqueue)
	for {
		entries, err := p.log.Read(p.id, p.applied+1, 1024)
		if err != nil {
			return fmt.Errorf("partition %d: replay: %w", p.id, err)
		}
		if len(entries) == 0 {
			break
		}
		if err := p.applyEntries(entries); err != nil {
			return err
		}
	}
	if !p.cfg.RaftLeadership {
		p.claimLeadership()
	}

	cleanup := time.NewTicker(p.cfg.CleanupInterval)
	defer cleanup.Stop()
	outboxTicker := time.NewTicker(outboxTick)
	defer outboxTicker.Stop()
	for {
		var timerC <-chan time.Time
		if p.timerArmed != nil {
			timerC = p.timerArmed.C
		}
		select {
		case <-ctx.Done():
			p.stepDown()
			return nil
		case <-p.wake:
			p.queueMu.Lock()
			batch := p.queue
			p.queue = nil
			p.queueMu.Unlock()
			if err := p.applyEntries(batch); err != nil {
				if ctx.Err() != nil {
					p.stepDown()
					return nil
				}
				p.logger.Error("apply failed; partition stops", "err", err)
				p.stepDown()
				return err
			}
		case ev := <-p.leaderEvents:
			p.onLeaderEvent(ev)
		case <-timerC:
			p.timerArmed = nil
			p.fireDueTimers()
		case <-outboxTicker.C:
			p.tickOutbox()
		case <-cleanup.C:
			if p.IsLeader() {
				p.Propose(&Record{Kind: KindCleanup}, nil)
			}
		}
	}
}

func (p *Processor) claimLeadership() {
	p.announce(p.epoch + 1)
}

func (p *Processor) announce(epoch uint64) {
	p.proposed = epoch
	p.Propose(&Record{Kind: KindAnnounceLeader, Epoch: epoch, Node: p.cfg.Node}, func(_ uint64, err error) {
		if err != nil {
			p.logger.Warn("announcing leadership failed", "epoch", epoch, "err", err)
		}
	})
}

// OnLeaderChange reports the log's leadership as this node sees it (raft leader and term). It
// must not block: it is called from the raft loop.
func (p *Processor) OnLeaderChange(leader, term uint64) {
	select {
	case p.leaderEvents <- leaderEvent{leader, term}:
	default:
		p.logger.Warn("dropping a leadership event; the processor is not keeping up")
	}
}

// onLeaderEvent claims leadership when raft made this node the leader (the raft term is the
// epoch, so epochs only grow), and stops acting at once when it lost it.
func (p *Processor) onLeaderEvent(ev leaderEvent) {
	if ev.leader == uint64(p.cfg.Node) {
		if ev.term > p.epoch && ev.term != p.proposed {
			p.announce(ev.term)
		}
		return
	}
	p.stepDown()
}

func (p *Processor) stepDown() {
	if p.leader.Swap(false) {
		metrics.PartitionLeaderChanges.WithLabelValues(p.idLabel(), "lost").Inc()
		p.cfg.Effects.StepDown(p)
		p.leaderEpoch.Store(0)
		if p.timerArmed != nil {
			p.timerArmed.Stop()
			p.timerArmed = nil
		}
		p.timers = nil
	}
}

// applyEntries applies records in batches, restoring a snapshot first where the log marks
// a gap this replica's state falls into.
func (p *Processor) applyEntries(entries []log.Entry) error {
	start := 0
	for i, e := range entries {
		if !e.Restore {
			continue
		}
		if err := p.applyBatch(entries[start:i]); err != nil {
			return err
		}
		if err := p.restoreIfBehind(e.LSN); err != nil {
			return err
		}
		start = i + 1
	}
	return p.applyBatch(entries[start:])
}

// applyBatch applies entries in one write batch, commits it without fsync (the log is the
// durable copy; a crash replays from the last applied lsn), then runs the leader's effects.
func (p *Processor) applyBatch(entries []log.Entry) error {
	b := p.db.NewIndexedBatch()
	defer b.Close()
	t := &txn{reader: reader{p: p.id, r: b}, b: b}
	applied := p.applied
	for _, e := range entries {
		if e.LSN <= applied {
			continue
		}
		t.lsn = e.LSN
		r, err := DecodeRecord(e.Data)
		if err != nil {
			// A record we cannot read is skipped loudly rather than wedging the partition.
			p.logger.Error("skipping undecodable record", "lsn", e.LSN, "err", err)
		} else {
			start, leader := time.Now(), metrics.LeaderNo
			if p.leader.Load() {
				leader = metrics.LeaderYes
			}
			if err := p.apply(t, r); err != nil {
				return fmt.Errorf("partition %d: apply %s at lsn %d: %w", p.id, r.Kind, e.LSN, err)
			}
			// Timing is observation only: it never feeds back into what apply decides.
			metrics.PartitionApplyCommand.WithLabelValues(r.Kind.String(), leader).Observe(time.Since(start).Seconds())
		}
		applied = e.LSN
	}
	if applied == p.applied {
		p.effects = p.effects[:0]
		p.onCommit = p.onCommit[:0]
		return nil
	}
	t.putMetaU64("applied", applied)
	t.putMetaU64("epoch", p.epoch)
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("partition %d: commit: %w", p.id, err)
	}
	p.applied = applied
	p.appliedLSN.Store(applied)
	onCommit := p.onCommit
	p.onCommit = nil
	for _, f := range onCommit {
		f()
	}
	effects := p.effects
	p.effects = nil
	for _, f := range effects {
		f()
	}
	return nil
}

// afterCommit queues f to run once the current batch is committed, on leader and followers.
func (p *Processor) afterCommit(f func()) { p.onCommit = append(p.onCommit, f) }

// effect queues a leader action to run after the current batch commits.
func (p *Processor) effect(f func()) {
	if p.leader.Load() {
		p.effects = append(p.effects, f)
	}
}

// ---- timers (leader only) ----

type timerHeap []timerRef

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].wakeMs < h[j].wakeMs }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerRef)) }
func (h *timerHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (p *Processor) addTimer(t timerRef) {
	heap.Push(&p.timers, t)
	p.armTimer()
}

func (p *Processor) armTimer() {
	if len(p.timers) == 0 {
		return
	}
	d := time.Until(time.UnixMilli(p.timers[0].wakeMs))
	if d < 0 {
		d = 0
	}
	if p.timerArmed != nil {
		p.timerArmed.Stop()
	}
	p.timerArmed = time.NewTimer(d)
}

func (p *Processor) fireDueTimers() {
	now := time.Now().UnixMilli()
	for len(p.timers) > 0 && p.timers[0].wakeMs <= now {
		t := heap.Pop(&p.timers).(timerRef)
		p.Propose(&Record{Kind: KindTimerFired, Inv: t.inv, TimerKey: t.key}, nil)
	}
	p.armTimer()
}
