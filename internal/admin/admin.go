// Package admin serves Restate's admin REST API (port 9070): deployments, services, handlers,
// invocation management, health and version. Routes answer unprefixed and under /v2/, like a
// Restate 1.5 server advertising admin API version 2, so the official `restate` CLI works.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/restatego/restate/internal/discovery"
	"github.com/restatego/restate/internal/schema"
)

// Admin API versions this server speaks.
const (
	MinAdminAPIVersion = 2
	MaxAdminAPIVersion = 2
)

// maxRequestBody bounds JSON request bodies.
const maxRequestBody = 10 << 20

// Discoverer fetches deployment manifests; *discovery.Client implements it.
type Discoverer interface {
	Discover(ctx context.Context, req discovery.Request) (*discovery.Result, error)
}

// Options configure the admin API.
type Options struct {
	// Version is reported by GET /version, e.g. "1.5.6".
	Version string
	// IngressEndpoint is the advertised ingress URL reported by GET /version
	// (e.g. "http://127.0.0.1:8080/"); empty reports null.
	IngressEndpoint string
	// Defaults fill in service settings nobody configured; zero means schema.RestateDefaults().
	Defaults schema.Defaults
	// Invocations handles invocation management and state edits; nil answers 501.
	Invocations InvocationOps
	// Cluster answers /cluster-health and /cluster; nil reports ClusterName only.
	Cluster ClusterInfo
	// Snapshots, if set, serves the partition snapshot endpoints.
	Snapshots   SnapshotOps
	ClusterName string
	// Query, if set, serves POST /query (SQL introspection).
	Query http.Handler
	// Logger receives server-side failures; nil uses slog.Default().
	Logger *slog.Logger
	// CheckDeployment, if set, vets a deployment URI before it is discovered (the
	// deployment-allowed-addresses list); its error is answered with 400.
	CheckDeployment func(ctx context.Context, uri string) error
}

// Server is the admin API http.Handler.
type Server struct {
	reg    *schema.Registry
	disc   Discoverer
	opts   Options
	log    *slog.Logger
	routes []*route
}

// New builds the admin API over a schema registry and a discovery client.
func New(reg *schema.Registry, disc Discoverer, opts Options) *Server {
	if opts.Defaults == (schema.Defaults{}) {
		opts.Defaults = schema.RestateDefaults()
	}
	s := &Server{reg: reg, disc: disc, opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.routes = s.routeTable()
	return s
}

type params map[string]string

type route struct {
	method  string
	pattern string
	segs    []string
	handle  func(w http.ResponseWriter, r *http.Request, p params) error
	doc     routeDoc
}

func (rt *route) match(segs []string) (params, bool) {
	if len(segs) != len(rt.segs) {
		return nil, false
	}
	var p params
	for i, want := range rt.segs {
		if strings.HasPrefix(want, "{") {
			if segs[i] == "" {
				return nil, false
			}
			if p == nil {
				p = params{}
			}
			p[strings.Trim(want, "{}")] = segs[i]
			continue
		}
		if segs[i] != want {
			return nil, false
		}
	}
	return p, true
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == "/v1" || strings.HasPrefix(path, "/v1/"):
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, fmt.Sprintf("Unsupported Admin API version V1. This server supports versions between V%d and V%d.", MinAdminAPIVersion, MaxAdminAPIVersion))
		return
	case path == "/v2" || strings.HasPrefix(path, "/v2/"):
		path = strings.TrimPrefix(path, "/v2")
	}
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")

	var allowed []string
	for _, rt := range s.routes {
		p, ok := rt.match(segs)
		if !ok {
			continue
		}
		if rt.method != r.Method && !(r.Method == http.MethodHead && rt.method == http.MethodGet) {
			allowed = append(allowed, rt.method)
			continue
		}
		if err := rt.handle(w, r, p); err != nil {
			s.writeError(w, r, err)
		}
		return
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	w.WriteHeader(http.StatusNotFound)
}

// apiError is an error with a chosen status and message.
type apiError struct {
	status  int
	message string
	code    string
}

func (e *apiError) Error() string { return e.message }

// HTTPStatus lets handlers outside this package (the SQL endpoint) answer with the status.
func (e *apiError) HTTPStatus() int { return e.status }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, message: fmt.Sprintf(format, args...)}
}

// invalidField mirrors Restate's InvalidFieldError text.
func invalidField(field, reason string) *apiError {
	return errorf(http.StatusBadRequest, "The request field '%s' is invalid. Reason: %s", field, reason)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := s.errorResponse(err)
	if status >= 500 && status != http.StatusNotImplemented {
		s.log.Warn("admin API request failed", "method", r.Method, "path", r.URL.Path, "status", status, "error", err)
	}
	writeJSON(w, status, body)
}

func (s *Server) errorResponse(err error) (int, errorResponse) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status, errorBody(ae.message, ae.code)
	}
	if de, ok := discovery.AsError(err); ok {
		return http.StatusInternalServerError, errorBody(de.Error(), de.RestateCode())
	}
	if se, ok := schema.AsError(err); ok {
		status := http.StatusBadRequest
		switch se.Kind {
		case schema.KindNotFound:
			status = http.StatusNotFound
		case schema.KindConflict:
			status = http.StatusConflict
		case schema.KindNotImplemented:
			status = http.StatusNotImplemented
		}
		return status, errorBody(se.Message, se.Code)
	}
	return http.StatusInternalServerError, errorBody("Internal server error: "+err.Error(), "")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"message":"Internal server error: cannot encode the response","restate_code":null}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// decodeBody reads a JSON request body into v. Unknown fields are ignored (newer CLIs send
// fields older servers do not know).
func decodeBody(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return errorf(http.StatusBadRequest, "Failed to read the request body: %v", err)
	}
	if len(data) > maxRequestBody {
		return errorf(http.StatusRequestEntityTooLarge, "The request body is larger than %d bytes", maxRequestBody)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return errorf(http.StatusBadRequest, "Failed to parse the request body as JSON: %v", err)
	}
	return nil
}
