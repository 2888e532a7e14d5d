package invoker

import (
	"math"
	"time"

	"github.com/restatego/restate/internal/schema"
	"github.com/restatego/restate/internal/wire"
)

// Action is what the invoker does after a failed attempt.
type Action int

const (
	// ActionRetry records the failure and starts another attempt after Decision.Delay.
	ActionRetry Action = iota
	// ActionPause records the failure and pauses the invocation until an operator resumes it.
	ActionPause
	// ActionKill records the failure and ends the invocation with it (retries exhausted under
	// on-max-attempts = kill).
	ActionKill
	// ActionFail ends the invocation with the failure at once: the deployment said the error
	// is not to be retried.
	ActionFail
)

func (a Action) String() string {
	switch a {
	case ActionRetry:
		return "retry"
	case ActionPause:
		return "pause"
	case ActionKill:
		return "kill"
	case ActionFail:
		return "fail"
	}
	return "unknown"
}

// Decision is the outcome of Decide.
type Decision struct {
	Action Action
	// Delay is the wait before the next attempt (ActionRetry only).
	Delay time.Duration
}

// FailedAttempt describes a failed attempt, whatever failed: the deployment could not be
// resolved or reached, it broke the protocol, or it sent an ErrorMessage.
type FailedAttempt struct {
	// Attempts is how many attempts were made so far, this one included (1 = the first).
	Attempts uint32
	// Behavior is what the deployment asked for in its ErrorMessage (retry by default).
	Behavior wire.ErrorBehavior
	// RetryIn is the delay the deployment asked for, if any.
	RetryIn *time.Duration
}

// minRetryDelay is the shortest wait between attempts of one invocation, whatever the policy
// or the deployment says: an invocation never retries in a tight loop.
const minRetryDelay = 10 * time.Millisecond

// maxRetryDelay caps a single backoff.
const maxRetryDelay = 24 * time.Hour

// Decide is the invoker's whole retry policy: given the effective policy of the handler (with
// fallback filling in a policy that is missing or incomplete, as when the deployment, service
// or handler can no longer be resolved) and the failed attempt, it says whether to retry and
// after how long, to pause or to end the invocation. It is pure: every failure path of an
// attempt goes through it, so all of them follow the same backoff and max-attempts rules.
func Decide(policy, fallback schema.RetryPolicy, f FailedAttempt) Decision {
	switch f.Behavior {
	case wire.BehaviorFail:
		return Decision{Action: ActionFail}
	case wire.BehaviorPause:
		return Decision{Action: ActionPause}
	}
	p := effectivePolicy(policy, fallback)
	if p.MaxAttempts > 0 && int64(f.Attempts) >= int64(p.MaxAttempts) {
		if p.OnMaxAttempts == schema.OnMaxAttemptsKill {
			return Decision{Action: ActionKill}
		}
		return Decision{Action: ActionPause}
	}
	delay := backoff(p, f.Attempts)
	if f.RetryIn != nil {
		delay = *f.RetryIn
	}
	return Decision{Action: ActionRetry, Delay: min(max(delay, minRetryDelay), maxRetryDelay)}
}

// effectivePolicy is policy, or fallback (else Restate's default) where policy is missing: a
// zero policy is what an unresolvable handler used to produce, and it meant retrying without
// pause and without limit.
func effectivePolicy(policy, fallback schema.RetryPolicy) schema.RetryPolicy {
	if policy != (schema.RetryPolicy{}) {
		return policy
	}
	if fallback != (schema.RetryPolicy{}) {
		return fallback
	}
	return schema.RestateDefaults().RetryPolicy
}

// backoff computes the delay before retry number n (1 = first retry): the initial interval
// grown by the factor per retry, capped at the policy's max interval.
func backoff(p schema.RetryPolicy, n uint32) time.Duration {
	if p.InitialInterval <= 0 {
		return 0
	}
	if n == 0 {
		n = 1
	}
	f := p.Factor
	if f < 1 {
		f = 1
	}
	d := float64(p.InitialInterval) * math.Pow(f, float64(n-1))
	if p.MaxInterval > 0 && d > float64(p.MaxInterval) {
		d = float64(p.MaxInterval)
	}
	if d > float64(maxRetryDelay) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(maxRetryDelay)
	}
	return time.Duration(d)
}
