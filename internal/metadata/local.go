package metadata

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/restatego/restate/internal/storage"
)

// Local is the metadata store of a single node: values live in the node's Pebble database,
// each prefixed with its version, and every write is synced.
type Local struct {
	db *storage.DB

	mu       sync.Mutex
	watchers map[string][]chan uint64
}

// NewLocal opens the local store on db.
func NewLocal(db *storage.DB) *Local {
	return &Local{db: db, watchers: make(map[string][]chan uint64)}
}

func metaKey(key string) []byte { return storage.MetaKey("md/" + key) }

func (l *Local) Get(_ context.Context, key string) ([]byte, uint64, error) {
	v, ok, err := storage.GetCopy(l.db, metaKey(key))
	if err != nil || !ok {
		return nil, 0, err
	}
	if len(v) < 8 {
		return nil, 0, fmt.Errorf("metadata: corrupt value of %q", key)
	}
	return v[8:], binary.BigEndian.Uint64(v), nil
}

func (l *Local) CompareAndSwap(ctx context.Context, key string, expected uint64, value []byte) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, cur, err := l.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	if cur != expected {
		return 0, ErrVersionMismatch
	}
	next := cur + 1
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(value)), next)
	v = append(v, value...)
	if err := l.db.Set(metaKey(key), v, pebble.Sync); err != nil {
		return 0, fmt.Errorf("metadata: write %q: %w", key, err)
	}
	for _, ch := range l.watchers[key] {
		select {
		case ch <- next:
		default:
			// The watcher has not consumed the previous version yet; replace it with the latest.
			select {
			case <-ch:
			default:
			}
			ch <- next
		}
	}
	return next, nil
}

func (l *Local) Watch(ctx context.Context, key string) <-chan uint64 {
	ch := make(chan uint64, 1)
	_, v, _ := l.Get(ctx, key)
	ch <- v
	l.mu.Lock()
	l.watchers[key] = append(l.watchers[key], ch)
	l.mu.Unlock()
	go func() {
		<-ctx.Done()
		l.mu.Lock()
		defer l.mu.Unlock()
		ws := l.watchers[key]
		for i, w := range ws {
			if w == ch {
				l.watchers[key] = append(ws[:i], ws[i+1:]...)
				break
			}
		}
	}()
	return ch
}
