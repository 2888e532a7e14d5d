package workload

import (
	"slices"
	"sync"
	"time"
)

// Timeline records when requests succeeded, per key, to measure unavailability: the longest
// stretch without a success while a node is down is the failover time clients see.
type Timeline struct {
	mu        sync.Mutex
	successes map[string][]time.Time
}

// NewTimeline returns an empty timeline.
func NewTimeline() *Timeline { return &Timeline{successes: map[string][]time.Time{}} }

// Success records a successful request for key at time at.
func (t *Timeline) Success(key string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.successes[key] = append(t.successes[key], at)
}

// Gap is a stretch of time without successes.
type Gap struct {
	// Key is the key the gap belongs to; empty for a gap across all keys.
	Key      string
	From, To time.Time
}

// Duration is the length of the gap.
func (g Gap) Duration() time.Duration { return g.To.Sub(g.From) }

// Count returns the number of successes in [from, to] over all keys.
func (t *Timeline) Count(from, to time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, times := range t.successes {
		n += len(within(times, from, to))
	}
	return n
}

// CountKey returns the number of successes for key in [from, to].
func (t *Timeline) CountKey(key string, from, to time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(within(t.successes[key], from, to))
}

// LongestGap returns the longest stretch in [from, to] with no success for any key: how
// long the cluster as a whole served nothing.
func (t *Timeline) LongestGap(from, to time.Time) Gap {
	t.mu.Lock()
	var all []time.Time
	for _, times := range t.successes {
		all = append(all, within(times, from, to)...)
	}
	t.mu.Unlock()
	slices.SortFunc(all, time.Time.Compare)
	return longestGap(all, from, to)
}

// LongestKeyGap returns, over every key seen so far, the longest stretch in [from, to] with
// no success for that key. Keys are spread over partitions, so this is what a client of a
// partition whose leader died waits for.
func (t *Timeline) LongestKeyGap(from, to time.Time) Gap {
	t.mu.Lock()
	defer t.mu.Unlock()
	var worst Gap
	for key, times := range t.successes {
		g := longestGap(within(times, from, to), from, to)
		if g.Duration() > worst.Duration() {
			worst, worst.Key = g, key
		}
	}
	return worst
}

// within returns the times in [from, to], sorted.
func within(times []time.Time, from, to time.Time) []time.Time {
	var out []time.Time
	for _, at := range times {
		if !at.Before(from) && !at.After(to) {
			out = append(out, at)
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	return out
}

// longestGap finds the longest gap between consecutive points of from, sorted..., to.
func longestGap(sorted []time.Time, from, to time.Time) Gap {
	var best Gap
	prev := from
	for i := 0; i <= len(sorted); i++ {
		at := to
		if i < len(sorted) {
			at = sorted[i]
		}
		if g := (Gap{From: prev, To: at}); i == 0 || g.Duration() > best.Duration() {
			best = g
		}
		prev = at
	}
	return best
}
