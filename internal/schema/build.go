package schema

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/restatego/restate/internal/discovery"
)

// buildServices turns manifest services into service revisions (without revision number and
// deployment id), enforcing Restate's rules on combinations the manifest decoder cannot see.
func buildServices(m *discovery.Manifest) ([]*Service, error) {
	out := make([]*Service, 0, len(m.Services))
	for i := range m.Services {
		svc, err := buildService(&m.Services[i])
		if err != nil {
			return nil, err
		}
		out = append(out, svc)
	}
	return out, nil
}

func buildService(ms *discovery.Service) (*Service, error) {
	lower := strings.ToLower(ms.Name)
	if strings.HasPrefix(lower, "restate") || lower == "openapi" {
		return nil, invalidf(CodeReservedName, "cannot insert/modify service '%s' as it contains a reserved name", ms.Name)
	}
	ty := serviceTypeOf(ms.Ty)
	svc := &Service{
		Name:                 ms.Name,
		Ty:                   ty,
		Handlers:             make(map[string]*Handler, len(ms.Handlers)),
		Public:               ms.IngressPrivate == nil || !*ms.IngressPrivate,
		publicSetByManifest:  ms.IngressPrivate != nil,
		Documentation:        ms.Documentation,
		Metadata:             ms.Metadata,
		IdempotencyRetention: ms.IdempotencyRetention,
		JournalRetention:     ms.JournalRetention,
		InactivityTimeout:    ms.InactivityTimeout,
		AbortTimeout:         ms.AbortTimeout,
		EnableLazyState:      ms.EnableLazyState,
		RetryPolicy:          retryOverrides(&ms.Options),
	}
	for i := range ms.Handlers {
		h, err := buildHandler(svc, &ms.Handlers[i])
		if err != nil {
			return nil, err
		}
		svc.Handlers[h.Name] = h
	}
	return svc, nil
}

func serviceTypeOf(t discovery.ServiceType) ServiceType {
	switch t {
	case discovery.ServiceTypeVirtualObject:
		return ServiceTypeVirtualObject
	case discovery.ServiceTypeWorkflow:
		return ServiceTypeWorkflow
	}
	return ServiceTypeService
}

// handlerTypeOf applies Restate's combination table. An unset type means exclusive for objects
// and shared for workflows; plain services accept only unset or SHARED.
func handlerTypeOf(svc ServiceType, h discovery.HandlerType) (HandlerType, bool) {
	switch svc {
	case ServiceTypeService:
		if h == "" || h == discovery.HandlerTypeShared {
			return HandlerTypeNone, true
		}
	case ServiceTypeVirtualObject:
		switch h {
		case "", discovery.HandlerTypeExclusive:
			return HandlerTypeExclusive, true
		case discovery.HandlerTypeShared:
			return HandlerTypeShared, true
		}
	case ServiceTypeWorkflow:
		switch h {
		case "", discovery.HandlerTypeShared:
			return HandlerTypeShared, true
		case discovery.HandlerTypeWorkflow:
			return HandlerTypeWorkflow, true
		}
	}
	return "", false
}

func buildHandler(svc *Service, mh *discovery.Handler) (*Handler, error) {
	ty, ok := handlerTypeOf(svc.Ty, mh.Ty)
	if !ok {
		return nil, invalidf("", "invalid combination of service type and handler type '(%s, %s)' on handler '%s/%s'",
			svc.Ty, debugHandlerType(mh.Ty), svc.Name, mh.Name)
	}
	if mh.WorkflowCompletionRetention != nil && ty != HandlerTypeWorkflow {
		return nil, invalidf("", "%s sets the workflow_completion_retention, but it's not a WORKFLOW handler", mh.Name)
	}
	if mh.IdempotencyRetention != nil && ty == HandlerTypeWorkflow {
		return nil, invalidf("", "%s sets the idempotency_retention, but it's a WORKFLOW handler", mh.Name)
	}
	if !svc.Public && mh.IngressPrivate != nil && !*mh.IngressPrivate {
		return nil, invalidf("", "The service %s is private, but the %s is explicitly set as public. This is not supported. Please make the service public, and hide the individual handlers", svc.Name, mh.Name)
	}
	h := &Handler{
		Name:                        mh.Name,
		Ty:                          ty,
		Documentation:               mh.Documentation,
		Metadata:                    mh.Metadata,
		Input:                       DefaultInputRules(),
		Output:                      DefaultOutputRules(),
		IdempotencyRetention:        mh.IdempotencyRetention,
		WorkflowCompletionRetention: mh.WorkflowCompletionRetention,
		JournalRetention:            mh.JournalRetention,
		InactivityTimeout:           mh.InactivityTimeout,
		AbortTimeout:                mh.AbortTimeout,
		EnableLazyState:             mh.EnableLazyState,
		RetryPolicy:                 retryOverrides(&mh.Options),
	}
	if mh.IngressPrivate != nil {
		public := !*mh.IngressPrivate
		h.Public = &public
	}
	if in := mh.Input; in != nil {
		h.Input = InputRules{AllowEmpty: !in.Required}
		if in.ContentType != nil {
			pattern, err := parseContentTypePattern(*in.ContentType)
			if err != nil {
				return nil, invalidf("", "the handler '%s' input content-type is not valid: %v", mh.Name, err)
			}
			h.Input.ContentType = pattern
			h.Input.JSONSchema = nonNullJSON(in.JSONSchema)
		}
	}
	if out := mh.Output; out != nil {
		h.Output = OutputRules{}
		if out.ContentType != nil {
			if !validHeaderValue(*out.ContentType) {
				return nil, invalidf("", "the handler '%s' output content-type is not valid: failed to parse header value %q", mh.Name, *out.ContentType)
			}
			h.Output = OutputRules{
				ContentType:           *out.ContentType,
				SetContentTypeIfEmpty: out.SetContentTypeIfEmpty,
				JSONSchema:            nonNullJSON(out.JSONSchema),
			}
		}
	}
	return h, nil
}

