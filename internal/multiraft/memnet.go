package multiraft

import (
	"sync"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// MemNetwork connects in-process hosts, for tests of replicated components; nodes can be cut
// off from everyone.
type MemNetwork struct {
	mu    sync.Mutex
	hosts map[uint64]*Host
	down  map[uint64]bool
}

// NewMemNetwork creates an empty network.
func NewMemNetwork() *MemNetwork {
	return &MemNetwork{hosts: map[uint64]*Host{}, down: map[uint64]bool{}}
}

// Attach makes h reachable as node id.
func (n *MemNetwork) Attach(id uint64, h *Host) {
	n.mu.Lock()
	n.hosts[id] = h
	n.mu.Unlock()
}

// Detach removes node id (as if its process died).
func (n *MemNetwork) Detach(id uint64) {
	n.mu.Lock()
	delete(n.hosts, id)
	n.mu.Unlock()
}

// Cut isolates (or, with false, reconnects) node id.
func (n *MemNetwork) Cut(id uint64, cut bool) {
	n.mu.Lock()
	n.down[id] = cut
	n.mu.Unlock()
}

// Transport returns the transport node id sends through.
func (n *MemNetwork) Transport(id uint64) Transport { return memTransport{net: n, from: id} }

type memTransport struct {
	net  *MemNetwork
	from uint64
}

func (t memTransport) Send(to uint64, envs []Envelope) {
	t.net.mu.Lock()
	h := t.net.hosts[to]
	cut := t.net.down[to] || t.net.down[t.from]
	t.net.mu.Unlock()
	if h == nil || cut {
		return
	}
	cp := make([]Envelope, len(envs))
	for i, e := range envs {
		cp[i] = Envelope{Group: e.Group, Msg: proto.Clone(e.Msg).(*pb.Message)}
	}
	go h.Step(cp)
}
