package partition

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/storage"
	"github.com/restatego/restate/internal/wire"
)

// Router delivers records to other partitions' logs (or this one's).
type Router interface {
	// PartitionOf maps a partition key to its partition.
	PartitionOf(pk uint64) uint16
	// Send appends data to partition p's log; done runs once it is durable there.
	Send(p uint16, data []byte, done func(error))
}

// outboxState is the leader's view of messages not yet known to be delivered.
type outboxState struct {
	mu        sync.Mutex
	unacked   map[uint64]bool
	highest   uint64 // highest sequence shipped
	truncated uint64 // highest sequence a truncation was proposed for
	failed    bool   // a send failed: reship everything from storage
}

// sendTo queues a message for partition target in the outbox. The entry is part of the batch
// being applied, so it is exactly as durable as the record that caused it (a replay recreates
// it), and the leader ships it after the batch commits.
func (p *Processor) sendTo(t *txn, target uint16, r *Record) error {
	seq, err := t.metaU64("outseq")
	if err != nil {
		return err
	}
	seq++
	t.putMetaU64("outseq", seq)
	r.DedupSource = uint32(p.id) + 1
	r.DedupSeq = seq
	r.Epoch = 0
	data := r.Encode()
	v := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(data)), target)
	v = append(v, data...)
	_ = t.b.Set(storage.TableKey(p.id, storage.TableOutbox, storage.BE64(seq)), v, nil)
	p.effect(func() { p.ship(seq, target, data) })
	return nil
}

// sendToInvocation queues a message for the partition owning inv.
func (p *Processor) sendToInvocation(t *txn, inv ids.InvocationID, r *Record) error {
	return p.sendTo(t, p.cfg.Router.PartitionOf(inv.PartitionKey), r)
}

func (p *Processor) ship(seq uint64, target uint16, data []byte) {
	o := &p.outbox
	o.mu.Lock()
	if o.unacked == nil {
		o.unacked = map[uint64]bool{}
	}
	o.unacked[seq] = true
	if seq > o.highest {
		o.highest = seq
	}
	o.mu.Unlock()
	p.cfg.Router.Send(target, data, func(err error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if err != nil {
			o.failed = true
			return
		}
		delete(o.unacked, seq)
	})
}

// deliveredUpTo is the highest sequence below which every message was delivered.
func (o *outboxState) deliveredUpTo() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	upTo := o.highest
	for seq := range o.unacked {
		if seq-1 < upTo {
			upTo = seq - 1
		}
	}
	return upTo
}

// tickOutbox runs periodically on the leader: it trims delivered messages from the outbox and
// reships everything after a failed send (receivers drop duplicates by sequence number).
func (p *Processor) tickOutbox() {
	if !p.IsLeader() {
		return
	}
	o := &p.outbox
	o.mu.Lock()
	failed := o.failed
	o.failed = false
	o.mu.Unlock()
	if failed {
		p.reshipOutbox()
		return
	}
	upTo := o.deliveredUpTo()
	o.mu.Lock()
	propose := upTo > o.truncated
	if propose {
		o.truncated = upTo
	}
	o.mu.Unlock()
	if propose {
		p.Propose(&Record{Kind: KindOutboxTruncate, UpTo: upTo}, nil)
	}
}

// reshipOutbox sends every message still in the outbox again, in order.
func (p *Processor) reshipOutbox() {
	prefix := storage.TableKey(p.id, storage.TableOutbox)
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: storage.TablePrefixEnd(prefix)})
	if err != nil {
		p.logger.Error("reading outbox", "err", err)
		return
	}
	defer it.Close()
	o := &p.outbox
	o.mu.Lock()
	o.unacked = map[uint64]bool{}
	o.mu.Unlock()
	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key(), it.Value()
		if len(v) < 2 || len(k) < len(prefix)+8 {
			continue
		}
		seq := binary.BigEndian.Uint64(k[len(prefix):])
		p.ship(seq, binary.BigEndian.Uint16(v), append([]byte{}, v[2:]...))
	}
}

