package multiraft

import (
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/restatego/restate/internal/storage"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Bounds of a group's in-memory log tail. Every entry is in Pebble; memory keeps only the
// newest ones (what raft appends and what a follower a little behind still needs), so a
// log that is never trimmed (a cluster without a snapshot repository) costs disk, not memory.
const (
	memMaxEntries  = 4096 // cut the tail when it holds more than this ...
	memKeepEntries = 1024 // ... down to this many entries before the applied position
)

// logStore is a group's raft log as raft reads it: the compaction snapshot, the entries
// after it in Pebble (written by Host.persist before they reach memory), and a tail of the
// newest entries in a raft.MemoryStorage.
type logStore struct {
	db    *storage.DB
	group GroupID

	mu   sync.Mutex
	hs   *pb.HardState
	snap *pb.Snapshot        // the compaction point; entries up to it are gone everywhere
	mem  *raft.MemoryStorage // the newest entries: those after mem's first index - 1
}

func newLogStore(db *storage.DB, group GroupID) *logStore {
	return &logStore{db: db, group: group, snap: &pb.Snapshot{Metadata: &pb.SnapshotMetadata{ConfState: &pb.ConfState{}}}, mem: raft.NewMemoryStorage()}
}

// InitialState implements raft.Storage.
func (s *logStore) InitialState() (*pb.HardState, *pb.ConfState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hs, pb.EnsureConfState(s.snap.GetMetadata().GetConfState()), nil
}

// SetHardState records the persisted hard state.
func (s *logStore) SetHardState(hs *pb.HardState) {
	s.mu.Lock()
	s.hs = hs
	s.mu.Unlock()
}

func (s *logStore) snapIndex() uint64 { return s.snap.GetMetadata().GetIndex() }

// Entries implements raft.Storage: entries in memory from there, older ones from Pebble.
func (s *logStore) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	s.mu.Lock()
	mem, snapIdx := s.mem, s.snapIndex()
	s.mu.Unlock()
	if lo <= snapIdx {
		return nil, raft.ErrCompacted
	}
	memFirst, _ := mem.FirstIndex()
	if lo >= memFirst {
		return mem.Entries(lo, hi, maxSize)
	}
	ents, size, err := s.readDisk(lo, min(hi, memFirst), maxSize)
	if err != nil {
		return nil, err
	}
	if uint64(len(ents)) < min(hi, memFirst)-lo || hi <= memFirst || size >= maxSize {
		return ents, nil
	}
	more, err := mem.Entries(memFirst, hi, maxSize-size)
	if err != nil {
		return ents, nil // the tail moved meanwhile; what we have is a valid prefix
	}
	return append(ents, more...), nil
}

// readDisk reads entries [lo, hi) from Pebble, at least one and then up to maxSize bytes.
func (s *logStore) readDisk(lo, hi, maxSize uint64) ([]*pb.Entry, uint64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: groupKey(s.group, kindEntry, lo), UpperBound: groupKey(s.group, kindEntry, hi)})
	if err != nil {
		return nil, 0, err
	}
	defer it.Close()
	var out []*pb.Entry
	var size uint64
	next := lo
	for ok := it.First(); ok; ok = it.Next() {
		e := &pb.Entry{}
		if err := proto.Unmarshal(it.Value(), e); err != nil {
			return nil, 0, fmt.Errorf("multiraft: group %d: corrupt entry: %w", s.group, err)
		}
		if e.GetIndex() != next {
			return nil, 0, fmt.Errorf("multiraft: group %d: entry %d missing from disk (found %d)", s.group, next, e.GetIndex())
		}
		sz := uint64(proto.Size(e))
		if len(out) > 0 && size+sz > maxSize {
			break
		}
		out = append(out, e)
		size += sz
		next++
	}
	if err := it.Error(); err != nil {
		return nil, 0, err
	}
	if len(out) == 0 {
		return nil, 0, raft.ErrUnavailable
	}
	return out, size, nil
}

