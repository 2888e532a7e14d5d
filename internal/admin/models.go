package admin

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/restatego/restate/internal/duration"
	"github.com/restatego/restate/internal/redact"
	"github.com/restatego/restate/internal/schema"
)

// The response shapes below follow Restate's admin REST model field by field (names, order,
// omission rules) so the official CLI and UI can decode them.

type serviceNameRevPair struct {
	Name     string `json:"name"`
	Revision uint32 `json:"revision"`
}

type deploymentResponse struct {
	ID                 string            `json:"id"`
	URI                string            `json:"uri"`
	ProtocolType       string            `json:"protocol_type"`
	HTTPVersion        string            `json:"http_version"`
	AdditionalHeaders  map[string]string `json:"additional_headers,omitempty"`
	CreatedAt          string            `json:"created_at"`
	MinProtocolVersion int               `json:"min_protocol_version"`
	MaxProtocolVersion int               `json:"max_protocol_version"`
	SDKVersion         string            `json:"sdk_version,omitempty"`
	// Services is []serviceNameRevPair in lists and []serviceMetadata in the detailed view.
	Services any `json:"services"`
}

type listDeploymentsResponse struct {
	Deployments []deploymentResponse `json:"deployments"`
}

type registerDeploymentResponse struct {
	ID                 string            `json:"id"`
	Services           []serviceMetadata `json:"services"`
	MinProtocolVersion int               `json:"min_protocol_version"`
	MaxProtocolVersion int               `json:"max_protocol_version"`
	SDKVersion         string            `json:"sdk_version,omitempty"`
}

type serviceRetryPolicy struct {
	InitialInterval      string  `json:"initial_interval"`
	ExponentiationFactor float64 `json:"exponentiation_factor"`
	MaxAttempts          *int    `json:"max_attempts"`
	MaxInterval          *string `json:"max_interval"`
	OnMaxAttempts        string  `json:"on_max_attempts"`
}

type handlerRetryPolicy struct {
	InitialInterval      *string  `json:"initial_interval,omitempty"`
	ExponentiationFactor *float64 `json:"exponentiation_factor,omitempty"`
	MaxAttempts          *int     `json:"max_attempts,omitempty"`
	MaxInterval          *string  `json:"max_interval,omitempty"`
	OnMaxAttempts        string   `json:"on_max_attempts,omitempty"`
}

type serviceMetadata struct {
	Name                        string             `json:"name"`
	Ty                          string             `json:"ty"`
	Handlers                    []handlerMetadata  `json:"handlers"`
	Documentation               *string            `json:"documentation,omitempty"`
	Metadata                    map[string]string  `json:"metadata,omitempty"`
	DeploymentID                string             `json:"deployment_id"`
	Revision                    uint32             `json:"revision"`
	Public                      bool               `json:"public"`
	IdempotencyRetention        string             `json:"idempotency_retention"`
	WorkflowCompletionRetention *string            `json:"workflow_completion_retention,omitempty"`
	JournalRetention            *string            `json:"journal_retention,omitempty"`
	InactivityTimeout           string             `json:"inactivity_timeout"`
	AbortTimeout                string             `json:"abort_timeout"`
	EnableLazyState             bool               `json:"enable_lazy_state"`
	RetryPolicy                 serviceRetryPolicy `json:"retry_policy"`
}

type handlerMetadata struct {
	Name                 string             `json:"name"`
	Ty                   string             `json:"ty,omitempty"`
	Documentation        *string            `json:"documentation,omitempty"`
	Metadata             map[string]string  `json:"metadata,omitempty"`
	IdempotencyRetention *string            `json:"idempotency_retention,omitempty"`
	JournalRetention     *string            `json:"journal_retention,omitempty"`
	InactivityTimeout    *string            `json:"inactivity_timeout,omitempty"`
	AbortTimeout         *string            `json:"abort_timeout,omitempty"`
	EnableLazyState      *bool              `json:"enable_lazy_state,omitempty"`
	Public               bool               `json:"public"`
	InputDescription     string             `json:"input_description"`
	OutputDescription    string             `json:"output_description"`
	InputJSONSchema      json.RawMessage    `json:"input_json_schema,omitempty"`
	OutputJSONSchema     json.RawMessage    `json:"output_json_schema,omitempty"`
	RetryPolicy          handlerRetryPolicy `json:"retry_policy"`
}

type listServicesResponse struct {
	Services []serviceMetadata `json:"services"`
}

type listHandlersResponse struct {
	Handlers []handlerMetadata `json:"handlers"`
}

type versionResponse struct {
	Version            string          `json:"version"`
	MinAdminAPIVersion int             `json:"min_admin_api_version"`
	MaxAdminAPIVersion int             `json:"max_admin_api_version"`
	IngressEndpoint    *string         `json:"ingress_endpoint"`
	Features           map[string]bool `json:"features"`
}

type errorResponse struct {
	Message     string  `json:"message"`
	RestateCode *string `json:"restate_code"`
}

// formatTimestamp prints an RFC 3339 UTC timestamp with the smallest exact sub-second
// precision (none, milliseconds, microseconds, nanoseconds), as Restate's humantime does.
func formatTimestamp(t time.Time) string {
	t = t.UTC()
	ns := t.Nanosecond()
	switch {
	case ns == 0:
		return t.Format("2006-01-02T15:04:05Z")
	case ns%1_000_000 == 0:
		return t.Format("2006-01-02T15:04:05.000Z")
	case ns%1_000 == 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	}
	return t.Format("2006-01-02T15:04:05.000000000Z")
}

