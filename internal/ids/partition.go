// Package ids implements Restate's identifier formats (invocation,
// awakeable/signal, deployment and snapshot ids) and the mapping of keys to
// partition keys and partitions.
package ids

import (
	"fmt"
	"math/bits"
	"math/rand/v2"

	"github.com/zeebo/xxh3"
)

// PartitionKeyForKey returns the partition key of an object or workflow key
// (and of an idempotency key for unkeyed services), as Restate computes it:
// xxh3-64 with seed 0 over the key's bytes followed by a 0xFF byte, which is
// what Rust's `Hash for str` feeds the hasher.
func PartitionKeyForKey(key string) uint64 {
	var stack [128]byte
	if len(key) < len(stack) {
		n := copy(stack[:], key)
		stack[n] = 0xFF
		return xxh3.Hash(stack[:n+1])
	}
	buf := make([]byte, len(key)+1)
	copy(buf, key)
	buf[len(key)] = 0xFF
	return xxh3.Hash(buf)
}

// RandomPartitionKey returns a uniformly random partition key, for
// invocations that have neither a key nor an idempotency key.
func RandomPartitionKey() uint64 { return rand.Uint64() }

// PartitionForKey returns the partition owning partition key pk when the key
// space is split into numPartitions equal ranges (see PartitionKeyRange). It
// panics if numPartitions is 0.
func PartitionForKey(pk uint64, numPartitions uint16) uint16 {
	if numPartitions == 0 {
		panic("ids: PartitionForKey with zero partitions")
	}
	// Partition i starts at ceil(i·2^64/N), so pk belongs to the largest i
	// with i·2^64 <= pk·N, i.e. floor(pk·N / 2^64): the high word of pk·N.
	hi, _ := bits.Mul64(pk, uint64(numPartitions))
	return uint16(hi)
}

// PartitionKeyRange returns the inclusive partition key range of partition
// p out of numPartitions: [ceil(p·2^64/N), ceil((p+1)·2^64/N) − 1]. This is
// the layout of Restate's equally sized partition table.
func PartitionKeyRange(p, numPartitions uint16) (start, end uint64) {
	if p >= numPartitions {
		panic(fmt.Sprintf("ids: partition %d out of range for %d partitions", p, numPartitions))
	}
	start = ceilShare(uint64(p), uint64(numPartitions))
	if p == numPartitions-1 {
		return start, ^uint64(0)
	}
	return start, ceilShare(uint64(p)+1, uint64(numPartitions)) - 1
}

// ceilShare returns ceil(i·2^64 / n) for i < n.
func ceilShare(i, n uint64) uint64 {
	q, r := bits.Div64(i, 0, n)
	if r != 0 {
		q++
	}
	return q
}
