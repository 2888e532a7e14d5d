// Package log is the per-partition log: the ordered, durable sequence of records that a
// partition's state machine applies. Appends from every partition on a node are group-committed:
// one batch and one fsync per write cycle, however many partitions and callers took part.
//
// A record is acknowledged only once it is durable. Committed records are pushed, in order, to
// the partition's consumer (its processor); the consumer can also read older records back.
package log

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/restatego/restate/internal/metrics"
	"github.com/restatego/restate/internal/storage"
)

// MaxRecordSize bounds one record; larger appends fail at once.
const MaxRecordSize = 32 << 20

// maxPending bounds the appends waiting for the next write cycle; callers block beyond it.
const maxPending = 1 << 16

// ErrClosed is returned for appends after Close.
var ErrClosed = errors.New("log: closed")

// Entry is one committed record.
type Entry struct {
	LSN  uint64
	Data []byte
	// Restore marks, instead of a record, a gap: the log no longer holds the records up to
	// LSN (it was trimmed). A consumer whose state is older must first restore a snapshot of
	// the partition taken at LSN or later.
	Restore bool
}

// Consumer receives committed entries of one partition in lsn order. It runs on the log's
// writer goroutine and must not block.
type Consumer func(entries []Entry)

// Log is what partitions need from a log implementation.
type Log interface {
	// Append appends data to partition p's log; done runs once the record is durable (or failed).
	Append(p uint16, data []byte, done func(lsn uint64, err error))
	// Read returns committed entries with lsn >= from, at most max of them.
	Read(p uint16, from uint64, max int) ([]Entry, error)
	// Tail is the lsn of the last committed entry (0 for an empty log).
	Tail(p uint16) uint64
	// Subscribe sets the consumer of p's committed entries.
	Subscribe(p uint16, c Consumer)
	Close() error
}

type pendingAppend struct {
	p    uint16
	data []byte
	done func(uint64, error)
}

// Local is a single-node log stored in the node's Pebble database.
type Local struct {
	db *storage.DB

	mu        sync.Mutex
	cond      *sync.Cond
	pending   []pendingAppend
	closed    bool
	failed    error
	tails     map[uint16]uint64
	consumers map[uint16]Consumer

	writerDone chan struct{}
}

// OpenLocal opens the local log for the given partitions, recovering each tail from disk.
func OpenLocal(db *storage.DB, partitions uint16) (*Local, error) {
	l := &Local{
		db:         db,
		tails:      make(map[uint16]uint64),
		consumers:  make(map[uint16]Consumer),
		writerDone: make(chan struct{}),
	}
	l.cond = sync.NewCond(&l.mu)
	for p := uint16(0); p < partitions; p++ {
		tail, err := l.readTail(p)
		if err != nil {
			return nil, err
		}
		l.tails[p] = tail
	}
	go l.writer()
	return l, nil
}

func (l *Local) readTail(p uint16) (uint64, error) {
	start, end := storage.LogSpan(p)
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if it.Last() {
		return storage.LSNFromLogKey(it.Key()), nil
	}
	// An empty log may still have been trimmed: the trim point is kept as a marker.
	v, ok, err := storage.GetCopy(l.db, storage.MetaKey(fmt.Sprintf("log-trim/%d", p)))
	if err != nil || !ok || len(v) != 8 {
		return 0, err
	}
	return beUint64(v), nil
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, x := range b[:8] {
		v = v<<8 | uint64(x)
	}
	return v
}

func (l *Local) Append(p uint16, data []byte, done func(uint64, error)) {
	if len(data) > MaxRecordSize {
		if done != nil {
			done(0, fmt.Errorf("log: record of %d bytes exceeds the limit of %d", len(data), MaxRecordSize))
		}
		return
	}
	l.mu.Lock()
	for len(l.pending) >= maxPending && !l.closed {
		l.cond.Wait()
	}
	if l.closed || l.failed != nil {
		err := l.failed
		if err == nil {
			err = ErrClosed
		}
		l.mu.Unlock()
		if done != nil {
			done(0, err)
		}
		return
	}
	l.pending = append(l.pending, pendingAppend{p: p, data: data, done: done})
	l.mu.Unlock()
	l.cond.Broadcast()
}

func (l *Local) Tail(p uint16) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tails[p]
}

