package ids

import "testing"

func FuzzParseInvocationID(f *testing.F) {
	f.Add(exampleInvocationID)
	f.Add("inv_1" + "00000000000" + "0000000000000000000000")
	f.Add("inv_1zzzzzzzzzzzZZZZZZZZZZZZZZZZZZZZZZZZ")
	f.Add("inv_")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseInvocationID(s)
		if err != nil {
			return
		}
		// Every valid id has exactly one spelling.
		if got := id.String(); got != s {
			t.Fatalf("ParseInvocationID(%q).String() = %q", s, got)
		}
		b := id.Bytes()
		back, err := InvocationIDFromBytes(b[:])
		if err != nil || back != id {
			t.Fatalf("bytes round trip: %v, %v", back, err)
		}
	})
}

func FuzzParseAwakeableID(f *testing.F) {
	f.Add("sign_1q6urq6urq6urq6urq6urq6urq6urq6urAAAAEQ")
	f.Add("sign_1q6urq6urq6urq6urq6urq6urq6urq6urAAAAEQ==")
	f.Add("prom_1q6urq6urq6urq6urq6urq6urq6urq6urAAAAEQ")
	f.Add("sign_1")
	f.Fuzz(func(t *testing.T, s string) {
		inv, idx, legacy, err := ParseAwakeableID(s)
		if err != nil {
			return
		}
		again := AwakeableID(inv, idx)
		if legacy {
			again = "prom_1" + again[len("sign_1"):]
		}
		inv2, idx2, legacy2, err := ParseAwakeableID(again)
		if err != nil || inv2 != inv || idx2 != idx || legacy2 != legacy {
			t.Fatalf("round trip of %q via %q: %v %d %v %v", s, again, inv2, idx2, legacy2, err)
		}
		// Apart from optional padding, the spelling is unique.
		if s != again && s != again+"==" {
			t.Fatalf("%q parsed but re-encodes as %q", s, again)
		}
	})
}
