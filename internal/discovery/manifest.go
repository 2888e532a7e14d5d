// Package discovery asks a service deployment which services it serves (GET {uri}/discover) and
// decodes the endpoint manifest it answers with. It knows nothing about registered schemas: the
// caller (internal/schema) decides what to do with a manifest.
package discovery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"time"
)

// Service protocol versions this server can run. A deployment is accepted when its advertised
// range overlaps this one.
const (
	MinServiceProtocolVersion = 5
	MaxServiceProtocolVersion = 7
)

// ProtocolMode says how invocations talk to a deployment.
type ProtocolMode string

const (
	ProtocolModeBidiStream      ProtocolMode = "BIDI_STREAM"
	ProtocolModeRequestResponse ProtocolMode = "REQUEST_RESPONSE"
)

// ServiceType is the manifest spelling of a service kind.
type ServiceType string

const (
	ServiceTypeService       ServiceType = "SERVICE"
	ServiceTypeVirtualObject ServiceType = "VIRTUAL_OBJECT"
	ServiceTypeWorkflow      ServiceType = "WORKFLOW"
)

// HandlerType is the manifest spelling of a handler kind. Empty means "not given".
type HandlerType string

const (
	HandlerTypeExclusive HandlerType = "EXCLUSIVE"
	HandlerTypeShared    HandlerType = "SHARED"
	HandlerTypeWorkflow  HandlerType = "WORKFLOW"
)

// OnMaxAttempts is what the deployment asks the server to do once retries are exhausted.
type OnMaxAttempts string

const (
	OnMaxAttemptsPause OnMaxAttempts = "PAUSE"
	OnMaxAttemptsKill  OnMaxAttempts = "KILL"
)

// Manifest is a decoded endpoint manifest. Optional values are pointers so that "not set" and
// "set to zero" stay distinguishable: the schema layer falls back to earlier values or server
// defaults only for unset ones.
type Manifest struct {
	ProtocolMode       ProtocolMode
	MinProtocolVersion int
	MaxProtocolVersion int
	// LambdaCompression is only meaningful for Lambda deployments ("zstd").
	LambdaCompression string
	Services          []Service
}

// Options are the per-service / per-handler settings a deployment may declare.
type Options struct {
	InactivityTimeout    *time.Duration
	AbortTimeout         *time.Duration
	JournalRetention     *time.Duration
	IdempotencyRetention *time.Duration
	// WorkflowCompletionRetention is only valid on WORKFLOW handlers.
	WorkflowCompletionRetention *time.Duration
	EnableLazyState             *bool
	IngressPrivate              *bool

	RetryPolicyInitialInterval      *time.Duration
	RetryPolicyMaxInterval          *time.Duration
	RetryPolicyMaxAttempts          *int
	RetryPolicyExponentiationFactor *float64
	RetryPolicyOnMaxAttempts        *OnMaxAttempts
}

// Service is one service of a manifest.
type Service struct {
	Name          string
	Ty            ServiceType
	Documentation *string
	Metadata      map[string]string
	Handlers      []Handler
	Options
}

// Handler is one handler of a manifest service.
type Handler struct {
	Name string
	// Ty is empty when the manifest does not say; the schema layer applies per-service defaults.
	Ty            HandlerType
	Documentation *string
	Metadata      map[string]string
	// Input is nil when the manifest has no "input" object (Restate then accepts an empty body or
	// any content type). An empty object means "no body expected".
	Input *InputPayload
	// Output is nil when the manifest has no "output" object (Restate then answers
	// application/json). An empty object means "no content type".
	Output *OutputPayload
	Options
}

// InputPayload describes what a handler accepts.
type InputPayload struct {
	Required bool
	// ContentType is nil when no body is expected. It may use Accept-style wildcards.
	ContentType *string
	JSONSchema  json.RawMessage
}

// OutputPayload describes what a handler returns.
type OutputPayload struct {
	// ContentType is nil when the output carries no content type.
	ContentType           *string
	SetContentTypeIfEmpty bool
	JSONSchema            json.RawMessage
}

// The wire shapes mirror endpoint_manifest_schema.json. Durations are milliseconds.
type wireManifest struct {
	ProtocolMode       *string        `json:"protocolMode"`
	MinProtocolVersion *int64         `json:"minProtocolVersion"`
	MaxProtocolVersion *int64         `json:"maxProtocolVersion"`
	LambdaCompression  *string        `json:"lambdaCompression"`
	Services           *[]wireService `json:"services"`
}

