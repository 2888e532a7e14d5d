package invoker

import (
	"testing"
	"time"

	"github.com/restatego/restate/internal/schema"
	"github.com/restatego/restate/internal/wire"
)

func TestDecide(t *testing.T) {
	policy := schema.RetryPolicy{InitialInterval: 100 * time.Millisecond, Factor: 2, MaxAttempts: 5,
		MaxInterval: time.Second, OnMaxAttempts: schema.OnMaxAttemptsPause}
	killing := policy
	killing.OnMaxAttempts = schema.OnMaxAttemptsKill
	fallback := schema.RetryPolicy{InitialInterval: 2 * time.Second, Factor: 1, MaxAttempts: 3,
		OnMaxAttempts: schema.OnMaxAttemptsKill}
	ms := func(n int) *time.Duration { d := time.Duration(n) * time.Millisecond; return &d }

	cases := []struct {
		name     string
		policy   schema.RetryPolicy
		fallback schema.RetryPolicy
		f        FailedAttempt
		want     Decision
	}{
		{"first retry", policy, fallback, FailedAttempt{Attempts: 1}, Decision{ActionRetry, 100 * time.Millisecond}},
		{"grows by the factor", policy, fallback, FailedAttempt{Attempts: 3}, Decision{ActionRetry, 400 * time.Millisecond}},
		{"capped at max interval", unlimited(policy), fallback, FailedAttempt{Attempts: 30}, Decision{ActionRetry, time.Second}},
		{"max attempts pause", policy, fallback, FailedAttempt{Attempts: 5}, Decision{Action: ActionPause}},
		{"max attempts kill", killing, fallback, FailedAttempt{Attempts: 6}, Decision{Action: ActionKill}},
		{"deployment asks to fail", policy, fallback, FailedAttempt{Attempts: 1, Behavior: wire.BehaviorFail}, Decision{Action: ActionFail}},
		{"deployment asks to pause", policy, fallback, FailedAttempt{Attempts: 1, Behavior: wire.BehaviorPause}, Decision{Action: ActionPause}},
		{"deployment's delay", policy, fallback, FailedAttempt{Attempts: 1, RetryIn: ms(750)}, Decision{ActionRetry, 750 * time.Millisecond}},
		{"deployment's delay still counts attempts", policy, fallback, FailedAttempt{Attempts: 5, RetryIn: ms(750)}, Decision{Action: ActionPause}},
		{"deployment's zero delay is floored", policy, fallback, FailedAttempt{Attempts: 1, RetryIn: ms(0)}, Decision{ActionRetry, minRetryDelay}},
		// A handler that cannot be resolved any more came with an empty policy: it must back
		// off by the default policy and stop after its attempts, never retry in a loop.
		{"missing policy uses the fallback", schema.RetryPolicy{}, fallback, FailedAttempt{Attempts: 1}, Decision{ActionRetry, 2 * time.Second}},
		{"missing policy counts attempts", schema.RetryPolicy{}, fallback, FailedAttempt{Attempts: 3}, Decision{Action: ActionKill}},
		{"no fallback: Restate's default", schema.RetryPolicy{}, schema.RetryPolicy{}, FailedAttempt{Attempts: 2}, Decision{ActionRetry, time.Second}},
		{"zero interval is floored", schema.RetryPolicy{Factor: 2}, fallback, FailedAttempt{Attempts: 4}, Decision{ActionRetry, minRetryDelay}},
		{"huge factor is capped", schema.RetryPolicy{InitialInterval: time.Second, Factor: 1e300}, fallback, FailedAttempt{Attempts: 100}, Decision{ActionRetry, maxRetryDelay}},
	}
	for _, c := range cases {
		if got := Decide(c.policy, c.fallback, c.f); got != c.want {
			t.Errorf("%s: Decide = %v %s, want %v %s", c.name, got.Action, got.Delay, c.want.Action, c.want.Delay)
		}
	}
}

func unlimited(p schema.RetryPolicy) schema.RetryPolicy {
	p.MaxAttempts = 0
	return p
}

// TestDecideNeverRetriesAtOnce: whatever the policy and failure, a retry waits at least
// minRetryDelay, and attempts are bounded when the policy bounds them.
func TestDecideNeverRetriesAtOnce(t *testing.T) {
	policies := []schema.RetryPolicy{
		{},
		{Factor: 0.5},
		{InitialInterval: -time.Second},
		{InitialInterval: time.Nanosecond, Factor: 1, MaxInterval: time.Nanosecond},
		{InitialInterval: time.Millisecond, Factor: 3, MaxAttempts: 10},
	}
	retryIns := []*time.Duration{nil, new(time.Duration)}
	for _, p := range policies {
		for _, fb := range []schema.RetryPolicy{{}, {InitialInterval: time.Millisecond}} {
			for _, in := range retryIns {
				for attempts := uint32(0); attempts < 40; attempts++ {
					d := Decide(p, fb, FailedAttempt{Attempts: attempts, RetryIn: in})
					if d.Action == ActionRetry && d.Delay < minRetryDelay {
						t.Fatalf("policy %+v fallback %+v attempt %d: retry after %s", p, fb, attempts, d.Delay)
					}
					if p.MaxAttempts > 0 && int(attempts) >= p.MaxAttempts && d.Action == ActionRetry {
						t.Fatalf("policy %+v: attempt %d retried past max attempts", p, attempts)
					}
				}
			}
		}
	}
}
