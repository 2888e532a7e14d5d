package wire

import "testing"

func TestContentTypes(t *testing.T) {
	if got := InvocationContentType(5); got != "application/vnd.restate.invocation.v5" {
		t.Errorf("InvocationContentType(5) = %s", got)
	}
	if got := ManifestContentType(3); got != "application/vnd.restate.endpointmanifest.v3+json" {
		t.Errorf("ManifestContentType(3) = %s", got)
	}
	for v := 1; v <= 12; v++ {
		if got, err := ParseInvocationContentType(InvocationContentType(v)); err != nil || got != v {
			t.Errorf("invocation v%d: %d %v", v, got, err)
		}
		if got, err := ParseManifestContentType(ManifestContentType(v)); err != nil || got != v {
			t.Errorf("manifest v%d: %d %v", v, got, err)
		}
	}
	lenient := map[string]int{
		" application/vnd.restate.invocation.v7 ":          7,
		"application/vnd.restate.invocation.v6; charset=x": 6,
		"Application/VND.Restate.Invocation.V5":            5,
	}
	for in, want := range lenient {
		if got, err := ParseInvocationContentType(in); err != nil || got != want {
			t.Errorf("ParseInvocationContentType(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{
		"", "application/json", "application/vnd.restate.invocation.v", "application/vnd.restate.invocation.v0",
		"application/vnd.restate.invocation.v-1", "application/vnd.restate.invocation.v+5",
		"application/vnd.restate.invocation.v5x", "application/vnd.restate.endpointmanifest.v3+json",
	} {
		if v, err := ParseInvocationContentType(bad); err == nil {
			t.Errorf("ParseInvocationContentType(%q) = %d, want error", bad, v)
		}
	}
	if _, err := ParseManifestContentType("application/vnd.restate.endpointmanifest.v3"); err == nil {
		t.Error("manifest content type without +json accepted")
	}
}

func TestNegotiateVersion(t *testing.T) {
	cases := []struct {
		lo, hi, want int
		ok           bool
	}{
		{5, 7, 7, true}, // sdk-go v1.2.0
		{5, 8, 7, true}, // newer SDK
		{1, 5, 5, true}, // older SDK that still speaks V5
		{6, 6, 6, true},
		{1, 4, 0, false}, // pre-V5 only
		{8, 9, 0, false}, // too new
		{7, 5, 0, false}, // empty range
	}
	for _, c := range cases {
		got, err := NegotiateVersion(c.lo, c.hi)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("NegotiateVersion(%d, %d) = %d, %v", c.lo, c.hi, got, err)
		}
	}
}
