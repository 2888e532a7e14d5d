package partition

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/storage"
)

// Entry is one stored journal entry: the protocol message type and its payload, exactly as
// the deployment sent it (commands) or as we encoded it (input, notifications).
type Entry struct {
	Type    uint16
	Payload []byte
}

// StateEntry is one key of an object's state.
type StateEntry struct {
	Key, Value []byte
}

// reader reads a partition's tables from a pebble reader (the DB, a snapshot or a batch).
type reader struct {
	p uint16
	r pebble.Reader
}

func invKey(inv ids.InvocationID) []byte {
	b := inv.Bytes()
	return b[:]
}

func (rd reader) status(inv ids.InvocationID) (*Status, error) {
	v, ok, err := storage.GetCopy(rd.r, storage.TableKey(rd.p, storage.TableStatus, invKey(inv)))
	if err != nil || !ok {
		return nil, err
	}
	return decodeStatus(v)
}

func (rd reader) journal(inv ids.InvocationID, n uint32) ([]Entry, error) {
	prefix := storage.TableKey(rd.p, storage.TableJournal, invKey(inv))
	it, err := rd.r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: storage.TablePrefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := make([]Entry, 0, n)
	for ok := it.First(); ok; ok = it.Next() {
		v := it.Value()
		if len(v) < 2 {
			return nil, fmt.Errorf("partition: corrupt journal entry of %s", inv)
		}
		out = append(out, Entry{Type: binary.BigEndian.Uint16(v), Payload: append([]byte{}, v[2:]...)})
	}
	return out, it.Error()
}

func stateKeyPrefix(p uint16, service, key string) []byte {
	return storage.ObjectPrefix(p, storage.TableState, service, key)
}

func (rd reader) state(service, key string) ([]StateEntry, error) {
	prefix := stateKeyPrefix(rd.p, service, key)
	it, err := rd.r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: storage.TablePrefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []StateEntry
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, StateEntry{
			Key:   append([]byte{}, it.Key()[len(prefix):]...),
			Value: append([]byte{}, it.Value()...),
		})
	}
	return out, it.Error()
}

func (rd reader) stateValue(service, key string, name []byte) ([]byte, bool, error) {
	return storage.GetCopy(rd.r, append(stateKeyPrefix(rd.p, service, key), name...))
}

func (rd reader) metaU64(name string) (uint64, error) {
	v, ok, err := storage.GetCopy(rd.r, storage.TableKey(rd.p, storage.TableMeta, []byte(name)))
	if err != nil || !ok {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("partition: corrupt meta value %q", name)
	}
	return binary.BigEndian.Uint64(v), nil
}

// txn is the write side used while applying a batch of records.
type txn struct {
	reader
	b   *pebble.Batch
	lsn uint64 // of the record being applied
}

func (t *txn) putStatus(inv ids.InvocationID, s *Status) {
	_ = t.b.Set(storage.TableKey(t.p, storage.TableStatus, invKey(inv)), s.encode(), nil)
}

func (t *txn) deleteStatus(inv ids.InvocationID) {
	_ = t.b.Delete(storage.TableKey(t.p, storage.TableStatus, invKey(inv)), nil)
}

func (t *txn) putEntry(inv ids.InvocationID, index uint32, e Entry) {
	v := make([]byte, 2+len(e.Payload))
	binary.BigEndian.PutUint16(v, e.Type)
	copy(v[2:], e.Payload)
	_ = t.b.Set(storage.TableKey(t.p, storage.TableJournal, invKey(inv), storage.BE32(index)), v, nil)
}

func (t *txn) deleteJournal(inv ids.InvocationID) {
	prefix := storage.TableKey(t.p, storage.TableJournal, invKey(inv))
	_ = t.b.DeleteRange(prefix, storage.TablePrefixEnd(prefix), nil)
}

func (t *txn) setState(service, key string, name, value []byte) {
	_ = t.b.Set(append(stateKeyPrefix(t.p, service, key), name...), value, nil)
}

func (t *txn) clearState(service, key string, name []byte) {
	_ = t.b.Delete(append(stateKeyPrefix(t.p, service, key), name...), nil)
}

