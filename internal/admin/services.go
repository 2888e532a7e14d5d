package admin

import (
	"fmt"
	"net/http"
	"time"

	"github.com/restatego/restate/internal/duration"
	"github.com/restatego/restate/internal/schema"
)

type modifyServiceRequest struct {
	Public                      *bool   `json:"public"`
	IdempotencyRetention        *string `json:"idempotency_retention"`
	WorkflowCompletionRetention *string `json:"workflow_completion_retention"`
	JournalRetention            *string `json:"journal_retention"`
	InactivityTimeout           *string `json:"inactivity_timeout"`
	AbortTimeout                *string `json:"abort_timeout"`
}

type modifyServiceStateRequest struct {
	Version   *string          `json:"version"`
	ObjectKey *string          `json:"object_key"`
	NewState  map[string][]int `json:"new_state"`
}

func serviceNotFound(name string) error {
	return errorf(http.StatusNotFound, "The requested service '%s' does not exist", name)
}

func (s *Server) lookupService(p params) (*schema.Service, error) {
	svc := s.reg.Snapshot().Service(p["service"])
	if svc == nil {
		return nil, serviceNotFound(p["service"])
	}
	return svc, nil
}

func (s *Server) listServices(w http.ResponseWriter, _ *http.Request, _ params) error {
	svcs := s.reg.Snapshot().Services()
	resp := listServicesResponse{Services: make([]serviceMetadata, 0, len(svcs))}
	for _, svc := range svcs {
		resp.Services = append(resp.Services, toServiceMetadata(svc, s.opts.Defaults))
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) getService(w http.ResponseWriter, _ *http.Request, p params) error {
	svc, err := s.lookupService(p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toServiceMetadata(svc, s.opts.Defaults))
	return nil
}

func (s *Server) modifyService(w http.ResponseWriter, r *http.Request, p params) error {
	var req modifyServiceRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	svc, err := s.lookupService(p)
	if err != nil {
		return err
	}
	patch := schema.ServicePatch{Public: req.Public}
	fields := []struct {
		name string
		in   *string
		out  **time.Duration
	}{
		{"idempotency_retention", req.IdempotencyRetention, &patch.IdempotencyRetention},
		{"workflow_completion_retention", req.WorkflowCompletionRetention, &patch.WorkflowCompletionRetention},
		{"journal_retention", req.JournalRetention, &patch.JournalRetention},
		{"inactivity_timeout", req.InactivityTimeout, &patch.InactivityTimeout},
		{"abort_timeout", req.AbortTimeout, &patch.AbortTimeout},
	}
	changed := patch.Public != nil
	for _, f := range fields {
		if f.in == nil {
			continue
		}
		d, err := duration.Parse(*f.in)
		if err != nil {
			return invalidField(f.name, err.Error())
		}
		*f.out = &d
		changed = true
	}
	if changed {
		if svc, err = s.reg.ModifyService(r.Context(), svc.Name, patch); err != nil {
			if se, ok := schema.AsError(err); ok && se.Kind == schema.KindNotFound {
				return serviceNotFound(p["service"])
			}
			return err
		}
	}
	writeJSON(w, http.StatusOK, toServiceMetadata(svc, s.opts.Defaults))
	return nil
}

func (s *Server) listHandlers(w http.ResponseWriter, _ *http.Request, p params) error {
	svc, err := s.lookupService(p)
	if err != nil {
		return err
	}
	resp := listHandlersResponse{Handlers: make([]handlerMetadata, 0, len(svc.Handlers))}
	for _, h := range svc.SortedHandlers() {
		resp.Handlers = append(resp.Handlers, toHandlerMetadata(svc, h))
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) getHandler(w http.ResponseWriter, _ *http.Request, p params) error {
	svc, err := s.lookupService(p)
	if err != nil {
		return err
	}
	h := svc.Handler(p["handler"])
	if h == nil {
		return errorf(http.StatusNotFound, "The requested handler '%s' on service '%s' does not exist", p["handler"], svc.Name)
	}
	writeJSON(w, http.StatusOK, toHandlerMetadata(svc, h))
	return nil
}

func (s *Server) serviceOpenAPI(w http.ResponseWriter, _ *http.Request, p params) error {
	svc, err := s.lookupService(p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, serviceOpenAPIDocument(svc, s.opts.IngressEndpoint))
	return nil
}

func (s *Server) modifyServiceState(w http.ResponseWriter, r *http.Request, p params) error {
	var req modifyServiceStateRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.ObjectKey == nil {
		return invalidField("object_key", "missing field")
	}
	if req.NewState == nil {
		return invalidField("new_state", "missing field")
	}
	svc, err := s.lookupService(p)
	if err != nil {
		return err
	}
	if !svc.Ty.HasState() {
		return errorf(http.StatusBadRequest, "Cannot modify state for service type %s", svc.Ty)
	}
	state := make(map[string][]byte, len(req.NewState))
	for _, k := range sortedKeys(req.NewState) {
		raw := req.NewState[k]
		b := make([]byte, len(raw))
		for i, v := range raw {
			if v < 0 || v > 255 {
				return invalidField("new_state", fmt.Sprintf("the value of key '%s' has %d at position %d, which is not a byte", k, v, i))
			}
			b[i] = byte(v)
		}
		state[k] = b
	}
	if s.opts.Invocations == nil {
		return errNoInvocationEngine
	}
	err = s.opts.Invocations.ModifyState(r.Context(), ModifyStateRequest{
		Service: svc.Name, ObjectKey: *req.ObjectKey, Version: req.Version, NewState: state,
	})
	if err != nil {
		return invocationFailure(err, "", fmt.Sprintf("%s/%s", svc.Name, *req.ObjectKey))
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}
