package metadata

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/restatego/restate/internal/multiraft"
	"github.com/restatego/restate/internal/storage"
)

type metaNode struct {
	id    uint64
	db    *storage.DB
	host  *multiraft.Host
	store *RaftStore
}

func startMetaNode(t *testing.T, net *multiraft.MemNetwork, id uint64, peers []uint64) *metaNode {
	t.Helper()
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	host := multiraft.NewHost(multiraft.Config{NodeID: id, DB: db, Transport: net.Transport(id), TickInterval: 10 * time.Millisecond})
	net.Attach(id, host)
	st, err := OpenRaftStore(host, id, peers, nil)
	if err != nil {
		t.Fatal(err)
	}
	host.Start()
	return &metaNode{id: id, db: db, host: host, store: st}
}

func (n *metaNode) stop(net *multiraft.MemNetwork) {
	net.Detach(n.id)
	n.host.Stop()
	n.db.Close()
}

func TestRaftStoreQuorum(t *testing.T) {
	net := multiraft.NewMemNetwork()
	n1 := startMetaNode(t, net, 1, []uint64{1})
	n2 := startMetaNode(t, net, 2, nil)
	n3 := startMetaNode(t, net, 3, nil)
	nodes := []*metaNode{n1, n2, n3}
	defer func() {
		for _, n := range nodes {
			if n != nil {
				n.stop(net)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// The provisioning node alone writes, then adds the others.
	if v, err := n1.store.CompareAndSwap(ctx, "k", 0, []byte("a")); err != nil || v != 1 {
		t.Fatalf("first write: %d %v", v, err)
	}
	for _, id := range []uint64{2, 3} {
		if err := n1.store.AddMember(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
	}
	watch := n3.store.Watch(ctx, "k")
	<-watch // current version

	// Any member writes; a stale expected version is refused everywhere.
	if v, err := n3.store.CompareAndSwap(ctx, "k", 1, []byte("b")); err != nil || v != 2 {
		t.Fatalf("write through a follower: %d %v", v, err)
	}
	if _, err := n2.store.CompareAndSwap(ctx, "k", 1, []byte("stale")); !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("stale write: %v", err)
	}
	select {
	case v := <-watch:
		if v != 2 {
			t.Fatalf("watch saw version %d", v)
		}
	case <-ctx.Done():
		t.Fatal("watch saw nothing")
	}
	for _, n := range nodes {
		if err := n.store.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if v, ver, _ := n.store.Get(ctx, "k"); string(v) != "b" || ver != 2 {
			t.Fatalf("node %d reads %q@%d", n.id, v, ver)
		}
	}

	// Two of three keep serving; one alone cannot write.
	n1.stop(net)
	nodes[0] = nil
	if v, err := n2.store.CompareAndSwap(ctx, "k", 2, []byte("c")); err != nil || v != 3 {
		t.Fatalf("write with 2 of 3: %d %v", v, err)
	}
	net.Cut(3, true)
	short, cancelShort := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancelShort()
	if _, err := n3.store.CompareAndSwap(short, "k", 3, []byte("alone")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a node without quorum wrote: %v", err)
	}
}
