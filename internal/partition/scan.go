package partition

import (
	"github.com/cockroachdb/pebble/v2"
	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/storage"
)

// Read-only scans of a partition's committed tables, for introspection (the admin API's SQL
// tables). They read a consistent snapshot and never block the processor.

// ScanInvocations calls fn for every stored invocation until fn returns false.
func (p *Processor) ScanInvocations(fn func(inv ids.InvocationID, st *Status) bool) error {
	snap := p.db.NewSnapshot()
	defer snap.Close()
	prefix := storage.TableKey(p.id, storage.TableStatus)
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: storage.TablePrefixEnd(prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		inv, err := ids.InvocationIDFromBytes(it.Key()[len(prefix):])
		if err != nil {
			return err
		}
		st, err := decodeStatus(it.Value())
		if err != nil {
			return err
		}
		if !fn(inv, st) {
			break
		}
	}
	return it.Error()
}

// ScanState calls fn for every state entry of every object in the partition.
func (p *Processor) ScanState(fn func(service, key string, name, value []byte) bool) error {
	snap := p.db.NewSnapshot()
	defer snap.Close()
	prefix := storage.TableKey(p.id, storage.TableState)
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: storage.TablePrefixEnd(prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		service, key, name, valid := storage.CutObjectPrefix(it.Key()[len(prefix):])
		if !valid {
			continue
		}
		if !fn(service, key, append([]byte{}, name...), append([]byte{}, it.Value()...)) {
			break
		}
	}
	return it.Error()
}

// ReadJournal returns an invocation's stored journal (empty when none is kept).
func (p *Processor) ReadJournal(inv ids.InvocationID) ([]Entry, error) {
	return reader{p: p.id, r: p.db}.journal(inv, 0)
}
