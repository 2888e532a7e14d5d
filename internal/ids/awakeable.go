package ids

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
)

const (
	signalPrefix       = "sign_1"
	legacyAwakeablePfx = "prom_1"
	awakeableRawLen    = InvocationIDRawLen + 4
)

// awakeableEncoding is strict so that every id has exactly one spelling (no
// stray trailing bits), as in Restate.
var awakeableEncoding = base64.RawURLEncoding.Strict()

// AwakeableID returns the id SDKs hand out for awakeable signalIdx of inv:
// "sign_1" + unpadded base64url(invocation id bytes ‖ signal index as u32
// big-endian).
func AwakeableID(inv InvocationID, signalIdx uint32) string {
	var raw [awakeableRawLen]byte
	b := inv.Bytes()
	copy(raw[:], b[:])
	binary.BigEndian.PutUint32(raw[InvocationIDRawLen:], signalIdx)
	out := make([]byte, len(signalPrefix)+awakeableEncoding.EncodedLen(len(raw)))
	copy(out, signalPrefix)
	awakeableEncoding.Encode(out[len(signalPrefix):], raw[:])
	return string(out)
}

// ParseAwakeableID parses "sign_1…" ids and legacy "prom_1…" ids, with or
// without base64 padding. For sign_1 ids idx is a signal index; for legacy
// ids (legacy = true) it is the index of the awakeable's journal entry.
func ParseAwakeableID(s string) (inv InvocationID, idx uint32, legacy bool, err error) {
	var body string
	switch {
	case strings.HasPrefix(s, signalPrefix):
		body = s[len(signalPrefix):]
	case strings.HasPrefix(s, legacyAwakeablePfx):
		body, legacy = s[len(legacyAwakeablePfx):], true
	default:
		return InvocationID{}, 0, false, fmt.Errorf("invalid awakeable id %q: want prefix %q (or legacy %q)", s, signalPrefix, legacyAwakeablePfx)
	}
	unpaddedLen := awakeableEncoding.EncodedLen(awakeableRawLen)
	if len(body) == base64.URLEncoding.EncodedLen(awakeableRawLen) && strings.TrimRight(body[unpaddedLen:], "=") == "" {
		body = body[:unpaddedLen]
	}
	if len(body) != unpaddedLen {
		return InvocationID{}, 0, false, fmt.Errorf("invalid awakeable id %q: %d base64 characters, want %d", s, len(body), unpaddedLen)
	}
	var raw [awakeableRawLen]byte
	if _, err := awakeableEncoding.Decode(raw[:], []byte(body)); err != nil {
		return InvocationID{}, 0, false, fmt.Errorf("invalid awakeable id %q: %v", s, err)
	}
	inv, err = InvocationIDFromBytes(raw[:InvocationIDRawLen])
	if err != nil {
		return InvocationID{}, 0, false, err
	}
	return inv, binary.BigEndian.Uint32(raw[InvocationIDRawLen:]), legacy, nil
}