type wireOptions struct {
	InactivityTimeout               *uint64  `json:"inactivityTimeout"`
	AbortTimeout                    *uint64  `json:"abortTimeout"`
	JournalRetention                *uint64  `json:"journalRetention"`
	IdempotencyRetention            *uint64  `json:"idempotencyRetention"`
	EnableLazyState                 *bool    `json:"enableLazyState"`
	IngressPrivate                  *bool    `json:"ingressPrivate"`
	RetryPolicyInitialInterval      *uint64  `json:"retryPolicyInitialInterval"`
	RetryPolicyMaxInterval          *uint64  `json:"retryPolicyMaxInterval"`
	RetryPolicyMaxAttempts          *uint64  `json:"retryPolicyMaxAttempts"`
	RetryPolicyExponentiationFactor *float64 `json:"retryPolicyExponentiationFactor"`
	RetryPolicyOnMaxAttempts        *string  `json:"retryPolicyOnMaxAttempts"`
}

type wireService struct {
	Name          *string           `json:"name"`
	Ty            *string           `json:"ty"`
	Documentation *string           `json:"documentation"`
	Metadata      map[string]string `json:"metadata"`
	Handlers      *[]wireHandler    `json:"handlers"`
	wireOptions
}

type wireHandler struct {
	Name                        *string           `json:"name"`
	Ty                          *string           `json:"ty"`
	Documentation               *string           `json:"documentation"`
	Metadata                    map[string]string `json:"metadata"`
	Input                       *wireInput        `json:"input"`
	Output                      *wireOutput       `json:"output"`
	WorkflowCompletionRetention *uint64           `json:"workflowCompletionRetention"`
	wireOptions
}

type wireInput struct {
	Required    *bool           `json:"required"`
	ContentType *string         `json:"contentType"`
	JSONSchema  json.RawMessage `json:"jsonSchema"`
}

type wireOutput struct {
	ContentType           *string         `json:"contentType"`
	SetContentTypeIfEmpty *bool           `json:"setContentTypeIfEmpty"`
	JSONSchema            json.RawMessage `json:"jsonSchema"`
}

// Name patterns from endpoint_manifest_schema.json.
var (
	serviceNamePattern = regexp.MustCompile(`^([a-zA-Z]|_[a-zA-Z0-9])[a-zA-Z0-9._-]*$`)
	handlerNamePattern = regexp.MustCompile(`^([a-zA-Z]|_[a-zA-Z0-9])[a-zA-Z0-9_]*$`)
)

// ParseManifest decodes and structurally checks a manifest: required fields, enum values, name
// patterns, number ranges and duplicate names. A missing protocol mode is reported as a bad
// response (as Restate does), everything else as a decode error. Semantic checks that depend on
// combinations (handler type vs service type, retention placement) are left to the schema
// layer, which reports them with Restate's schema error codes.
func ParseManifest(body []byte) (*Manifest, error) {
	var w wireManifest
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, decodeError(body, err)
	}
	return w.toManifest(body)
}

func decodeError(body []byte, err error) *Error {
	return &Error{
		Kind: KindDecode,
		msg:  fmt.Sprintf("received a bad response from the SDK that cannot be decoded: %v. Discovery response: %s", err, snippet(body)),
		Err:  err,
	}
}

func manifestFieldError(body []byte, format string, args ...any) *Error {
	return decodeError(body, fmt.Errorf(format, args...))
}