func (p *Processor) applyOutboxTruncate(t *txn, r *Record) error {
	start := storage.TableKey(p.id, storage.TableOutbox)
	end := storage.TableKey(p.id, storage.TableOutbox, storage.BE64(r.UpTo+1))
	return t.b.DeleteRange(start, end, nil)
}

// duplicate reports whether a shipped message was already applied, and records it otherwise.
func (p *Processor) duplicate(t *txn, r *Record) (bool, error) {
	if r.DedupSource == 0 {
		return false, nil
	}
	name := fmt.Sprintf("dedup/%d", r.DedupSource-1)
	last, err := t.metaU64(name)
	if err != nil {
		return false, err
	}
	if r.DedupSeq <= last {
		return true, nil
	}
	t.putMetaU64(name, r.DedupSeq)
	return false, nil
}

// reply answers whoever asked: an ingress or admin request on some node, or an invocation
// (through the outbox, as a completion in its journal).
func (p *Processor) reply(t *txn, sink *Sink, res Result) error {
	if sink == nil {
		return nil
	}
	switch sink.Kind {
	case SinkIngress:
		s := *sink
		respond := func() { p.cfg.Effects.Respond(s, res.InvocationID, res) }
		if s.Node == p.cfg.Node {
			// The request waits on this node: answer it from here whether or not this replica
			// leads, so the answer does not depend on a leader that may die between committing
			// the record and sending the answer over. (The leader sends one too; the first
			// wins.) Replays answer nobody: request ids never repeat across restarts.
			p.afterCommit(respond)
		} else {
			p.effect(respond)
		}
	case SinkInvocation:
		rec := &Record{Kind: KindResponse, Inv: sink.Caller, CompletionID: sink.CompletionID,
			EntryType: sink.NotifyType, CreatedAt: 0}
		switch {
		case res.Status == ReplyNotReady:
			rec.Void = true
		case res.Status == ReplyNotFound:
			rec.Failure = &Failure{Code: 404, Message: "invocation not found"}
		case res.Failure != nil:
			rec.Failure = res.Failure
		default:
			rec.Payload = res.Value
			if rec.Payload == nil {
				rec.Payload = []byte{}
			}
		}
		return p.sendToInvocation(t, sink.Caller, rec)
	}
	return nil
}

// applyResponse appends a completion to a waiting invocation's journal.
func (p *Processor) applyResponse(t *txn, r *Record) error {
	st, err := t.status(r.Inv)
	if err != nil || st == nil || !st.active() {
		return err
	}
	if done, err := p.hasNotification(t, r.Inv, st, wire.CompletionID(r.CompletionID)); err != nil || done {
		return err
	}
	res := wire.ValueResult(r.Payload)
	switch {
	case r.Void:
		res = wire.VoidResult()
	case r.Failure != nil:
		res = r.Failure.Wire()
	}
	typ := wire.MessageType(r.EntryType)
	if !typ.IsNotification() {
		typ = wire.TypeCallCompletion
	}
	p.notify(t, r.Inv, st, wire.NewCompletion(typ, r.CompletionID, res))
	t.putStatus(r.Inv, st)
	return nil
}

// hasNotification reports whether inv's journal already holds a notification with this id.
func (p *Processor) hasNotification(t *txn, inv ids.InvocationID, st *Status, id wire.NotificationID) (bool, error) {
	journal, err := t.journal(inv, st.JournalLen)
	if err != nil {
		return false, err
	}
	for _, e := range journal {
		if !wire.MessageType(e.Type).IsNotification() {
			continue
		}
		var n wire.Notification
		if n.Unmarshal(e.Payload) == nil && n.ID == id {
			return true, nil
		}
	}
	return false, nil
}

// active reports whether the invocation has started and not ended.
func (st *Status) active() bool {
	return st.Phase == PhaseInvoked || st.Phase == PhaseSuspended || st.Phase == PhasePaused
}

var outboxTick = 200 * time.Millisecond
