package ids

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math/big"
	"math/bits"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/xxh3"
)

// Example id from Restate documentation/logs; decoded with the byte-swap
// rule its ULID timestamp falls on 2024-03-18.
const exampleInvocationID = "inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hbz"

func TestParseExampleInvocationID(t *testing.T) {
	id, err := ParseInvocationID(exampleInvocationID)
	if err != nil {
		t.Fatal(err)
	}
	if got := id.ULIDTime().Format("2006-01-02"); got != "2024-03-18" {
		t.Errorf("ULID date = %s, want 2024-03-18 (byte order of the uuid is wrong)", got)
	}
	if got := id.String(); got != exampleInvocationID {
		t.Errorf("String() = %s, want %s", got, exampleInvocationID)
	}
	if len(exampleInvocationID) != InvocationIDStringLen {
		t.Errorf("InvocationIDStringLen = %d, want %d", InvocationIDStringLen, len(exampleInvocationID))
	}
}

// base62Big is an independent reference encoder using math/big.
func base62Big(v *big.Int, width int) string {
	s := []byte(strings.Repeat("0", width))
	n := new(big.Int).Set(v)
	r := new(big.Int)
	sixtyTwo := big.NewInt(62)
	for i := width - 1; i >= 0 && n.Sign() > 0; i-- {
		n.DivMod(n, sixtyTwo, r)
		s[i] = base62Alphabet[r.Int64()]
	}
	return string(s)
}