func (w *wireManifest) toManifest(body []byte) (*Manifest, error) {
	if w.MinProtocolVersion == nil {
		return nil, manifestFieldError(body, "missing field `minProtocolVersion`")
	}
	if w.MaxProtocolVersion == nil {
		return nil, manifestFieldError(body, "missing field `maxProtocolVersion`")
	}
	if w.Services == nil {
		return nil, manifestFieldError(body, "missing field `services`")
	}
	m := &Manifest{}
	if w.LambdaCompression != nil {
		if *w.LambdaCompression != "zstd" {
			return nil, manifestFieldError(body, "lambdaCompression: unknown value %q, expected \"zstd\"", *w.LambdaCompression)
		}
		m.LambdaCompression = *w.LambdaCompression
	}
	seen := make(map[string]bool, len(*w.Services))
	for i := range *w.Services {
		svc, err := (*w.Services)[i].toService(i)
		if err != nil {
			return nil, decodeError(body, err)
		}
		if seen[svc.Name] {
			return nil, manifestFieldError(body, "services[%d]: duplicate service name %q", i, svc.Name)
		}
		seen[svc.Name] = true
		m.Services = append(m.Services, svc)
	}

	// Restate checks these after decoding and reports them as a bad response, not a decode error.
	if w.ProtocolMode == nil {
		return nil, badResponse("missing protocol mode")
	}
	switch ProtocolMode(*w.ProtocolMode) {
	case ProtocolModeBidiStream, ProtocolModeRequestResponse:
		m.ProtocolMode = ProtocolMode(*w.ProtocolMode)
	default:
		return nil, manifestFieldError(body, "protocolMode: unknown value %q, expected BIDI_STREAM or REQUEST_RESPONSE", *w.ProtocolMode)
	}
	minV, maxV := *w.MinProtocolVersion, *w.MaxProtocolVersion
	if minV < 1 || minV > math.MaxInt32 {
		return nil, badResponse(fmt.Sprintf("min protocol version must be in [1, %d]", math.MaxInt32))
	}
	if maxV < 1 || maxV > math.MaxInt32 {
		return nil, badResponse(fmt.Sprintf("max protocol version must be in [1, %d]", math.MaxInt32))
	}
	if minV > maxV {
		return nil, badResponse(fmt.Sprintf("Expected min protocol version to be <= max protocol version. Received min protocol version '%d', max protocol version '%d'", minV, maxV))
	}
	m.MinProtocolVersion, m.MaxProtocolVersion = int(minV), int(maxV)
	return m, nil
}

func (w *wireService) toService(i int) (Service, error) {
	if w.Name == nil {
		return Service{}, fmt.Errorf("services[%d]: missing field `name`", i)
	}
	path := fmt.Sprintf("services[%d] (%q)", i, *w.Name)
	if !serviceNamePattern.MatchString(*w.Name) {
		return Service{}, fmt.Errorf("%s: invalid service name, it must match %s", path, serviceNamePattern)
	}
	if w.Ty == nil {
		return Service{}, fmt.Errorf("%s: missing field `ty`", path)
	}
	switch ServiceType(*w.Ty) {
	case ServiceTypeService, ServiceTypeVirtualObject, ServiceTypeWorkflow:
	default:
		return Service{}, fmt.Errorf("%s.ty: unknown service type %q, expected SERVICE, VIRTUAL_OBJECT or WORKFLOW", path, *w.Ty)
	}
	if w.Handlers == nil {
		return Service{}, fmt.Errorf("%s: missing field `handlers`", path)
	}
	opts, err := w.wireOptions.toOptions(path)
	if err != nil {
		return Service{}, err
	}
	svc := Service{
		Name:          *w.Name,
		Ty:            ServiceType(*w.Ty),
		Documentation: w.Documentation,
		Metadata:      w.Metadata,
		Options:       opts,
	}
	seen := make(map[string]bool, len(*w.Handlers))
	for j := range *w.Handlers {
		h, err := (*w.Handlers)[j].toHandler(path, j)
		if err != nil {
			return Service{}, err
		}
		if seen[h.Name] {
			return Service{}, fmt.Errorf("%s.handlers[%d]: duplicate handler name %q", path, j, h.Name)
		}
		seen[h.Name] = true
		svc.Handlers = append(svc.Handlers, h)
	}
	return svc, nil
}

func (w *wireHandler) toHandler(svcPath string, j int) (Handler, error) {
	if w.Name == nil {
		return Handler{}, fmt.Errorf("%s.handlers[%d]: missing field `name`", svcPath, j)
	}
	path := fmt.Sprintf("%s.handlers[%d] (%q)", svcPath, j, *w.Name)
	if !handlerNamePattern.MatchString(*w.Name) {
		return Handler{}, fmt.Errorf("%s: invalid handler name, it must match %s", path, handlerNamePattern)
	}
	h := Handler{Name: *w.Name, Documentation: w.Documentation, Metadata: w.Metadata}
	if w.Ty != nil {
		switch HandlerType(*w.Ty) {
		case HandlerTypeExclusive, HandlerTypeShared, HandlerTypeWorkflow:
			h.Ty = HandlerType(*w.Ty)
		default:
			return Handler{}, fmt.Errorf("%s.ty: unknown handler type %q, expected EXCLUSIVE, SHARED or WORKFLOW", path, *w.Ty)
		}
	}
	opts, err := w.wireOptions.toOptions(path)
	if err != nil {
		return Handler{}, err
	}
	if opts.WorkflowCompletionRetention, err = millis(path, "workflowCompletionRetention", w.WorkflowCompletionRetention); err != nil {
		return Handler{}, err
	}
	h.Options = opts
	if w.Input != nil {
		if err := checkJSONSchema(path+".input.jsonSchema", w.Input.JSONSchema); err != nil {
			return Handler{}, err
		}
		h.Input = &InputPayload{
			Required:    w.Input.Required != nil && *w.Input.Required,
			ContentType: w.Input.ContentType,
			JSONSchema:  w.Input.JSONSchema,
		}
	}
	if w.Output != nil {
		if err := checkJSONSchema(path+".output.jsonSchema", w.Output.JSONSchema); err != nil {
			return Handler{}, err
		}
		h.Output = &OutputPayload{
			ContentType:           w.Output.ContentType,
			SetContentTypeIfEmpty: w.Output.SetContentTypeIfEmpty != nil && *w.Output.SetContentTypeIfEmpty,
			JSONSchema:            w.Output.JSONSchema,
		}
	}
	return h, nil
}

