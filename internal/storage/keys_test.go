package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// v1ObjectPrefix is how format 1 built object prefixes: 16-bit lengths that wrap.
func v1ObjectPrefix(p uint16, t byte, service, key string) []byte {
	k := []byte{spacePartition, byte(p >> 8), byte(p), t}
	k = binary.BigEndian.AppendUint16(k, uint16(len(service)))
	k = append(k, service...)
	k = binary.BigEndian.AppendUint16(k, uint16(len(key)))
	return append(k, key...)
}

// attackKey is 64 KiB + 7 bytes starting with "victim1": its 16-bit length wraps to 7.
var attackKey = "victim1" + strings.Repeat("a", 1<<16)

type triple struct{ service, key, name string }

// adversarialTriples mixes lengths around every boundary of the encoding with keys that are
// prefixes of each other and keys whose bytes look like encoded headers.
func adversarialTriples() []triple {
	keys := []string{"", "v", "victim1", attackKey, attackKey[:7+0xFFFF], attackKey + "x"}
	for _, n := range []int{0xFFFE, 0xFFFF, 0x10000, 0x10001, 0x1FFFF} {
		keys = append(keys, strings.Repeat("k", n))
	}
	// Bytes shaped like a component header and another component.
	keys = append(keys,
		"victim1"+string([]byte{0x00, 0x05})+"count",
		string([]byte{0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}),
		string([]byte{0x00, 0x07})+"victim1")
	services := []string{"Counter", "Counter" + string([]byte{0x00, 0x07}) + "victim1", "C", strings.Repeat("s", 0xFFFF)}
	names := []string{"", "count", strings.Repeat("a", 1<<16) + "count"}
	var out []triple
	for _, s := range services {
		for _, k := range keys {
			for _, n := range names {
				out = append(out, triple{s, k, n})
			}
		}
	}
	return out
}

// checkIsolated reports the first pair of distinct (service, key) whose prefix scan would see
// an entry of the other.
func checkIsolated(ts []triple, prefix func(p uint16, t byte, service, key string) []byte) error {
	type obj struct{ service, key string }
	prefixes := map[obj][]byte{}
	for _, t := range ts {
		prefixes[obj{t.service, t.key}] = prefix(1, TableState, t.service, t.key)
	}
	for _, t := range ts {
		full := append(prefix(1, TableState, t.service, t.key), t.name...)
		for o, pre := range prefixes {
			if (o != obj{t.service, t.key}) && bytes.HasPrefix(full, pre) {
				return fmt.Errorf("state %q of (%.20q, key of %d bytes) lies in the span of (%.20q, key of %d bytes %.10q)",
					t.name[:min(len(t.name), 10)], t.service, len(t.key), o.service, len(o.key), o.key)
			}
		}
	}
	return nil
}

func TestObjectPrefixesNeverOverlap(t *testing.T) {
	ts := adversarialTriples()
	if err := checkIsolated(ts, ObjectPrefix); err != nil {
		t.Fatal(err)
	}
	// The checker catches the format 1 wrap, so a pass above means something.
	if err := checkIsolated(ts, v1ObjectPrefix); err == nil {
		t.Fatal("format 1's prefixes passed the isolation check, which must catch their wrap")
	}
	// Every full key decodes back to its own triple.
	for _, tr := range ts {
		full := append(ObjectPrefix(1, TableState, tr.service, tr.key), tr.name...)
		s, k, rest, ok := CutObjectPrefix(full[4:])
		if !ok || s != tr.service || k != tr.key || string(rest) != tr.name {
			t.Fatalf("decoding (service of %d, key of %d, name of %d bytes): ok=%v, got %d/%d/%d bytes",
				len(tr.service), len(tr.key), len(tr.name), ok, len(s), len(k), len(rest))
		}
	}
}

func TestLenPrefixedForms(t *testing.T) {
	for _, n := range []int{0, 1, 0xFFFE, 0xFFFF, 0x10000, 0x10007} {
		s := strings.Repeat("x", n)
		enc := LenPrefixed(s)
		wantHdr := binary.BigEndian.AppendUint16(nil, uint16(n))
		if n >= 0xFFFF {
			wantHdr = binary.BigEndian.AppendUint64([]byte{0xFF, 0xFF}, uint64(n))
		}
		if !bytes.HasPrefix(enc, wantHdr) || len(enc) != len(wantHdr)+n {
			t.Fatalf("length %d: header %x, want %x", n, enc[:min(len(enc), 10)], wantHdr)
		}
		got, rest, ok := CutLenPrefixed(append(enc, "tail"...))
		if !ok || got != s || string(rest) != "tail" {
			t.Fatalf("length %d: round trip failed (ok=%v, %d bytes, rest %q)", n, ok, len(got), rest)
		}
	}
	// The long form may not carry a length the short form holds: one encoding per length.
	bad := binary.BigEndian.AppendUint64([]byte{0xFF, 0xFF}, 3)
	if _, _, ok := CutLenPrefixed(append(bad, "abc"...)); ok {
		t.Fatal("accepted a non-canonical long form")
	}
	for _, b := range [][]byte{nil, {0}, {0, 2, 'a'}, {0xFF, 0xFF, 0, 0}, binary.BigEndian.AppendUint64([]byte{0xFF, 0xFF}, 1<<62)} {
		if _, _, ok := CutLenPrefixed(b); ok {
			t.Fatalf("accepted truncated %x", b)
		}
	}
}

// Encoded components sort by length, then bytes, whichever form carries the length.
func TestLenPrefixedOrder(t *testing.T) {
	ss := []string{""}
	for _, n := range []int{1, 2, 0xFFFE, 0xFFFF, 0x10000, 0x1FFFF} {
		ss = append(ss, strings.Repeat("b", n), strings.Repeat("a", n))
	}
	sort.Slice(ss, func(i, j int) bool {
		return bytes.Compare(LenPrefixed(ss[i]), LenPrefixed(ss[j])) < 0
	})
	for i := 1; i < len(ss); i++ {
		a, b := ss[i-1], ss[i]
		if len(a) > len(b) || (len(a) == len(b) && a >= b) {
			t.Fatalf("encoded order puts a %d-byte %q.. before a %d-byte %q..", len(a), a[:min(1, len(a))], len(b), b[:min(1, len(b))])
		}
	}
}

// FuzzCutLenPrefixed: whatever it accepts re-encodes to exactly the bytes it consumed.
func FuzzCutLenPrefixed(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 3, 'a', 'b', 'c', 'd'})
	f.Add([]byte{0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF})
	f.Add(LenPrefixed(strings.Repeat("z", 0xFFFF)))
	f.Add(append(LenPrefixed("Counter"), LenPrefixed("victim1")...))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, rest, ok := CutLenPrefixed(b)
		if !ok {
			return
		}
		consumed := b[:len(b)-len(rest)]
		if !bytes.Equal(LenPrefixed(s), consumed) {
			t.Fatalf("%x decoded to %d bytes that encode as %x", consumed, len(s), LenPrefixed(s))
		}
		if _, _, _, ok := CutObjectPrefix(b); ok {
			// Two components decode only if the first does.
			if _, _, ok := CutLenPrefixed(b); !ok {
				t.Fatal("object prefix decoded without its first component")
			}
		}
	})
}