func (l *Local) Subscribe(p uint16, c Consumer) {
	l.mu.Lock()
	l.consumers[p] = c
	l.mu.Unlock()
}

func (l *Local) Read(p uint16, from uint64, max int) ([]Entry, error) {
	_, end := storage.LogSpan(p)
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: storage.LogKey(p, from), UpperBound: end})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []Entry
	for ok := it.First(); ok && len(out) < max; ok = it.Next() {
		out = append(out, Entry{LSN: storage.LSNFromLogKey(it.Key()), Data: append([]byte{}, it.Value()...)})
	}
	return out, it.Error()
}

// TrimPoint is the lsn partition p's log was trimmed to (0 if never).
func (l *Local) TrimPoint(p uint16) uint64 {
	v, ok, err := storage.GetCopy(l.db, storage.MetaKey(fmt.Sprintf("log-trim/%d", p)))
	if err != nil || !ok || len(v) != 8 {
		return 0
	}
	return beUint64(v)
}

// TrimPrefix deletes records with lsn <= upTo. The trim point never moves back: a restarted
// log continues after it, so lowering it (an older snapshot's lsn) could reuse positions.
func (l *Local) TrimPrefix(p uint16, upTo uint64) error {
	if upTo <= l.TrimPoint(p) {
		return nil
	}
	start, _ := storage.LogSpan(p)
	b := l.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(start, storage.LogKey(p, upTo+1), nil); err != nil {
		return err
	}
	if err := b.Set(storage.MetaKey(fmt.Sprintf("log-trim/%d", p)), storage.BE64(upTo), nil); err != nil {
		return err
	}
	return b.Commit(pebble.Sync)
}

func (l *Local) writer() {
	defer close(l.writerDone)
	for {
		l.mu.Lock()
		for len(l.pending) == 0 && !l.closed {
			l.cond.Wait()
		}
		if len(l.pending) == 0 && l.closed {
			l.mu.Unlock()
			return
		}
		batch := l.pending
		l.pending = nil
		// Assign lsns under the lock so Tail never runs ahead of what is durable: tails are
		// published only after the commit below.
		next := make(map[uint16]uint64, 8)
		for _, a := range batch {
			if _, ok := next[a.p]; !ok {
				next[a.p] = l.tails[a.p]
			}
		}
		l.mu.Unlock()
		l.cond.Broadcast()

		lsns := make([]uint64, len(batch))
		b := l.db.NewBatch()
		for i, a := range batch {
			next[a.p]++
			lsns[i] = next[a.p]
			_ = b.Set(storage.LogKey(a.p, lsns[i]), a.data, nil)
		}
		// One group commit is one write batch: how many appends and bytes it carries tells
		// how well batching works under the current load.
		metrics.LocalLogAppends.WithLabelValues().Add(float64(len(batch)))
		metrics.LocalLogBatchCount.WithLabelValues().Observe(float64(len(batch)))
		metrics.LocalLogBatchBytes.WithLabelValues().Observe(float64(b.Len()))
		metrics.LogServerBatchBytes.WithLabelValues().Observe(float64(b.Len()))
		start := time.Now()
		err := l.db.CommitSynced("log", b)
		metrics.LogStoreDuration.WithLabelValues().Observe(time.Since(start).Seconds())
		b.Close()

		l.mu.Lock()
		if err != nil {
			l.failed = fmt.Errorf("log: write failed, refusing further appends: %w", err)
			l.mu.Unlock()
			for _, a := range batch {
				if a.done != nil {
					a.done(0, l.failed)
				}
			}
			continue
		}
		for p, t := range next {
			l.tails[p] = t
		}
		consumers := make(map[uint16]Consumer, len(next))
		for p := range next {
			consumers[p] = l.consumers[p]
		}
		l.mu.Unlock()

		// Hand each partition its entries in order, then acknowledge the appenders.
		perPartition := make(map[uint16][]Entry, len(next))
		for i, a := range batch {
			perPartition[a.p] = append(perPartition[a.p], Entry{LSN: lsns[i], Data: a.data})
		}
		for p, entries := range perPartition {
			if c := consumers[p]; c != nil {
				c(entries)
			}
		}
		for i, a := range batch {
			if a.done != nil {
				a.done(lsns[i], nil)
			}
		}
	}
}

func (l *Local) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.cond.Broadcast()
	<-l.writerDone
	return nil
}