func (t *txn) clearAllState(service, key string) {
	prefix := stateKeyPrefix(t.p, service, key)
	_ = t.b.DeleteRange(prefix, storage.TablePrefixEnd(prefix), nil)
}

func (t *txn) putMetaU64(name string, v uint64) {
	_ = t.b.Set(storage.TableKey(t.p, storage.TableMeta, []byte(name)), storage.BE64(v), nil)
}

func lockKey(p uint16, service, key string) []byte {
	return storage.ObjectPrefix(p, storage.TableLock, service, key)
}

func (t *txn) lockHolder(service, key string) (ids.InvocationID, bool, error) {
	v, ok, err := storage.GetCopy(t.b, lockKey(t.p, service, key))
	if err != nil || !ok {
		return ids.InvocationID{}, false, err
	}
	id, err := ids.InvocationIDFromBytes(v)
	return id, err == nil, err
}

func (t *txn) setLock(service, key string, inv ids.InvocationID) {
	_ = t.b.Set(lockKey(t.p, service, key), invKey(inv), nil)
}

func (t *txn) releaseLock(service, key string) {
	_ = t.b.Delete(lockKey(t.p, service, key), nil)
}

func inboxPrefix(p uint16, service, key string) []byte {
	return storage.ObjectPrefix(p, storage.TableInbox, service, key)
}

func (t *txn) pushInbox(service, key string, seq uint64, inv ids.InvocationID) {
	_ = t.b.Set(append(inboxPrefix(t.p, service, key), storage.BE64(seq)...), invKey(inv), nil)
}

func (t *txn) removeInbox(service, key string, seq uint64) {
	_ = t.b.Delete(append(inboxPrefix(t.p, service, key), storage.BE64(seq)...), nil)
}

// popInbox removes and returns the oldest inboxed invocation of an object key.
func (t *txn) popInbox(service, key string) (ids.InvocationID, bool, error) {
	prefix := inboxPrefix(t.p, service, key)
	it, err := t.b.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: storage.TablePrefixEnd(prefix)})
	if err != nil {
		return ids.InvocationID{}, false, err
	}
	defer it.Close()
	if !it.First() {
		return ids.InvocationID{}, false, it.Error()
	}
	id, err := ids.InvocationIDFromBytes(it.Value())
	if err != nil {
		return ids.InvocationID{}, false, err
	}
	_ = t.b.Delete(append([]byte{}, it.Key()...), nil)
	return id, true, nil
}

// Timer kinds.
const (
	timerSleep    byte = 1 // completes a SleepCommand
	timerSchedule byte = 2 // starts a delayed invocation
)

// timerKey orders timers by wake time: table | wake ms | invocation | kind | completion id.
func timerKey(p uint16, wakeMs int64, inv ids.InvocationID, kind byte, cid uint32) []byte {
	return storage.TableKey(p, storage.TableTimer, storage.BE64(uint64(wakeMs)), invKey(inv), []byte{kind}, storage.BE32(cid))
}

type timerRef struct {
	key    []byte
	wakeMs int64
	inv    ids.InvocationID
	kind   byte
	cid    uint32
}

func parseTimerKey(p uint16, k []byte) (timerRef, error) {
	prefix := storage.TableKey(p, storage.TableTimer)
	if len(k) != len(prefix)+8+24+1+4 {
		return timerRef{}, fmt.Errorf("partition: malformed timer key")
	}
	rest := k[len(prefix):]
	inv, err := ids.InvocationIDFromBytes(rest[8:32])
	if err != nil {
		return timerRef{}, err
	}
	return timerRef{
		key:    append([]byte{}, k...),
		wakeMs: int64(binary.BigEndian.Uint64(rest[:8])),
		inv:    inv,
		kind:   rest[32],
		cid:    binary.BigEndian.Uint32(rest[33:]),
	}, nil
}

func expiryKey(p uint16, atMs int64, inv ids.InvocationID) []byte {
	return storage.TableKey(p, storage.TableExpiry, storage.BE64(uint64(atMs)), invKey(inv))
}
