package schema

import "time"

// RetryPolicy is a complete retry policy.
type RetryPolicy struct {
	InitialInterval time.Duration
	Factor          float64
	// MaxAttempts counts the first attempt; 0 means unlimited.
	MaxAttempts   int
	MaxInterval   time.Duration
	OnMaxAttempts OnMaxAttempts
}

// Defaults are the server-wide values used where neither the handler nor the service (nor an
// admin override) set one. They come from the server configuration.
type Defaults struct {
	InactivityTimeout           time.Duration
	AbortTimeout                time.Duration
	IdempotencyRetention        time.Duration
	WorkflowCompletionRetention time.Duration
	// JournalRetention is how long journals of completed invocations are kept; 0 keeps none.
	JournalRetention time.Duration
	RetryPolicy      RetryPolicy
}

// RestateDefaults are Restate 1.5's built-in defaults.
func RestateDefaults() Defaults {
	return Defaults{
		InactivityTimeout:           time.Minute,
		AbortTimeout:                time.Minute,
		IdempotencyRetention:        24 * time.Hour,
		WorkflowCompletionRetention: 24 * time.Hour,
		JournalRetention:            24 * time.Hour,
		RetryPolicy: RetryPolicy{
			InitialInterval: 500 * time.Millisecond,
			Factor:          2,
			MaxAttempts:     200,
			MaxInterval:     20 * time.Second,
			OnMaxAttempts:   OnMaxAttemptsPause,
		},
	}
}

// ResolvedOptions are the effective settings for invocations of one handler.
type ResolvedOptions struct {
	Public                      bool
	InactivityTimeout           time.Duration
	AbortTimeout                time.Duration
	IdempotencyRetention        time.Duration
	WorkflowCompletionRetention time.Duration
	JournalRetention            time.Duration
	EnableLazyState             bool
	RetryPolicy                 RetryPolicy
}

// Resolve computes the effective options of handler h of service s: handler value, else
// service value, else d. WorkflowCompletionRetention is only meaningful for workflow handlers.
func (s *Service) Resolve(h *Handler, d Defaults) ResolvedOptions {
	pick := func(handler, service *time.Duration, def time.Duration) time.Duration {
		if handler != nil {
			return *handler
		}
		if service != nil {
			return *service
		}
		return def
	}
	r := ResolvedOptions{
		Public:                      s.HandlerPublic(h),
		InactivityTimeout:           pick(h.InactivityTimeout, s.InactivityTimeout, d.InactivityTimeout),
		AbortTimeout:                pick(h.AbortTimeout, s.AbortTimeout, d.AbortTimeout),
		IdempotencyRetention:        pick(h.IdempotencyRetention, s.IdempotencyRetention, d.IdempotencyRetention),
		WorkflowCompletionRetention: pick(h.WorkflowCompletionRetention, s.WorkflowCompletionRetention, d.WorkflowCompletionRetention),
		JournalRetention:            pick(h.JournalRetention, s.JournalRetention, d.JournalRetention),
		RetryPolicy:                 s.RetryPolicy.apply(h.RetryPolicy, d.RetryPolicy),
	}
	switch {
	case h.EnableLazyState != nil:
		r.EnableLazyState = *h.EnableLazyState
	case s.EnableLazyState != nil:
		r.EnableLazyState = *s.EnableLazyState
	}
	return r
}

// ServiceRetryPolicy is the service-level retry policy with server defaults filled in.
func (s *Service) ServiceRetryPolicy(d Defaults) RetryPolicy {
	return s.RetryPolicy.apply(RetryPolicyOverrides{}, d.RetryPolicy)
}

// apply layers handler overrides over service overrides (the receiver) over def.
func (service RetryPolicyOverrides) apply(handler RetryPolicyOverrides, def RetryPolicy) RetryPolicy {
	p := def
	for _, o := range []RetryPolicyOverrides{service, handler} {
		if o.InitialInterval != nil {
			p.InitialInterval = *o.InitialInterval
		}
		if o.Factor != nil {
			p.Factor = *o.Factor
		}
		if o.MaxAttempts != nil {
			p.MaxAttempts = *o.MaxAttempts
		}
		if o.MaxInterval != nil {
			p.MaxInterval = *o.MaxInterval
		}
		if o.OnMaxAttempts != "" {
			p.OnMaxAttempts = o.OnMaxAttempts
		}
	}
	return p
}
