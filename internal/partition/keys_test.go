package partition

import (
	"strings"
	"testing"

	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/storage"
)

// TestLongObjectKeysIsolated plants the 16-bit length-prefix attack at the table level: a key
// of 64 KiB + 7 bytes starting with "victim1" must keep its state, lock, inbox and promises
// apart from victim1's.
func TestLongObjectKeysIsolated(t *testing.T) {
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := db.NewIndexedBatch()
	defer b.Close()
	tx := &txn{reader: reader{p: 1, r: b}, b: b}

	const svc = "Counter"
	long := "victim1" + strings.Repeat("a", 1<<16)
	longInv := ids.InvocationID{PartitionKey: 2}
	tx.setState(svc, "victim1", []byte("count"), []byte("5"))
	tx.setState(svc, long, []byte("count"), []byte("1"))
	tx.pushInbox(svc, long, 1, longInv)
	tx.setLock(svc, long, longInv)
	tx.putPromise(svc, long, "p", &promise{completed: true})

	st, err := tx.state(svc, "victim1")
	if err != nil || len(st) != 1 || string(st[0].Key) != "count" || string(st[0].Value) != "5" {
		t.Fatalf("victim1's state: %d entries (%v)", len(st), err)
	}
	if _, held, _ := tx.lockHolder(svc, "victim1"); held {
		t.Fatal("victim1 is locked by the long key's lock")
	}
	if inv, ok, _ := tx.popInbox(svc, "victim1"); ok {
		t.Fatalf("victim1's inbox popped %s, queued for the long key", inv)
	}
	if pr, _ := tx.promise(svc, "victim1", strings.Repeat("a", 1<<16)+"p"); pr.completed {
		t.Fatal("victim1 sees the long key's promise")
	}

	// Clearing victim1 leaves the long key's state alone, and the other way round.
	tx.clearAllState(svc, "victim1")
	if st, _ := tx.state(svc, long); len(st) != 1 || string(st[0].Value) != "1" {
		t.Fatalf("long key's state after victim1's clear-all: %d entries", len(st))
	}
	tx.setState(svc, "victim1", []byte("count"), []byte("3"))
	tx.clearAllState(svc, long)
	if v, ok, _ := tx.stateValue(svc, "victim1", []byte("count")); !ok || string(v) != "3" {
		t.Fatalf("victim1's state after the long key's clear-all: %q %v", v, ok)
	}
	if inv, ok, _ := tx.popInbox(svc, long); !ok || inv != longInv {
		t.Fatalf("long key's inbox: %s %v", inv, ok)
	}
	if holder, held, _ := tx.lockHolder(svc, long); !held || holder != longInv {
		t.Fatal("long key's lock lost")
	}
}
