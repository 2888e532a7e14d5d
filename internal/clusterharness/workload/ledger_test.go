package workload

import (
	"strings"
	"testing"
)

func history(entries map[string]LedgerEntry) *LedgerHistory { return &LedgerHistory{Entries: entries} }

func TestCheckLedger(t *testing.T) {
	h := history(map[string]LedgerEntry{
		"x1": {Key: "a", Outcome: Acked},
		"x2": {Key: "a", Outcome: Acked},
		"x3": {Key: "b", Outcome: Acked},
		"m1": {Key: "a", Outcome: Maybe},
		"m2": {Key: "b", Outcome: Maybe},
		"f1": {Key: "b", Outcome: Failed},
	})
	cases := []struct {
		name     string
		contents map[string][]string
		wantErr  string
	}{
		{"every acked once, ambiguous present or not", map[string][]string{"a": {"x1", "m1", "x2"}, "b": {"x3"}}, ""},
		{"lost acknowledged append", map[string][]string{"a": {"x1"}, "b": {"x3"}}, "1 acknowledged appends lost (e.g. x2)"},
		{"acknowledged append applied twice", map[string][]string{"a": {"x1", "x2", "x2"}, "b": {"x3"}}, "applied more than once (e.g. x2 x2)"},
		{"ambiguous append applied twice", map[string][]string{"a": {"x1", "x2", "m1", "m1"}, "b": {"x3"}}, "m1 x2"},
		{"duplicate across keys", map[string][]string{"a": {"x1", "x2", "x3"}, "b": {"x3"}}, "x3 x2"},
		{"entry never sent", map[string][]string{"a": {"x1", "x2", "zz"}, "b": {"x3"}}, "1 entries never sent (e.g. zz)"},
		{"entry that never reached a server", map[string][]string{"a": {"x1", "x2"}, "b": {"x3", "f1"}}, "never sent (e.g. f1)"},
		{"entry under the wrong key", map[string][]string{"a": {"x1", "x2", "x3"}, "b": {}}, "1 entries under the wrong key (e.g. x3)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckLedger(h, tc.contents).Err()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected violation: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("violation not detected, want %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q does not contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestCheckLedgerCounts(t *testing.T) {
	h := history(map[string]LedgerEntry{
		"x1": {Key: "a", Outcome: Acked},
		"m1": {Key: "a", Outcome: Maybe},
		"m2": {Key: "a", Outcome: Maybe},
		"f1": {Key: "a", Outcome: Failed},
	})
	rep := CheckLedger(h, map[string][]string{"a": {"m2", "x1"}})
	if rep.Acked != 1 || rep.Maybe != 2 || rep.Failed != 1 || rep.MaybePresent != 1 {
		t.Fatalf("report = %+v", rep)
	}
	if got := rep.String(); got != "1 acked, 2 ambiguous (1 applied), 1 never delivered" {
		t.Fatalf("summary = %q", got)
	}
}
