package metadata

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/restatego/restate/internal/codec"
	"github.com/restatego/restate/internal/multiraft"
	raft "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Group is the raft group id of the metadata store (partitions use small ids).
const Group multiraft.GroupID = 1 << 31

const (
	opMagic   = 'M'
	opCAS     = 1
	opBarrier = 2
)

// RaftStore is the metadata store replicated by raft over the metadata-server nodes. Writes
// are compare-and-set operations decided when applied, identically on every member; reads are
// served from the local copy (call Sync first for a read that sees every earlier write).
type RaftStore struct {
	self  uint64
	group *multiraft.Group

	mu       sync.Mutex
	kv       map[string]versioned
	seq      uint64
	pending  map[uint64]chan casResult // by proposal sequence; retries share a channel
	watchers map[string][]chan uint64
	leader   uint64
	term     uint64
	applied  uint64
	onChange func(cc pb.ConfChangeI)
}

type versioned struct {
	version uint64
	value   []byte
}

type casResult struct {
	version uint64
	err     error
}

// OpenRaftStore opens the metadata group on host; peers bootstrap a new group (the
// provisioning node passes itself), nil joins an existing one. onConfChange hears about
// membership changes (to learn peer addresses).
func OpenRaftStore(host *multiraft.Host, self uint64, peers []uint64, onConfChange func(pb.ConfChangeI)) (*RaftStore, error) {
	s := &RaftStore{self: self, kv: map[string]versioned{}, pending: map[uint64]chan casResult{},
		watchers: map[string][]chan uint64{}, onChange: onConfChange}
	g, err := host.OpenGroup(Group, peers, s, func(cc pb.ConfChangeI) {
		if s.onChange != nil {
			s.onChange(cc)
		}
	})
	if err != nil {
		return nil, err
	}
	s.group = g
	return s, nil
}

func (s *RaftStore) Get(_ context.Context, key string) ([]byte, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.kv[key]
	if !ok {
		return nil, 0, nil
	}
	return append([]byte{}, v.value...), v.version, nil
}

func (s *RaftStore) CompareAndSwap(ctx context.Context, key string, expected uint64, value []byte) (uint64, error) {
	e := codec.Encoder{}
	e.Byte(opCAS)
	e.String(key)
	e.Uvarint(expected)
	e.Bytes(value)
	r, err := s.propose(ctx, e.Buf)
	if err != nil {
		return 0, err
	}
	return r.version, r.err
}

// Sync waits until this member applied every write committed before the call.
func (s *RaftStore) Sync(ctx context.Context) error {
	_, err := s.propose(ctx, []byte{opBarrier})
	return err
}

