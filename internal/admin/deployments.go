package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/restatego/restate/internal/discovery"
	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/redact"
	"github.com/restatego/restate/internal/schema"
)

type registerDeploymentRequest struct {
	URI               *string           `json:"uri"`
	ARN               *string           `json:"arn"`
	AdditionalHeaders map[string]string `json:"additional_headers"`
	UseHTTP11         bool              `json:"use_http_11"`
	// Force defaults to true, as in Restate's admin API v2.
	Force *bool `json:"force"`
	// Breaking allows incompatible service changes without overwriting (newer CLIs send it).
	Breaking bool `json:"breaking"`
	DryRun   bool `json:"dry_run"`
}

type updateDeploymentRequest struct {
	URI               *string            `json:"uri"`
	ARN               *string            `json:"arn"`
	AdditionalHeaders *map[string]string `json:"additional_headers"`
	UseHTTP11         *bool              `json:"use_http_11"`
	DryRun            bool               `json:"dry_run"`
	// Overwrite allows breaking changes to the deployment's services.
	Overwrite bool `json:"overwrite"`
}

var errLambdaUnsupported = invalidField("arn", "Lambda deployments are not supported by this server; register an http:// or https:// deployment with 'uri'")

// normalizeURI checks a deployment URI and spells it the way Restate shows it (an empty path
// becomes "/").
func normalizeURI(raw string) (string, error) {
	u, err := url.Parse(raw)
	shown := redact.Text(raw) // messages never repeat credentials
	if err != nil {
		return "", invalidField("uri", redact.Text(fmt.Sprintf("The provided uri %s is not valid: %v", shown, err)))
	}
	if u.Scheme == "" || u.Host == "" {
		return "", invalidField("uri", fmt.Sprintf("The provided uri %s is not absolute, only absolute URIs can be used.", shown))
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", invalidField("uri", fmt.Sprintf("The provided uri %s has scheme '%s'; only http and https deployments are supported.", shown, u.Scheme))
	}
	if u.Path == "" {
		u.Path = "/"
	}
	u.Fragment = ""
	return u.String(), nil
}

// normalizeHeaders validates additional headers and lower-cases their names, as HTTP/2 needs.
func normalizeHeaders(h map[string]string) (map[string]string, error) {
	if len(h) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, invalidField("additional_headers", fmt.Sprintf("'%s' is not a valid header name", k))
		}
		if !httpguts.ValidHeaderFieldValue(v) {
			return nil, invalidField("additional_headers", fmt.Sprintf("the value of header '%s' is not a valid header value", k))
		}
		out[strings.ToLower(k)] = v
	}
	return out, nil
}

// checkDeployment applies Options.CheckDeployment: a refused address is the request's fault.
func (s *Server) checkDeployment(ctx context.Context, uri string) error {
	if s.opts.CheckDeployment == nil {
		return nil
	}
	if err := s.opts.CheckDeployment(ctx, uri); err != nil {
		return invalidField("uri", redact.Text(err.Error()))
	}
	return nil
}

