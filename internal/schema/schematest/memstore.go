// Package schematest provides an in-memory metadata.Store for tests of code built on the
// schema registry.
package schematest

import (
	"context"
	"sync"

	"github.com/restatego/restate/internal/metadata"
)

// MemoryStore is an in-memory metadata.Store.
type MemoryStore struct {
	mu       sync.Mutex
	values   map[string][]byte
	versions map[string]uint64
	watchers map[string][]chan uint64
	// BeforeCAS, when set, runs (without the lock) before every CompareAndSwap; tests use it
	// to interleave a competing write.
	BeforeCAS func()
	casCalls  int
}

var _ metadata.Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{values: map[string][]byte{}, versions: map[string]uint64{}, watchers: map[string][]chan uint64{}}
}

func (m *MemoryStore) Get(_ context.Context, key string) ([]byte, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.values[key]
	if !ok {
		return nil, 0, nil
	}
	return append([]byte(nil), v...), m.versions[key], nil
}

func (m *MemoryStore) CompareAndSwap(_ context.Context, key string, expected uint64, value []byte) (uint64, error) {
	m.mu.Lock()
	hook := m.BeforeCAS
	m.casCalls++
	m.mu.Unlock()
	if hook != nil {
		hook()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.versions[key] != expected {
		return 0, metadata.ErrVersionMismatch
	}
	m.versions[key]++
	v := m.versions[key]
	m.values[key] = append([]byte(nil), value...)
	for _, ch := range m.watchers[key] {
		notify(ch, v)
	}
	return v, nil
}

// notify delivers v without blocking, dropping the oldest pending version if needed: watchers
// only care about the latest.
func notify(ch chan uint64, v uint64) {
	for {
		select {
		case ch <- v:
			return
		default:
			select {
			case <-ch:
			default:
			}
		}
	}
}

func (m *MemoryStore) Watch(ctx context.Context, key string) <-chan uint64 {
	ch := make(chan uint64, 4)
	m.mu.Lock()
	notify(ch, m.versions[key])
	m.watchers[key] = append(m.watchers[key], ch)
	m.mu.Unlock()
	go func() {
		<-ctx.Done()
		m.mu.Lock()
		defer m.mu.Unlock()
		list := m.watchers[key]
		for i, c := range list {
			if c == ch {
				m.watchers[key] = append(list[:i], list[i+1:]...)
				break
			}
		}
		close(ch)
	}()
	return ch
}

// CASCalls counts CompareAndSwap calls so far.
func (m *MemoryStore) CASCalls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.casCalls
}