// propose proposes an operation and waits for its outcome, retrying while no leader is
// known (during elections) until ctx ends or a few seconds passed.
func (s *RaftStore) propose(ctx context.Context, op []byte) (casResult, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	// Every retry of one operation shares the result channel, so whichever copy commits
	// first decides the outcome (a later duplicate of a CAS then fails harmlessly).
	ch := make(chan casResult, 8)
	var seqs []uint64
	defer func() {
		for _, seq := range seqs {
			s.forget(seq)
		}
	}()
	for {
		s.mu.Lock()
		s.seq++
		seq := s.seq
		s.pending[seq] = ch
		s.mu.Unlock()
		seqs = append(seqs, seq)
		env := make([]byte, 0, 17+len(op))
		env = append(env, opMagic)
		env = binary.BigEndian.AppendUint64(env, s.self)
		env = binary.BigEndian.AppendUint64(env, seq)
		env = append(env, op...)
		wait := 50 * time.Millisecond
		err := s.group.Propose(env)
		switch {
		case err == nil:
			wait = 2 * time.Second // raft may still lose it in a leader change
		case !errors.Is(err, multiraft.ErrDropped):
			return casResult{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		select {
		case r := <-ch:
			return r, nil
		case <-ctx.Done():
			return casResult{}, fmt.Errorf("%w: no metadata leader reachable: %v", ErrUnavailable, ctx.Err())
		case <-time.After(wait):
		}
	}
}

func (s *RaftStore) forget(seq uint64) {
	s.mu.Lock()
	delete(s.pending, seq)
	s.mu.Unlock()
}

// Apply applies committed operations (multiraft.StateMachine).
func (s *RaftStore) Apply(entries []multiraft.Committed) {
	type notify struct {
		ch      chan uint64
		version uint64
	}
	var notes []notify
	var done []func()
	s.mu.Lock()
	for _, e := range entries {
		s.applied = e.Index
		b := e.Data
		if len(b) < 18 || b[0] != opMagic {
			continue
		}
		origin, seq, op := binary.BigEndian.Uint64(b[1:]), binary.BigEndian.Uint64(b[9:]), b[17:]
		var res casResult
		switch op[0] {
		case opCAS:
			d := codec.NewDecoder(op[1:])
			key, expected, value := d.String(), d.Uvarint(), d.CopyBytes()
			if d.Err() != nil {
				res.err = fmt.Errorf("metadata: corrupt operation: %w", d.Err())
				break
			}
			cur := s.kv[key]
			if cur.version != expected {
				res.err = ErrVersionMismatch
				break
			}
			next := versioned{version: cur.version + 1, value: value}
			s.kv[key] = next
			res.version = next.version
			for _, w := range s.watchers[key] {
				notes = append(notes, notify{w, next.version})
			}
		case opBarrier:
		}
		if origin == s.self {
			if ch, ok := s.pending[seq]; ok {
				delete(s.pending, seq)
				r := res
				done = append(done, func() {
					select {
					case ch <- r:
					default:
					}
				})
			}
		}
	}
	s.mu.Unlock()
	for _, n := range notes {
		select {
		case n.ch <- n.version:
		default:
			select {
			case <-n.ch:
			default:
			}
			n.ch <- n.version
		}
	}
	for _, f := range done {
		f()
	}
}

// LeaderChanged records the metadata leader (multiraft.StateMachine).
func (s *RaftStore) LeaderChanged(leader, term uint64) {
	s.mu.Lock()
	s.leader, s.term = leader, term
	s.mu.Unlock()
}

// Leader is the metadata leader and term as this member knows them.
func (s *RaftStore) Leader() (uint64, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leader, s.term
}

// Members are the voters of the metadata group.
func (s *RaftStore) Members() []uint64 {
	st := s.group.Status()
	out := make([]uint64, 0, len(st.Config.Voters[0]))
	for id := range st.Config.Voters[0] {
		out = append(out, id)
	}
	return out
}

// AddMember proposes adding node as a voter (only the leader's proposal takes effect) and
// waits until it is a member.
func (s *RaftStore) AddMember(ctx context.Context, node uint64, address string) error {
	cc := &pb.ConfChange{}
	typ := pb.ConfChangeType_ConfChangeAddNode
	cc.Type = &typ
	cc.NodeId = &node
	cc.Context = []byte(address)
	if err := s.changeMembers(ctx, cc, true); err != nil {
		return fmt.Errorf("%w: adding node %d to the metadata quorum: %v", ErrUnavailable, node, err)
	}
	return nil
}

// changeMembers proposes a membership change and waits until node is (or is no longer) a
// member. Raft drops a change proposed while another is still pending (two nodes joining at
// once) without telling the proposer, so the change is proposed again every second until it
// shows. Only the leader proposes again: a deposed leader's copies could reach the new one
// late and undo a later change (a removal landing after the re-add of a rejoining node).
func (s *RaftStore) changeMembers(ctx context.Context, cc *pb.ConfChange, wantMember bool) error {
	node := cc.GetNodeId()
	isMember := func() bool {
		for _, m := range s.Members() {
			if m == node {
				return true
			}
		}
		return false
	}
	var proposedAt time.Time
	for {
		if isMember() == wantMember {
			return nil
		}
		if time.Since(proposedAt) >= time.Second {
			if leader, _ := s.Leader(); leader != s.self {
				return errors.New("this member is not the metadata leader (any more)")
			}
			// A proposal dropped during a leadership change is proposed again next round.
			if err := s.group.ProposeConfChange(cc); err != nil && !errors.Is(err, raft.ErrProposalDropped) {
				return err
			}
			proposedAt = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Status is the metadata group's raft status.
func (s *RaftStore) Status() (applied, commit, term, leader uint64) {
	st := s.group.Status()
	return st.Applied, st.HardState.GetCommit(), st.HardState.GetTerm(), st.Lead
}

func (s *RaftStore) Watch(ctx context.Context, key string) <-chan uint64 {
	ch := make(chan uint64, 1)
	s.mu.Lock()
	ch <- s.kv[key].version
	s.watchers[key] = append(s.watchers[key], ch)
	s.mu.Unlock()
	go func() {
		<-ctx.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		ws := s.watchers[key]
		for i, w := range ws {
			if w == ch {
				s.watchers[key] = append(ws[:i], ws[i+1:]...)
				break
			}
		}
	}()
	return ch
}

// Progress describes, on the leader, how far each member's copy is.
func (s *RaftStore) Progress() map[uint64]string {
	st := s.group.Status()
	out := map[uint64]string{}
	for id, pr := range st.Progress {
		out[id] = pr.String()
	}
	return out
}

// RecentlyActive lists, on the leader, the members it heard from recently.
func (s *RaftStore) RecentlyActive() []uint64 {
	st := s.group.Status()
	var out []uint64
	for id, pr := range st.Progress {
		if pr.RecentActive {
			out = append(out, id)
		}
	}
	return out
}

// RemoveMember proposes removing node from the voters and waits until it is gone.
func (s *RaftStore) RemoveMember(ctx context.Context, node uint64) error {
	cc := &pb.ConfChange{}
	typ := pb.ConfChangeType_ConfChangeRemoveNode
	cc.Type = &typ
	cc.NodeId = &node
	if err := s.changeMembers(ctx, cc, false); err != nil {
		return fmt.Errorf("%w: removing node %d from the metadata quorum: %v", ErrUnavailable, node, err)
	}
	return nil
}
