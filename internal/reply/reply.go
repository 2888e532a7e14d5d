// Package reply matches answers from partition leaders to the requests waiting for them on
// this node (ingress calls, admin operations). A request registers before it submits its
// record, so an answer can never arrive before its waiter.
package reply

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/restatego/restate/internal/partition"
)

// Registry holds the waiting requests of one node.
type Registry struct {
	next    atomic.Uint64
	mu      sync.Mutex
	waiters map[uint64]chan partition.Result
}

// NewRegistry creates an empty registry. Request ids start from the clock so that an answer
// meant for a request of a previous process never reaches a new one.
func NewRegistry() *Registry {
	r := &Registry{waiters: make(map[uint64]chan partition.Result)}
	r.next.Store(uint64(time.Now().UnixNano()))
	return r
}

// Register creates a waiter; the caller must Unregister it when done.
func (r *Registry) Register() (uint64, <-chan partition.Result) {
	id := r.next.Add(1)
	ch := make(chan partition.Result, 1)
	r.mu.Lock()
	r.waiters[id] = ch
	r.mu.Unlock()
	return id, ch
}

// Unregister drops a waiter.
func (r *Registry) Unregister(id uint64) {
	r.mu.Lock()
	delete(r.waiters, id)
	r.mu.Unlock()
}

// Deliver hands an answer to its waiter, if it is still there. Each waiter gets one answer.
func (r *Registry) Deliver(id uint64, res partition.Result) {
	r.mu.Lock()
	ch, ok := r.waiters[id]
	if ok {
		delete(r.waiters, id)
	}
	r.mu.Unlock()
	if ok {
		ch <- res
	}
}

// Len is the number of waiting requests.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.waiters)
}

// Await registers a waiter, lets attach name it in the record being submitted, submits, and
// waits for the answer or the end of ctx.
func (r *Registry) Await(ctx context.Context, node uint32, attach func(*partition.Sink), submit func(context.Context) error) (partition.Result, error) {
	id, ch := r.Register()
	defer r.Unregister(id)
	attach(&partition.Sink{Kind: partition.SinkIngress, Node: node, RequestID: id})
	if err := submit(ctx); err != nil {
		return partition.Result{}, err
	}
	select {
	case res := <-ch:
		return res, nil
	case <-ctx.Done():
		return partition.Result{}, ctx.Err()
	}
}
