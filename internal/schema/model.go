// Package schema holds what the cluster knows about registered deployments, their services and
// handlers. The whole schema is one immutable Snapshot, persisted as JSON under the "schema" key
// of the metadata store and replaced by compare-and-set; readers take the current snapshot
// without locking.
//
// Everything reachable from a Snapshot is shared between goroutines and must be treated as
// read-only.
package schema

import (
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// ServiceType is a service kind, spelled as the admin API spells it.
type ServiceType string

const (
	ServiceTypeService       ServiceType = "Service"
	ServiceTypeVirtualObject ServiceType = "VirtualObject"
	ServiceTypeWorkflow      ServiceType = "Workflow"
)

// HasState tells whether invocations of this service type are keyed and carry K/V state.
func (t ServiceType) HasState() bool {
	return t == ServiceTypeVirtualObject || t == ServiceTypeWorkflow
}

// HandlerType is a handler kind, spelled as the admin API spells it. Handlers of plain services
// have no type (the empty string).
type HandlerType string

const (
	HandlerTypeNone      HandlerType = ""
	HandlerTypeExclusive HandlerType = "Exclusive"
	HandlerTypeShared    HandlerType = "Shared"
	HandlerTypeWorkflow  HandlerType = "Workflow"
)

// ProtocolType is how invocations talk to a deployment.
type ProtocolType string

const (
	ProtocolTypeRequestResponse ProtocolType = "RequestResponse"
	ProtocolTypeBidiStream      ProtocolType = "BidiStream"
)

// OnMaxAttempts is what happens to an invocation once its retry attempts are exhausted.
type OnMaxAttempts string

const (
	OnMaxAttemptsPause OnMaxAttempts = "Pause"
	OnMaxAttemptsKill  OnMaxAttempts = "Kill"
)

// Deployment is a registered service endpoint.
type Deployment struct {
	ID                string            `json:"id"`
	URI               string            `json:"uri"`
	AdditionalHeaders map[string]string `json:"additional_headers,omitempty"`
	UseHTTP11         bool              `json:"use_http_11,omitempty"`
	ProtocolType      ProtocolType      `json:"protocol_type"`
	// HTTPVersion is the protocol the discovery answer came over, e.g. "HTTP/2.0".
	HTTPVersion        string `json:"http_version"`
	MinProtocolVersion int    `json:"min_protocol_version"`
	MaxProtocolVersion int    `json:"max_protocol_version"`
	// ProtocolVersion is the service protocol version negotiated for new invocations.
	ProtocolVersion int       `json:"protocol_version"`
	SDKVersion      string    `json:"sdk_version,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	// Services are the service revisions this deployment serves, by name. A service revision
	// stays here after a newer revision moved to another deployment, so invocations pinned to
	// this deployment still find their handlers.
	Services map[string]*Service `json:"services"`
}

// ServiceRevision names one service revision.
type ServiceRevision struct {
	Name     string
	Revision uint32
}

// ServiceRevisions lists the services of d sorted by name.
func (d *Deployment) ServiceRevisions() []ServiceRevision {
	out := make([]ServiceRevision, 0, len(d.Services))
	for _, s := range d.Services {
		out = append(out, ServiceRevision{Name: s.Name, Revision: s.Revision})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SortedServices lists the services of d sorted by name.
func (d *Deployment) SortedServices() []*Service {
	return sortedServices(d.Services)
}

// RetryPolicyOverrides are retry settings a deployment declared. Nil fields fall back (handler
// to service to server defaults).
type RetryPolicyOverrides struct {
	InitialInterval *time.Duration `json:"initial_interval,omitempty"`
	Factor          *float64       `json:"exponentiation_factor,omitempty"`
	// MaxAttempts counts the first attempt too.
	MaxAttempts   *int           `json:"max_attempts,omitempty"`
	MaxInterval   *time.Duration `json:"max_interval,omitempty"`
	OnMaxAttempts OnMaxAttempts  `json:"on_max_attempts,omitempty"`
}

// Service is one revision of a service. Nil option fields mean "use the server default".
type Service struct {
	Name         string              `json:"name"`
	Ty           ServiceType         `json:"ty"`
	Handlers     map[string]*Handler `json:"handlers"`
	DeploymentID string              `json:"deployment_id"`
	Revision     uint32              `json:"revision"`
	// Public services can be called through the ingress.
	Public        bool              `json:"public"`
	Documentation *string           `json:"documentation,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`

	IdempotencyRetention *time.Duration `json:"idempotency_retention,omitempty"`
	// WorkflowCompletionRetention is only set on workflows.
	WorkflowCompletionRetention *time.Duration       `json:"workflow_completion_retention,omitempty"`
	JournalRetention            *time.Duration       `json:"journal_retention,omitempty"`
	InactivityTimeout           *time.Duration       `json:"inactivity_timeout,omitempty"`
	AbortTimeout                *time.Duration       `json:"abort_timeout,omitempty"`
	EnableLazyState             *bool                `json:"enable_lazy_state,omitempty"`
	RetryPolicy                 RetryPolicyOverrides `json:"retry_policy"`

	// publicSetByManifest records, while a revision is being built, whether the deployment
	// declared the visibility itself; otherwise the previous revision's visibility is kept.
	publicSetByManifest bool
}

// Handler returns the named handler, or nil.
func (s *Service) Handler(name string) *Handler {
	if s == nil {
		return nil
	}
	return s.Handlers[name]
}

// SortedHandlers lists the handlers sorted by name.
func (s *Service) SortedHandlers() []*Handler {
	out := make([]*Handler, 0, len(s.Handlers))
	for _, h := range s.Handlers {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// HandlerPublic tells whether h can be called through the ingress: both the service and the
// handler must allow it.
func (s *Service) HandlerPublic(h *Handler) bool {
	return s.Public && (h.Public == nil || *h.Public)
}

// Handler is one handler of a service revision.
type Handler struct {
	Name string      `json:"name"`
	Ty   HandlerType `json:"ty,omitempty"`
	// Public is nil unless the deployment set it; see Service.HandlerPublic.
	Public        *bool             `json:"public,omitempty"`
	Documentation *string           `json:"documentation,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	Input         InputRules        `json:"input"`
	Output        OutputRules       `json:"output"`

	IdempotencyRetention        *time.Duration       `json:"idempotency_retention,omitempty"`
	WorkflowCompletionRetention *time.Duration       `json:"workflow_completion_retention,omitempty"`
	JournalRetention            *time.Duration       `json:"journal_retention,omitempty"`
	InactivityTimeout           *time.Duration       `json:"inactivity_timeout,omitempty"`
	AbortTimeout                *time.Duration       `json:"abort_timeout,omitempty"`
	EnableLazyState             *bool                `json:"enable_lazy_state,omitempty"`
	RetryPolicy                 RetryPolicyOverrides `json:"retry_policy"`
}

// InputRules say which request bodies a handler accepts. A request passes when any rule
// accepts it: the empty rule (no body and no content type) when AllowEmpty, and the content
// type rule when ContentType is set.
type InputRules struct {
	AllowEmpty bool `json:"allow_empty"`
	// ContentType is an Accept-style pattern: "*/*", "text/*" or "type/subtype". Empty means
	// no content type rule.
	ContentType string `json:"content_type,omitempty"`
	// JSONSchema, when set, also requires a non-empty body.
	JSONSchema json.RawMessage `json:"json_schema,omitempty"`
}

// DefaultInputRules apply when a manifest handler has no "input": an empty body, or any
// content type.
func DefaultInputRules() InputRules {
	return InputRules{AllowEmpty: true, ContentType: "*/*"}
}

// OutputRules say which content type the ingress puts on a handler's response.
type OutputRules struct {
	// ContentType is empty when the response carries no content type.
	ContentType           string          `json:"content_type,omitempty"`
	SetContentTypeIfEmpty bool            `json:"set_content_type_if_empty,omitempty"`
	JSONSchema            json.RawMessage `json:"json_schema,omitempty"`
}

// DefaultOutputRules apply when a manifest handler has no "output".
func DefaultOutputRules() OutputRules {
	return OutputRules{ContentType: "application/json"}
}

// InputValidationError is returned by Handler.ValidateInput. Its text follows Restate's
// ingress ("input validation error: ...").
type InputValidationError struct {
	Reason string
}

func (e *InputValidationError) Error() string { return "input validation error: " + e.Reason }

// ValidateInput checks a request body and its content type ("" when the request has none)
// against the handler's input rules.
func (h *Handler) ValidateInput(contentType string, body []byte) error {
	rules := h.Input
	var last string
	tried := false
	if rules.AllowEmpty {
		tried = true
		if len(body) == 0 && contentType == "" {
			return nil
		}
		if contentType == "" {
			last = "Expected body and content-type to be empty, but wasn't with content-type 'None'"
		} else {
			last = "Expected body and content-type to be empty, but wasn't with content-type 'Some(\"" + contentType + "\")'"
		}
	}
	if rules.ContentType != "" {
		tried = true
		switch {
		case contentType == "":
			last = "Empty content-type"
		case !contentTypeMatches(rules.ContentType, contentType):
			last = "Content-type '" + contentType + "' does not match '" + rules.ContentType + "'"
		case len(rules.JSONSchema) > 0 && len(body) == 0:
			last = "Empty body not allowed"
		default:
			return nil
		}
	}
	if !tried {
		last = "Bad configuration of the input validation rules"
	}
	return &InputValidationError{Reason: last}
}

// contentTypeMatches compares a request content type (parameters ignored) with a pattern.
func contentTypeMatches(pattern, contentType string) bool {
	if pattern == "*/*" {
		return true
	}
	ct, _, _ := strings.Cut(contentType, ";")
	typ, sub, ok := strings.Cut(strings.TrimSpace(ct), "/")
	if !ok {
		return false
	}
	pTyp, pSub, _ := strings.Cut(pattern, "/")
	if pTyp != typ {
		return false
	}
	return pSub == "*" || pSub == sub
}

// OutputContentType is the content type to put on a response of this handler; ok is false when
// none should be set.
func (h *Handler) OutputContentType(bodyEmpty bool) (contentType string, ok bool) {
	o := h.Output
	if o.ContentType == "" || (bodyEmpty && !o.SetContentTypeIfEmpty) {
		return "", false
	}
	return o.ContentType, true
}

// InputDescription is the human readable summary the admin API shows ("none", "*/*",
// "JSON 'Title'", "JSON object", ...).
func (h *Handler) InputDescription() string {
	r := h.Input
	rule := func() string {
		if len(r.JSONSchema) > 0 {
			return describeJSON(r.JSONSchema, r.ContentType)
		}
		return r.ContentType
	}
	switch {
	case r.AllowEmpty && r.ContentType != "":
		return rule()
	case r.AllowEmpty:
		return "none"
	case r.ContentType != "":
		return rule()
	}
	return "<invalid rules>"
}

// OutputDescription is the human readable summary of the output rules.
func (h *Handler) OutputDescription() string {
	o := h.Output
	fallback := "none"
	if o.ContentType != "" {
		fallback = o.ContentType
		if o.SetContentTypeIfEmpty {
			fallback = "optional " + fallback
		}
	}
	return describeJSON(o.JSONSchema, fallback)
}

func describeJSON(schema json.RawMessage, fallback string) string {
	var s struct {
		Title any `json:"title"`
		Type  any `json:"type"`
	}
	if len(schema) > 0 && json.Unmarshal(schema, &s) == nil {
		if t, ok := s.Title.(string); ok {
			return "JSON '" + t + "'"
		}
		if t, ok := s.Type.(string); ok {
			return "JSON " + t
		}
	}
	return fallback
}

func sortedServices(m map[string]*Service) []*Service {
	out := make([]*Service, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