func formatDuration(d time.Duration) string { return duration.Format(d) }

func formatDurationPtr(d *time.Duration) *string {
	if d == nil {
		return nil
	}
	s := duration.Format(*d)
	return &s
}

func valueOr(d *time.Duration, def time.Duration) time.Duration {
	if d != nil {
		return *d
	}
	return def
}

func toServiceMetadata(s *schema.Service, d schema.Defaults) serviceMetadata {
	rp := s.ServiceRetryPolicy(d)
	out := serviceMetadata{
		Name:                 s.Name,
		Ty:                   string(s.Ty),
		Handlers:             make([]handlerMetadata, 0, len(s.Handlers)),
		Documentation:        s.Documentation,
		Metadata:             s.Metadata,
		DeploymentID:         s.DeploymentID,
		Revision:             s.Revision,
		Public:               s.Public,
		IdempotencyRetention: formatDuration(valueOr(s.IdempotencyRetention, d.IdempotencyRetention)),
		JournalRetention:     formatDurationPtr(s.JournalRetention),
		InactivityTimeout:    formatDuration(valueOr(s.InactivityTimeout, d.InactivityTimeout)),
		AbortTimeout:         formatDuration(valueOr(s.AbortTimeout, d.AbortTimeout)),
		EnableLazyState:      s.EnableLazyState != nil && *s.EnableLazyState,
		RetryPolicy: serviceRetryPolicy{
			InitialInterval:      formatDuration(rp.InitialInterval),
			ExponentiationFactor: rp.Factor,
			OnMaxAttempts:        string(rp.OnMaxAttempts),
		},
	}
	if rp.MaxAttempts > 0 {
		n := rp.MaxAttempts
		out.RetryPolicy.MaxAttempts = &n
	}
	if rp.MaxInterval > 0 {
		out.RetryPolicy.MaxInterval = formatDurationPtr(&rp.MaxInterval)
	}
	if s.Ty == schema.ServiceTypeWorkflow {
		v := formatDuration(valueOr(s.WorkflowCompletionRetention, d.WorkflowCompletionRetention))
		out.WorkflowCompletionRetention = &v
	}
	for _, h := range s.SortedHandlers() {
		out.Handlers = append(out.Handlers, toHandlerMetadata(s, h))
	}
	return out
}

func toHandlerMetadata(s *schema.Service, h *schema.Handler) handlerMetadata {
	out := handlerMetadata{
		Name:                 h.Name,
		Ty:                   string(h.Ty),
		Documentation:        h.Documentation,
		Metadata:             h.Metadata,
		IdempotencyRetention: formatDurationPtr(h.IdempotencyRetention),
		JournalRetention:     formatDurationPtr(h.JournalRetention),
		InactivityTimeout:    formatDurationPtr(h.InactivityTimeout),
		AbortTimeout:         formatDurationPtr(h.AbortTimeout),
		EnableLazyState:      h.EnableLazyState,
		Public:               s.HandlerPublic(h),
		InputDescription:     h.InputDescription(),
		OutputDescription:    h.OutputDescription(),
		InputJSONSchema:      h.Input.JSONSchema,
		OutputJSONSchema:     h.Output.JSONSchema,
		RetryPolicy: handlerRetryPolicy{
			InitialInterval:      formatDurationPtr(h.RetryPolicy.InitialInterval),
			ExponentiationFactor: h.RetryPolicy.Factor,
			MaxAttempts:          h.RetryPolicy.MaxAttempts,
			MaxInterval:          formatDurationPtr(h.RetryPolicy.MaxInterval),
			OnMaxAttempts:        string(h.RetryPolicy.OnMaxAttempts),
		},
	}
	return out
}

func toDeploymentResponse(dep *schema.Deployment, detailed bool, d schema.Defaults) deploymentResponse {
	out := deploymentResponse{
		ID: dep.ID,
		// Shown without credentials: user info and credential-bearing header values are
		// hidden; the schema keeps the real ones for the calls.
		URI:                redact.URI(dep.URI),
		ProtocolType:       string(dep.ProtocolType),
		HTTPVersion:        dep.HTTPVersion,
		AdditionalHeaders:  redact.Headers(dep.AdditionalHeaders),
		CreatedAt:          formatTimestamp(dep.CreatedAt),
		MinProtocolVersion: dep.MinProtocolVersion,
		MaxProtocolVersion: dep.MaxProtocolVersion,
		SDKVersion:         dep.SDKVersion,
	}
	if detailed {
		svcs := make([]serviceMetadata, 0, len(dep.Services))
		for _, s := range dep.SortedServices() {
			svcs = append(svcs, toServiceMetadata(s, d))
		}
		out.Services = svcs
	} else {
		revs := make([]serviceNameRevPair, 0, len(dep.Services))
		for _, r := range dep.ServiceRevisions() {
			revs = append(revs, serviceNameRevPair{Name: r.Name, Revision: r.Revision})
		}
		out.Services = revs
	}
	return out
}

func errorBody(message, code string) errorResponse {
	e := errorResponse{Message: message}
	if code != "" {
		c := code
		e.RestateCode = &c
		e.Message = fmt.Sprintf("[%s] %s", code, message)
	}
	return e
}