// checkJSONSchema accepts what JSON Schema allows at the top level: an object or a boolean.
// A JSON null is treated as "no schema".
func checkJSONSchema(path string, raw json.RawMessage) error {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil
	}
	switch trimmed[0] {
	case '{', 't', 'f':
		return nil
	}
	return fmt.Errorf("%s: a JSON schema must be an object or a boolean", path)
}

func (w *wireOptions) toOptions(path string) (Options, error) {
	var o Options
	var err error
	durations := []struct {
		name string
		in   *uint64
		out  **time.Duration
	}{
		{"inactivityTimeout", w.InactivityTimeout, &o.InactivityTimeout},
		{"abortTimeout", w.AbortTimeout, &o.AbortTimeout},
		{"journalRetention", w.JournalRetention, &o.JournalRetention},
		{"idempotencyRetention", w.IdempotencyRetention, &o.IdempotencyRetention},
		{"retryPolicyInitialInterval", w.RetryPolicyInitialInterval, &o.RetryPolicyInitialInterval},
		{"retryPolicyMaxInterval", w.RetryPolicyMaxInterval, &o.RetryPolicyMaxInterval},
	}
	for _, d := range durations {
		if *d.out, err = millis(path, d.name, d.in); err != nil {
			return Options{}, err
		}
	}
	o.EnableLazyState = w.EnableLazyState
	o.IngressPrivate = w.IngressPrivate
	if w.RetryPolicyMaxAttempts != nil {
		if *w.RetryPolicyMaxAttempts > math.MaxInt32 {
			return Options{}, fmt.Errorf("%s.retryPolicyMaxAttempts: %d is too large", path, *w.RetryPolicyMaxAttempts)
		}
		n := int(*w.RetryPolicyMaxAttempts)
		o.RetryPolicyMaxAttempts = &n
	}
	if f := w.RetryPolicyExponentiationFactor; f != nil {
		if math.IsNaN(*f) || math.IsInf(*f, 0) || *f < 0 {
			return Options{}, fmt.Errorf("%s.retryPolicyExponentiationFactor: %v is not a valid factor", path, *f)
		}
		o.RetryPolicyExponentiationFactor = f
	}
	if w.RetryPolicyOnMaxAttempts != nil {
		v := OnMaxAttempts(*w.RetryPolicyOnMaxAttempts)
		if v != OnMaxAttemptsPause && v != OnMaxAttemptsKill {
			return Options{}, fmt.Errorf("%s.retryPolicyOnMaxAttempts: unknown value %q, expected PAUSE or KILL", path, *w.RetryPolicyOnMaxAttempts)
		}
		o.RetryPolicyOnMaxAttempts = &v
	}
	return o, nil
}

// maxMillis keeps millisecond values representable as a time.Duration.
const maxMillis = uint64(math.MaxInt64 / int64(time.Millisecond))

func millis(path, field string, v *uint64) (*time.Duration, error) {
	if v == nil {
		return nil, nil
	}
	if *v > maxMillis {
		return nil, fmt.Errorf("%s.%s: %d milliseconds is out of range", path, field, *v)
	}
	d := time.Duration(*v) * time.Millisecond
	return &d, nil
}

// NegotiateProtocolVersion picks the service protocol version to run with a deployment that
// supports [minVersion, maxVersion]; ok is false when the ranges do not overlap.
func NegotiateProtocolVersion(minVersion, maxVersion int) (version int, ok bool) {
	if minVersion > MaxServiceProtocolVersion || maxVersion < MinServiceProtocolVersion || minVersion > maxVersion {
		return 0, false
	}
	return min(maxVersion, MaxServiceProtocolVersion), true
}