// Term implements raft.Storage.
func (s *logStore) Term(i uint64) (uint64, error) {
	s.mu.Lock()
	mem, snapIdx, snapTerm := s.mem, s.snapIndex(), s.snap.GetMetadata().GetTerm()
	s.mu.Unlock()
	switch {
	case i < snapIdx:
		return 0, raft.ErrCompacted
	case i == snapIdx:
		return snapTerm, nil
	}
	if memFirst, _ := mem.FirstIndex(); i >= memFirst-1 {
		if t, err := mem.Term(i); !errors.Is(err, raft.ErrUnavailable) {
			return t, err
		}
		// Not in memory (yet): while loading, the tail is placed after reading the disk.
	}
	ents, _, err := s.readDisk(i, i+1, 0)
	if err != nil {
		return 0, err
	}
	return ents[0].GetTerm(), nil
}

// LastIndex implements raft.Storage.
func (s *logStore) LastIndex() (uint64, error) {
	s.mu.Lock()
	mem := s.mem
	s.mu.Unlock()
	return mem.LastIndex()
}

// FirstIndex implements raft.Storage: the first entry not compacted away (on disk or in memory).
func (s *logStore) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapIndex() + 1, nil
}

// Snapshot implements raft.Storage.
func (s *logStore) Snapshot() (*pb.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return proto.Clone(s.snap).(*pb.Snapshot), nil
}

// Append adds persisted entries to the in-memory tail.
func (s *logStore) Append(ents []*pb.Entry) error {
	s.mu.Lock()
	mem := s.mem
	s.mu.Unlock()
	return mem.Append(ents)
}

// resetMemory starts an empty in-memory tail after index (whose term is term).
func (s *logStore) resetMemory(index, term uint64) error {
	mem := raft.NewMemoryStorage()
	if index > 0 {
		if err := mem.ApplySnapshot(&pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: &index, Term: &term, ConfState: &pb.ConfState{}}}); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.mem = mem
	s.mu.Unlock()
	return nil
}

// ApplySnapshot replaces the whole log with a snapshot received from the leader.
func (s *logStore) ApplySnapshot(snap *pb.Snapshot) error {
	if err := s.resetMemory(snap.GetMetadata().GetIndex(), snap.GetMetadata().GetTerm()); err != nil {
		return err
	}
	s.mu.Lock()
	s.snap = proto.Clone(snap).(*pb.Snapshot)
	s.mu.Unlock()
	return nil
}

// CreateSnapshot makes the compaction snapshot at index i (which must be persisted).
func (s *logStore) CreateSnapshot(i uint64, cs *pb.ConfState, data []byte) (*pb.Snapshot, error) {
	if i <= s.SnapshotIndex() {
		return nil, raft.ErrSnapOutOfDate
	}
	term, err := s.Term(i)
	if err != nil {
		return nil, err
	}
	snap := &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{Index: &i, Term: &term, ConfState: proto.Clone(cs).(*pb.ConfState)}}
	return snap, nil
}

// Compact installs snap as the compaction point once it is persisted, and drops the
// in-memory entries it covers.
func (s *logStore) Compact(snap *pb.Snapshot) error {
	s.mu.Lock()
	s.snap = snap
	mem := s.mem
	s.mu.Unlock()
	idx := snap.GetMetadata().GetIndex()
	if first, _ := mem.FirstIndex(); idx < first {
		return nil
	}
	if last, _ := mem.LastIndex(); idx > last {
		return s.resetMemory(idx, snap.GetMetadata().GetTerm())
	}
	if err := mem.Compact(idx); err != nil && !errors.Is(err, raft.ErrCompacted) {
		return err
	}
	return nil
}

// SnapshotIndex is the compaction point.
func (s *logStore) SnapshotIndex() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapIndex()
}

// boundMemory cuts the in-memory tail when it grew past memMaxEntries, keeping
// memKeepEntries before applied (entries after applied stay: raft is about to deliver them).
func (s *logStore) boundMemory(applied uint64) {
	s.mu.Lock()
	mem := s.mem
	s.mu.Unlock()
	first, _ := mem.FirstIndex()
	last, _ := mem.LastIndex()
	if last+1-first <= memMaxEntries || applied <= first+memKeepEntries {
		return
	}
	_ = mem.Compact(min(applied, last) - memKeepEntries)
}

// memEntries is how many entries the in-memory tail holds.
func (s *logStore) memEntries() uint64 {
	s.mu.Lock()
	mem := s.mem
	s.mu.Unlock()
	first, _ := mem.FirstIndex()
	last, _ := mem.LastIndex()
	return last + 1 - first
}