func debugHandlerType(t discovery.HandlerType) string {
	switch t {
	case "":
		return "None"
	case discovery.HandlerTypeExclusive:
		return "Some(Exclusive)"
	case discovery.HandlerTypeShared:
		return "Some(Shared)"
	case discovery.HandlerTypeWorkflow:
		return "Some(Workflow)"
	}
	return fmt.Sprintf("Some(%s)", string(t))
}

// parseContentTypePattern normalises an Accept-style pattern: "*/*", "type/*" or
// "type/subtype". "*/subtype" is rejected, as Restate does.
func parseContentTypePattern(s string) (string, error) {
	typ, sub, ok := strings.Cut(strings.TrimSpace(s), "/")
	switch {
	case !ok:
		return "", fmt.Errorf("can't parse the content-type '%s': must contain one /", s)
	case typ == "*" && sub == "*":
		return "*/*", nil
	case typ == "*":
		return "", fmt.Errorf("can't parse the content-type '%s': the wildcard format */subType is not supported", s)
	}
	return typ + "/" + sub, nil
}

// validHeaderValue accepts what an HTTP header value may contain: visible characters, spaces,
// tabs and obs-text.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func nonNullJSON(raw []byte) []byte {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil
	}
	return append([]byte(nil), t...)
}

func retryOverrides(o *discovery.Options) RetryPolicyOverrides {
	r := RetryPolicyOverrides{
		InitialInterval: o.RetryPolicyInitialInterval,
		Factor:          o.RetryPolicyExponentiationFactor,
		MaxInterval:     o.RetryPolicyMaxInterval,
	}
	if o.RetryPolicyMaxAttempts != nil {
		// Restate treats 0 attempts as 1: the first attempt always runs.
		n := max(*o.RetryPolicyMaxAttempts, 1)
		r.MaxAttempts = &n
	}
	if o.RetryPolicyOnMaxAttempts != nil {
		switch *o.RetryPolicyOnMaxAttempts {
		case discovery.OnMaxAttemptsKill:
			r.OnMaxAttempts = OnMaxAttemptsKill
		case discovery.OnMaxAttemptsPause:
			r.OnMaxAttempts = OnMaxAttemptsPause
		}
	}
	return r
}

// DeploymentFromDiscovery collects the connection facts of a discovered deployment, ready to
// be passed to Register or UpdateDeployment.
func DeploymentFromDiscovery(req discovery.Request, res *discovery.Result) *Deployment {
	pt := ProtocolTypeBidiStream
	if res.Manifest.ProtocolMode == discovery.ProtocolModeRequestResponse {
		pt = ProtocolTypeRequestResponse
	}
	var headers map[string]string
	if len(req.AdditionalHeaders) > 0 {
		headers = make(map[string]string, len(req.AdditionalHeaders))
		for k, v := range req.AdditionalHeaders {
			headers[k] = v
		}
	}
	return &Deployment{
		URI:                req.URI,
		AdditionalHeaders:  headers,
		UseHTTP11:          req.UseHTTP11,
		ProtocolType:       pt,
		HTTPVersion:        res.HTTPVersion,
		MinProtocolVersion: res.Manifest.MinProtocolVersion,
		MaxProtocolVersion: res.Manifest.MaxProtocolVersion,
		ProtocolVersion:    res.ProtocolVersion,
		SDKVersion:         res.SDKVersion,
	}
}