func TestInvocationIDStringMatchesReference(t *testing.T) {
	cases := []InvocationID{
		{},
		{PartitionKey: ^uint64(0), UUID: [16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{PartitionKey: 1, UUID: [16]byte{15: 1}},
		{PartitionKey: 0x0102030405060708, UUID: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
		NewInvocationID(RandomPartitionKey()),
	}
	for _, id := range cases {
		// Reference: the integers whose little-endian bytes equal the
		// big-endian bytes of the values.
		pkLE := new(big.Int).SetUint64(bits.ReverseBytes64(id.PartitionKey))
		rev := make([]byte, 16)
		for i := range rev {
			rev[i] = id.UUID[15-i]
		}
		uuidLE := new(big.Int).SetBytes(rev)
		want := "inv_1" + base62Big(pkLE, 11) + base62Big(uuidLE, 22)
		if got := id.String(); got != want {
			t.Errorf("String(%x/%x) = %s, want %s", id.PartitionKey, id.UUID, got, want)
		}
		back, err := ParseInvocationID(want)
		if err != nil || back != id {
			t.Errorf("ParseInvocationID(%s) = %v, %v; want %v", want, back, err, id)
		}
	}
}

func TestParseInvocationIDErrors(t *testing.T) {
	valid := exampleInvocationID
	cases := map[string]string{
		"":                                "missing",
		"inv1gdJBtd":                      "missing",
		"dp_1" + valid[5:]:                "resource type",
		"inv_2" + valid[5:]:               "version",
		"inv_":                            "version",
		valid[:37]:                        "characters",
		valid + "0":                       "characters",
		"inv_1" + strings.Repeat("Z", 33): "overflows 64 bits",
		"inv_1" + strings.Repeat("0", 11) + strings.Repeat("Z", 22):       "overflows 128 bits",
		"inv_1" + strings.Repeat("0", 10) + "-" + strings.Repeat("0", 22): "invalid base62 character",
	}
	for in, wantErr := range cases {
		_, err := ParseInvocationID(in)
		if err == nil {
			t.Errorf("ParseInvocationID(%q) succeeded, want error containing %q", in, wantErr)
			continue
		}
		if !strings.Contains(err.Error(), wantErr) {
			t.Errorf("ParseInvocationID(%q) error %q does not mention %q", in, err, wantErr)
		}
	}
}

func TestBase62Boundaries(t *testing.T) {
	// The largest 11-digit value that fits in 64 bits parses; one more
	// overflows. Same for 22 digits and 128 bits.
	max64 := string(appendBase62U64(nil, ^uint64(0)))
	if v, err := decodeBase62U64(max64); err != nil || v != ^uint64(0) {
		t.Fatalf("decode(%s) = %d, %v", max64, v, err)
	}
	over := new(big.Int).Lsh(big.NewInt(1), 64)
	if _, err := decodeBase62U64(base62Big(over, 11)); err == nil {
		t.Error("2^64 decoded without overflow error")
	}
	max128 := string(appendBase62U128(nil, ^uint64(0), ^uint64(0)))
	if hi, lo, err := decodeBase62U128(max128); err != nil || hi != ^uint64(0) || lo != ^uint64(0) {
		t.Fatalf("decode(%s) = %x:%x, %v", max128, hi, lo, err)
	}
	over = new(big.Int).Lsh(big.NewInt(1), 128)
	if _, _, err := decodeBase62U128(base62Big(over, 22)); err == nil {
		t.Error("2^128 decoded without overflow error")
	}
}

func TestInvocationIDBytes(t *testing.T) {
	id := InvocationID{PartitionKey: 0x0102030405060708, UUID: [16]byte{0xa0, 15: 0xaf}}
	b := id.Bytes()
	want := append([]byte{1, 2, 3, 4, 5, 6, 7, 8, 0xa0}, make([]byte, 14)...)
	want = append(want, 0xaf)
	if !bytes.Equal(b[:], want) {
		t.Fatalf("Bytes() = %x, want %x", b, want)
	}
	back, err := InvocationIDFromBytes(b[:])
	if err != nil || back != id {
		t.Fatalf("InvocationIDFromBytes = %v, %v", back, err)
	}
	for _, n := range []int{0, 23, 25} {
		if _, err := InvocationIDFromBytes(make([]byte, n)); err == nil {
			t.Errorf("InvocationIDFromBytes accepted %d bytes", n)
		}
	}
}

func TestNewInvocationIDIsULID(t *testing.T) {
	before := time.Now().Add(-time.Millisecond)
	a, b := NewInvocationID(7), NewInvocationID(7)
	after := time.Now().Add(time.Millisecond)
	if a.PartitionKey != 7 {
		t.Errorf("partition key = %d", a.PartitionKey)
	}
	if ts := a.ULIDTime(); ts.Before(before) || ts.After(after) {
		t.Errorf("ULID time %v not within [%v, %v]", ts, before, after)
	}
	if a == b {
		t.Error("two fresh ids are equal")
	}
}

func TestDeterministicInvocationID(t *testing.T) {
	got := DeterministicInvocationID(5, "wf", "Signup", "alice")
	sum := sha256.Sum256([]byte("wf,Signup,alice"))
	if got.PartitionKey != 5 || !bytes.Equal(got.UUID[:], sum[:16]) {
		t.Fatalf("DeterministicInvocationID = %x, want %x", got.UUID, sum[:16])
	}
	if WorkflowRunID(5, "", "Signup", "alice") != got {
		t.Error("WorkflowRunID differs from the wf,svc,key layout")
	}
	scoped := sha256.Sum256([]byte("wf,tenant,Signup,alice"))
	if id := WorkflowRunID(5, "tenant", "Signup", "alice"); !bytes.Equal(id.UUID[:], scoped[:16]) {
		t.Error("scoped WorkflowRunID does not put the scope after \"wf\"")
	}

	// A keyed target with an empty key still includes the separator.
	keyed := sha256.Sum256([]byte("ik,Counter,,add,k1"))
	if id := IdempotentRequestID(1, "", "Counter", "", true, "add", "k1"); !bytes.Equal(id.UUID[:], keyed[:16]) {
		t.Error("IdempotentRequestID with an empty key")
	}
	unkeyed := sha256.Sum256([]byte("ik,Greeter,greet,k1"))
	if id := IdempotentRequestID(1, "", "Greeter", "", false, "greet", "k1"); !bytes.Equal(id.UUID[:], unkeyed[:16]) {
		t.Error("IdempotentRequestID without key")
	}
	scopedIK := sha256.Sum256([]byte("ik,s,Counter,c1,add,k1"))
	if id := IdempotentRequestID(1, "s", "Counter", "c1", true, "add", "k1"); !bytes.Equal(id.UUID[:], scopedIK[:16]) {
		t.Error("scoped IdempotentRequestID")
	}
	long := strings.Repeat("x", 1000)
	sumLong := sha256.Sum256([]byte("wf,S," + long))
	if id := WorkflowRunID(0, "", "S", long); !bytes.Equal(id.UUID[:], sumLong[:16]) {
		t.Error("long parts")
	}
}

func TestAwakeableIDVector(t *testing.T) {
	var raw [24]byte
	for i := range raw {
		raw[i] = 0xAB
	}
	inv, err := InvocationIDFromBytes(raw[:])
	if err != nil {
		t.Fatal(err)
	}
	const want = "sign_1q6urq6urq6urq6urq6urq6urq6urq6urAAAAEQ"
	if got := AwakeableID(inv, 17); got != want {
		t.Fatalf("AwakeableID = %s, want %s", got, want)
	}
	for _, in := range []string{want, want + "=="} {
		gotInv, idx, legacy, err := ParseAwakeableID(in)
		if err != nil || gotInv != inv || idx != 17 || legacy {
			t.Errorf("ParseAwakeableID(%s) = %v, %d, %v, %v", in, gotInv, idx, legacy, err)
		}
	}
	legacyID := "prom_1" + want[len("sign_1"):]
	gotInv, idx, legacy, err := ParseAwakeableID(legacyID)
	if err != nil || gotInv != inv || idx != 17 || !legacy {
		t.Errorf("ParseAwakeableID(%s) = %v, %d, %v, %v", legacyID, gotInv, idx, legacy, err)
	}
}

func TestParseAwakeableIDErrors(t *testing.T) {
	good := "sign_1q6urq6urq6urq6urq6urq6urq6urq6urAAAAEQ"
	for _, in := range []string{
		"",
		"sign_2q6urq6urq6urq6urq6urq6urq6urq6urAAAAEQ",
		"inv_1q6urq6urq6urq6urq6urq6urq6urq6urAAAAEQ",
		good[:len(good)-1],
		good + "A",
		good + "=",
		good + "====",
		good[:len(good)-1] + "R", // non-zero trailing bits
		strings.Replace(good, "q", "+", 1),
	} {
		if _, _, _, err := ParseAwakeableID(in); err == nil {
			t.Errorf("ParseAwakeableID(%q) succeeded", in)
		}
	}
}

func TestPartitionKeyForKey(t *testing.T) {
	for _, key := range []string{"", "a", "alice", strings.Repeat("k", 127), strings.Repeat("k", 128), strings.Repeat("k", 5000)} {
		want := xxh3.Hash(append([]byte(key), 0xFF))
		if got := PartitionKeyForKey(key); got != want {
			t.Errorf("PartitionKeyForKey(len %d) = %x, want %x", len(key), got, want)
		}
	}
	// Guard the hash function itself: XXH3-64 of the empty input with seed 0.
	if got := xxh3.Hash(nil); got != 0x2D06800538D394C2 {
		t.Fatalf("xxh3 of empty input = %x", got)
	}
}

func TestPartitionRanges(t *testing.T) {
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	for _, n := range []uint16{1, 2, 3, 7, 24, 64, 1000, 65535} {
		var next uint64
		for p := uint16(0); p < n; p++ {
			start, end := PartitionKeyRange(p, n)
			if start != next {
				t.Fatalf("N=%d partition %d starts at %d, want %d (gap or overlap)", n, p, start, next)
			}
			if end < start {
				t.Fatalf("N=%d partition %d: end %d < start %d", n, p, end, start)
			}
			// Cross-check against exact big-integer arithmetic.
			wantStart := ceilDivBig(new(big.Int).Mul(big.NewInt(int64(p)), two64), int64(n))
			if wantStart.Uint64() != start {
				t.Fatalf("N=%d partition %d start %d, want %s", n, p, start, wantStart)
			}
			if PartitionForKey(start, n) != p || PartitionForKey(end, n) != p {
				t.Fatalf("N=%d: PartitionForKey disagrees with range of partition %d", n, p)
			}
			if start > 0 && PartitionForKey(start-1, n) != p-1 {
				t.Fatalf("N=%d: key before partition %d maps to %d", n, p, PartitionForKey(start-1, n))
			}
			if p == n-1 {
				if end != ^uint64(0) {
					t.Fatalf("N=%d: last partition ends at %d", n, end)
				}
			} else {
				next = end + 1
			}
		}
	}
}

func ceilDivBig(a *big.Int, n int64) *big.Int {
	q, r := new(big.Int).QuoRem(a, big.NewInt(n), new(big.Int))
	if r.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	return q
}

func TestPartitionForKeyRandom(t *testing.T) {
	for range 10000 {
		pk := RandomPartitionKey()
		n := uint16(pk%200) + 1
		p := PartitionForKey(pk, n)
		start, end := PartitionKeyRange(p, n)
		if pk < start || pk > end {
			t.Fatalf("pk %d mapped to partition %d of %d with range [%d, %d]", pk, p, n, start, end)
		}
	}
}

func TestResourceIDs(t *testing.T) {
	dp := NewDeploymentID()
	if !strings.HasPrefix(dp, "dp_1") || len(dp) != 26 || !ValidDeploymentID(dp) {
		t.Fatalf("NewDeploymentID() = %q", dp)
	}
	u, err := ParseDeploymentID(dp)
	if err != nil {
		t.Fatal(err)
	}
	if ms := binary.BigEndian.Uint64(u[:8]) >> 16; time.Since(time.UnixMilli(int64(ms))) > time.Minute {
		t.Errorf("deployment id ULID timestamp %d is not recent", ms)
	}
	if NewDeploymentID() == dp {
		t.Error("two deployment ids are equal")
	}
	snap := NewSnapshotID()
	if !strings.HasPrefix(snap, "snap_1") || len(snap) != 28 || !ValidSnapshotID(snap) {
		t.Fatalf("NewSnapshotID() = %q", snap)
	}
	for _, bad := range []string{"", "dp_", "dp_1", dp[:25], dp + "0", "snap_1" + dp[4:], "dp_1" + strings.Repeat("Z", 22)} {
		if ValidDeploymentID(bad) {
			t.Errorf("ValidDeploymentID(%q) = true", bad)
		}
	}
	if ValidSnapshotID(dp) {
		t.Error("a deployment id is a valid snapshot id")
	}
}

func BenchmarkInvocationIDString(b *testing.B) {
	id := NewInvocationID(RandomPartitionKey())
	b.ReportAllocs()
	for b.Loop() {
		_ = id.String()
	}
}

func BenchmarkParseInvocationID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseInvocationID(exampleInvocationID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPartitionKeyForKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = PartitionKeyForKey("customer-123456")
	}
}
