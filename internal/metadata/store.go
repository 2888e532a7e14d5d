// Package metadata holds the cluster's control-plane key-value store: small, versioned values
// (schema, nodes configuration, partition table, log configuration) changed only by
// compare-and-set. A single node keeps it in its local Pebble database; a cluster replicates it
// with raft. Callers see the same interface either way.
package metadata

import (
	"context"
	"errors"
)

// ErrVersionMismatch is returned by CompareAndSwap when the stored version is not the expected one.
var ErrVersionMismatch = errors.New("metadata: version mismatch")

// ErrUnavailable is returned when the store cannot serve the request (for example, no quorum).
var ErrUnavailable = errors.New("metadata: store unavailable")

// Store is a versioned key-value store. Versions start at 1 for the first write of a key;
// version 0 means "absent".
type Store interface {
	// Get returns the value and its version; (nil, 0, nil) when the key is absent.
	Get(ctx context.Context, key string) ([]byte, uint64, error)
	// CompareAndSwap stores value if the key's current version equals expected (0 = must be
	// absent) and returns the new version, or ErrVersionMismatch.
	CompareAndSwap(ctx context.Context, key string, expected uint64, value []byte) (uint64, error)
	// Watch returns a channel that receives the key's version each time it changes, until ctx
	// ends. The current version is sent first.
	Watch(ctx context.Context, key string) <-chan uint64
}
