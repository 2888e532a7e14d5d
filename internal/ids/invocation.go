package ids

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"strings"
	"time"
)

// InvocationIDRawLen is the length of the binary form of an invocation id.
const InvocationIDRawLen = 24

const (
	invocationPrefix = "inv_1"
	// InvocationIDStringLen is the length of the string form "inv_1…".
	InvocationIDStringLen = len(invocationPrefix) + base62WidthU64 + base62WidthU128
)

// InvocationID identifies an invocation: the partition key that routes it
// and a 128-bit uuid (a ULID for ordinary invocations, a hash for workflow
// runs and idempotent requests).
type InvocationID struct {
	PartitionKey uint64
	// UUID is the 128-bit value in big-endian byte order.
	UUID [16]byte
}

// NewInvocationID returns an invocation id on partition key pk whose uuid
// is a fresh ULID (48-bit millisecond timestamp, 80 random bits).
func NewInvocationID(pk uint64) InvocationID {
	return InvocationID{PartitionKey: pk, UUID: newULID(time.Now())}
}

func newULID(now time.Time) [16]byte {
	var u [16]byte
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint64(u[0:8], ms<<16|rand.Uint64()&0xFFFF)
	binary.BigEndian.PutUint64(u[8:16], rand.Uint64())
	return u
}

// DeterministicInvocationID returns the invocation id whose uuid is the
// first 16 bytes of SHA-256 over parts joined with ','. Restate uses:
//
//	workflow run:       "wf", [scope,] service, key
//	idempotent request: "ik", [scope,] service, [key,] handler, idempotencyKey
//
// where the bracketed parts are present only when set (a keyed service
// includes its key even when it is empty). WorkflowRunID and
// IdempotentRequestID build these part lists.
func DeterministicInvocationID(pk uint64, parts ...string) InvocationID {
	var stack [256]byte
	buf := stack[:0]
	for i, p := range parts {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, p...)
	}
	sum := sha256.Sum256(buf)
	var id InvocationID
	id.PartitionKey = pk
	copy(id.UUID[:], sum[:16])
	return id
}

// WorkflowRunID returns the id of the run of workflow service/key. An empty
// scope means unscoped. Unscoped workflows live on PartitionKeyForKey(key).
func WorkflowRunID(pk uint64, scope, service, key string) InvocationID {
	if scope == "" {
		return DeterministicInvocationID(pk, "wf", service, key)
	}
	return DeterministicInvocationID(pk, "wf", scope, service, key)
}

// IdempotentRequestID returns the id of the request to service/handler with
// an idempotency key. hasKey says whether the target is keyed (then key is
// part of the hash, even if empty). An empty scope means unscoped.
func IdempotentRequestID(pk uint64, scope, service string, key string, hasKey bool, handler, idempotencyKey string) InvocationID {
	parts := make([]string, 0, 6)
	parts = append(parts, "ik")
	if scope != "" {
		parts = append(parts, scope)
	}
	parts = append(parts, service)
	if hasKey {
		parts = append(parts, key)
	}
	parts = append(parts, handler, idempotencyKey)
	return DeterministicInvocationID(pk, parts...)
}

// Bytes returns the binary form: partition key (big-endian) ‖ uuid. This is
// what StartMessage.id carries.
func (id InvocationID) Bytes() [InvocationIDRawLen]byte {
	var b [InvocationIDRawLen]byte
	binary.BigEndian.PutUint64(b[0:8], id.PartitionKey)
	copy(b[8:], id.UUID[:])
	return b
}

// InvocationIDFromBytes parses the 24-byte binary form.
func InvocationIDFromBytes(b []byte) (InvocationID, error) {
	if len(b) != InvocationIDRawLen {
		return InvocationID{}, fmt.Errorf("invalid binary invocation id: %d bytes, want %d", len(b), InvocationIDRawLen)
	}
	var id InvocationID
	id.PartitionKey = binary.BigEndian.Uint64(b[0:8])
	copy(id.UUID[:], b[8:])
	return id, nil
}

// String returns the "inv_1…" form: the partition key in 11 base62 digits,
// then the uuid in 22.
func (id InvocationID) String() string {
	var buf [InvocationIDStringLen]byte
	return string(id.AppendTo(buf[:0]))
}

// AppendTo appends the string form of id to dst.
func (id InvocationID) AppendTo(dst []byte) []byte {
	dst = append(dst, invocationPrefix...)
	dst = appendBase62U64(dst, bits.ReverseBytes64(id.PartitionKey))
	hi, lo := encodeUUID(id.UUID)
	return appendBase62U128(dst, hi, lo)
}

// encodeUUID returns the 128-bit number Restate base62-encodes for a uuid.
// Restate converts the integer to big-endian before encoding, which on the
// little-endian hosts it runs on reverses its bytes: the encoded number is
// the one whose little-endian bytes are the uuid's big-endian bytes.
func encodeUUID(u [16]byte) (hi, lo uint64) {
	return binary.LittleEndian.Uint64(u[8:16]), binary.LittleEndian.Uint64(u[0:8])
}

func decodeUUID(hi, lo uint64) (u [16]byte) {
	binary.LittleEndian.PutUint64(u[8:16], hi)
	binary.LittleEndian.PutUint64(u[0:8], lo)
	return u
}

// ParseInvocationID parses the "inv_1…" form.
func ParseInvocationID(s string) (InvocationID, error) {
	body, err := cutResourcePrefix(s, "inv", "invocation id")
	if err != nil {
		return InvocationID{}, err
	}
	if len(body) != base62WidthU64+base62WidthU128 {
		return InvocationID{}, fmt.Errorf("invalid invocation id %q: %d characters, want %d", s, len(s), InvocationIDStringLen)
	}
	pk, err := decodeBase62U64(body[:base62WidthU64])
	if err != nil {
		return InvocationID{}, fmt.Errorf("invalid invocation id %q: partition key: %w", s, err)
	}
	hi, lo, err := decodeBase62U128(body[base62WidthU64:])
	if err != nil {
		return InvocationID{}, fmt.Errorf("invalid invocation id %q: uuid: %w", s, err)
	}
	return InvocationID{PartitionKey: bits.ReverseBytes64(pk), UUID: decodeUUID(hi, lo)}, nil
}

// ULIDTime returns the timestamp embedded in the uuid. It is meaningful only
// for ULID-based ids (not workflow runs or idempotent requests).
func (id InvocationID) ULIDTime() time.Time {
	ms := binary.BigEndian.Uint64(id.UUID[0:8]) >> 16
	return time.UnixMilli(int64(ms)).UTC()
}

// cutResourcePrefix checks "<resource>_1" at the start of s and returns the
// rest. what names the id kind in errors.
func cutResourcePrefix(s, resource, what string) (string, error) {
	prefix, rest, ok := strings.Cut(s, "_")
	if !ok {
		return "", fmt.Errorf("invalid %s %q: missing %q prefix", what, s, resource+"_")
	}
	if prefix != resource {
		return "", fmt.Errorf("invalid %s %q: resource type %q, want %q", what, s, prefix, resource)
	}
	if rest == "" || rest[0] != '1' {
		return "", fmt.Errorf("invalid %s %q: unsupported id scheme version, want \"1\"", what, s)
	}
	return rest[1:], nil
}