func (s *Server) registerDeployment(w http.ResponseWriter, r *http.Request, _ params) error {
	var req registerDeploymentRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.URI == nil {
		if req.ARN != nil {
			return errLambdaUnsupported
		}
		return errorf(http.StatusBadRequest, "The request body must contain 'uri' (or 'arn' for Lambda deployments)")
	}
	uri, err := normalizeURI(*req.URI)
	if err != nil {
		return err
	}
	headers, err := normalizeHeaders(req.AdditionalHeaders)
	if err != nil {
		return err
	}
	force := req.Force == nil || *req.Force
	if err := s.checkDeployment(r.Context(), uri); err != nil {
		return err
	}

	dreq := discovery.Request{URI: uri, AdditionalHeaders: headers, UseHTTP11: req.UseHTTP11}
	res, err := s.disc.Discover(r.Context(), dreq)
	if err != nil {
		return err
	}
	dep, services, err := s.reg.Register(r.Context(), schema.DeploymentFromDiscovery(dreq, res), res.Manifest, schema.RegisterOptions{
		Overwrite:     force,
		AllowBreaking: force || req.Breaking,
		DryRun:        req.DryRun,
	})
	if err != nil {
		return err
	}
	resp := registerDeploymentResponse{
		ID:                 dep.ID,
		Services:           make([]serviceMetadata, 0, len(services)),
		MinProtocolVersion: dep.MinProtocolVersion,
		MaxProtocolVersion: dep.MaxProtocolVersion,
		SDKVersion:         dep.SDKVersion,
	}
	for _, svc := range services {
		resp.Services = append(resp.Services, toServiceMetadata(svc, s.opts.Defaults))
	}
	w.Header().Set("Location", "deployments/"+dep.ID)
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

func (s *Server) listDeployments(w http.ResponseWriter, _ *http.Request, _ params) error {
	deps := s.reg.Snapshot().Deployments()
	resp := listDeploymentsResponse{Deployments: make([]deploymentResponse, 0, len(deps))}
	for _, d := range deps {
		resp.Deployments = append(resp.Deployments, toDeploymentResponse(d, false, s.opts.Defaults))
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// deploymentParam validates the {deployment} path parameter.
func deploymentParam(p params) (string, error) {
	id := p["deployment"]
	if _, err := ids.ParseDeploymentID(id); err != nil {
		return "", invalidField("deployment", err.Error())
	}
	return id, nil
}

func deploymentNotFound(id string) error {
	return errorf(http.StatusNotFound, "The requested deployment '%s' does not exist", id)
}

func (s *Server) getDeployment(w http.ResponseWriter, _ *http.Request, p params) error {
	id, err := deploymentParam(p)
	if err != nil {
		return err
	}
	d := s.reg.Snapshot().Deployment(id)
	if d == nil {
		return deploymentNotFound(id)
	}
	writeJSON(w, http.StatusOK, toDeploymentResponse(d, true, s.opts.Defaults))
	return nil
}

func (s *Server) deleteDeployment(w http.ResponseWriter, r *http.Request, p params) error {
	id, err := deploymentParam(p)
	if err != nil {
		return err
	}
	force := false
	if v := r.URL.Query().Get("force"); v != "" {
		if force, err = strconv.ParseBool(v); err != nil {
			return invalidField("force", fmt.Sprintf("'%s' is not a boolean", v))
		}
	}
	if !force {
		return errorf(http.StatusNotImplemented, "Only forced deployment deletion is supported: retry with force=true. Removing a deployment can break in-flight invocations.")
	}
	if s.reg.Snapshot().Deployment(id) == nil {
		return deploymentNotFound(id)
	}
	if err := s.reg.RemoveDeployment(r.Context(), id, true); err != nil {
		if se, ok := schema.AsError(err); ok && se.Kind == schema.KindNotFound {
			return deploymentNotFound(id)
		}
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (s *Server) updateDeployment(w http.ResponseWriter, r *http.Request, p params) error {
	id, err := deploymentParam(p)
	if err != nil {
		return err
	}
	var req updateDeploymentRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.ARN != nil {
		return errLambdaUnsupported
	}
	existing := s.reg.Snapshot().Deployment(id)
	if existing == nil {
		return deploymentNotFound(id)
	}
	if req.URI == nil && req.AdditionalHeaders == nil && req.UseHTTP11 == nil {
		writeJSON(w, http.StatusOK, toDeploymentResponse(existing, true, s.opts.Defaults))
		return nil
	}

	dreq := discovery.Request{URI: existing.URI, AdditionalHeaders: existing.AdditionalHeaders, UseHTTP11: existing.UseHTTP11}
	if req.URI != nil {
		if dreq.URI, err = normalizeURI(*req.URI); err != nil {
			return err
		}
	}
	if req.AdditionalHeaders != nil {
		if dreq.AdditionalHeaders, err = normalizeHeaders(*req.AdditionalHeaders); err != nil {
			return err
		}
	}
	if req.UseHTTP11 != nil {
		dreq.UseHTTP11 = *req.UseHTTP11
	}
	if err := s.checkDeployment(r.Context(), dreq.URI); err != nil {
		return err
	}
	res, err := s.disc.Discover(r.Context(), dreq)
	if err != nil {
		return err
	}
	dep, _, err := s.reg.UpdateDeployment(r.Context(), id, schema.DeploymentFromDiscovery(dreq, res), res.Manifest,
		schema.UpdateOptions{Overwrite: req.Overwrite, DryRun: req.DryRun})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toDeploymentResponse(dep, true, s.opts.Defaults))
	return nil
}

// sortedKeys is used where output order must not depend on map iteration.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
