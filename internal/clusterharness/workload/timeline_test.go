package workload

import (
	"testing"
	"time"
)

func TestTimelineGaps(t *testing.T) {
	base := time.Unix(1000, 0)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	tl := NewTimeline()
	for _, ms := range []int{0, 100, 200, 300, 1300, 1400} {
		tl.Success("a", at(ms))
	}
	for _, ms := range []int{50, 150, 250, 350, 450, 550, 650} {
		tl.Success("b", at(ms))
	}

	if g := tl.LongestGap(at(0), at(1500)); g.From != at(650) || g.To != at(1300) {
		t.Fatalf("global gap = %v..%v", g.From, g.To)
	}
	if g := tl.LongestKeyGap(at(0), at(1500)); g.Key != "a" || g.Duration() != time.Second {
		t.Fatalf("key gap = %s %s", g.Key, g.Duration())
	}
	// The window's ends count as boundaries: nothing for b after 650.
	if g := tl.LongestKeyGap(at(600), at(2000)); g.Key != "b" || g.From != at(650) || g.To != at(2000) {
		t.Fatalf("key gap to window end = %s %v..%v", g.Key, g.From, g.To)
	}
	if g := tl.LongestGap(at(2000), at(2500)); g.Duration() != 500*time.Millisecond {
		t.Fatalf("empty window gap = %s", g.Duration())
	}
	if n := tl.Count(at(100), at(300)); n != 5 {
		t.Fatalf("count = %d, want 5", n)
	}
	if n := tl.CountKey("a", at(100), at(1300)); n != 4 {
		t.Fatalf("count of a = %d, want 4", n)
	}
}
