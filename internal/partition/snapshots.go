package partition

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNoSnapshot is what Config.Restore returns when the repository holds no snapshot to
// restore from (as opposed to one it could not read).
var ErrNoSnapshot = errors.New("no snapshot of the partition in the repository")

// emptyRestoreTimeout bounds the optional restore of an empty replica: the log has the same
// records, so an object store that does not answer quickly is not worth waiting for.
const emptyRestoreTimeout = 10 * time.Second

// Snapshot bookkeeping in the partition's meta table. Every replica applies the records
// that announce snapshots, so all of them agree on where the log may be trimmed.
const (
	metaSnapshotLSN  = "snapshot_lsn"  // newest announced snapshot
	metaSnapshotPrev = "snapshot_prev" // the log is trimmed up to here: the one before (or the newest, on request)
	metaSnapshotAt   = "snapshot_at"   // when the newest was taken (unix ms, proposer's clock)
)

// SnapshotLSN is the applied lsn of the newest snapshot announced in the log (0 if none).
func (p *Processor) SnapshotLSN() uint64 { return p.snapshotLSN.Load() }

// SnapshotCreatedAt is when the newest announced snapshot was taken (unix ms; 0 if none).
func (p *Processor) SnapshotCreatedAt() int64 { return p.snapshotAt.Load() }

// SnapshotAnnouncedLSN is where the newest snapshot's announcement sits in the log (0 when
// none was applied since the processor started): records after it are news to a snapshot.
func (p *Processor) SnapshotAnnouncedLSN() uint64 { return p.announcedAt.Load() }

// TrimTarget is the position up to which the log may be trimmed (0 if nowhere yet).
func (p *Processor) TrimTarget() uint64 { return p.trimTarget.Load() }

// Restores counts the snapshots this replica restored since it started.
func (p *Processor) Restores() uint64 { return p.restores.Load() }

// loadPosition reads the applied position, the epoch and the snapshot bookkeeping.
func (p *Processor) loadPosition() error {
	rd := reader{p: p.id, r: p.db}
	var err error
	if p.applied, err = rd.metaU64("applied"); err != nil {
		return err
	}
	if p.epoch, err = rd.metaU64("epoch"); err != nil {
		return err
	}
	p.epochSeen.Store(p.epoch)
	newest, err := rd.metaU64(metaSnapshotLSN)
	if err != nil {
		return err
	}
	prev, err := rd.metaU64(metaSnapshotPrev)
	if err != nil {
		return err
	}
	at, err := rd.metaU64(metaSnapshotAt)
	if err != nil {
		return err
	}
	p.snapshotAt.Store(int64(at))
	p.appliedLSN.Store(p.applied)
	p.snapshotLSN.Store(newest)
	p.trimTo(prev)
	return nil
}

// applySnapshotTaken records a newer snapshot. The log is trimmed up to the previous one,
// not this one: should the newest snapshot turn out unreadable, a replica that has to
// restore can still fall back to the previous snapshot and replay the log from there.
// An operator who asked for it (restatectl snapshots create --trim-log) gets the log trimmed
// up to this one.
func (p *Processor) applySnapshotTaken(t *txn, r *Record) error {
	newest, err := t.metaU64(metaSnapshotLSN)
	if err != nil {
		return err
	}
	if r.UpTo <= newest {
		// A newer snapshot was announced first; a requested trim up to this one still holds.
		prev, err := t.metaU64(metaSnapshotPrev)
		if err != nil || !r.TrimLog || r.UpTo <= prev {
			return err
		}
		t.putMetaU64(metaSnapshotPrev, r.UpTo)
		p.afterCommit(func() { p.trimTo(r.UpTo) })
		return nil
	}
	trimTo := newest
	if r.TrimLog {
		trimTo = r.UpTo
	}
	t.putMetaU64(metaSnapshotLSN, r.UpTo)
	t.putMetaU64(metaSnapshotPrev, trimTo)
	t.putMetaU64(metaSnapshotAt, uint64(r.CreatedAt))
	announced := t.lsn
	p.afterCommit(func() {
		p.announcedAt.Store(announced)
		p.snapshotAt.Store(r.CreatedAt)
		p.snapshotLSN.Store(r.UpTo)
		p.trimTo(trimTo)
	})
	return nil
}

// trimTo lets the log drop the records up to lsn.
func (p *Processor) trimTo(lsn uint64) {
	p.trimTarget.Store(lsn)
	if lsn > 0 && p.cfg.Trim != nil {
		p.cfg.Trim(p.id, lsn)
	}
}

// restoreWhenEmpty gives a replica without any state the newest snapshot, when configured
// to: catching up from it and the log after it is faster than applying the whole log, and
// the log may not even hold the whole history any more. Failure is not fatal here; the log
// still says if the records this replica needs are gone (restoreIfBehind).
func (p *Processor) restoreWhenEmpty() error {
	if p.applied > 0 || !p.cfg.RestoreWhenEmpty || p.cfg.Restore == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(p.runCtx, emptyRestoreTimeout)
	err := p.cfg.Restore(ctx, p.id, 1)
	cancel()
	switch {
	case err == nil:
		if err := p.loadPosition(); err != nil {
			return err
		}
		p.restores.Add(1)
		p.logger.Info("started from a snapshot instead of an empty state", "applied", p.applied)
	case errors.Is(err, ErrNoSnapshot) || p.runCtx.Err() != nil:
	default:
		p.logger.Warn("could not start from a snapshot; rebuilding the state from the log", "err", err)
	}
	return nil
}

// restoreIfBehind brings the state to at least lsn from the snapshot repository, when the
// log told us it no longer holds the records up to lsn and our state is older. It retries
// until it succeeds or the processor stops: the partition cannot make progress without it.
func (p *Processor) restoreIfBehind(lsn uint64) error {
	if p.applied >= lsn {
		return nil
	}
	p.stepDown()
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		var err error
		if p.cfg.Restore == nil {
			err = fmt.Errorf("the log was trimmed at lsn %d, beyond this replica's state at %d, but no snapshot repository is configured (worker.snapshots.destination)", lsn, p.applied)
		} else {
			err = p.cfg.Restore(p.runCtx, p.id, lsn)
		}
		if err == nil {
			if err := p.loadPosition(); err != nil {
				return err
			}
			if p.applied >= lsn {
				p.restores.Add(1)
				p.logger.Info("restored the partition from a snapshot", "applied", p.applied, "needed", lsn)
				return nil
			}
			err = fmt.Errorf("the restored snapshot is at lsn %d, older than the log's start %d", p.applied, lsn)
		}
		p.logger.Error("restoring the partition from a snapshot failed; retrying", "attempt", attempt, "needed", lsn, "err", err, "retry_in", backoff)
		select {
		case <-p.runCtx.Done():
			return p.runCtx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}
