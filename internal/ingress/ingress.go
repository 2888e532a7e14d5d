// Package ingress serves Restate's ingress HTTP API (port 8080): calls and one-way sends to
// handlers, and the /restate/* endpoints. A request becomes an Invoke record in the target
// partition's log; a call is answered when the partition leader reports the result.
package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/restatego/restate/internal/duration"
	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/partition"
	"github.com/restatego/restate/internal/reply"
	"github.com/restatego/restate/internal/schema"
	"github.com/restatego/restate/internal/tracing"
)

// MaxBodySize bounds a request body.
const MaxBodySize = 16 << 20

// MaxRequestTargetLen bounds the request target (path and query, as sent), and with it the
// object and workflow keys the ingress accepts: a key must fit in the path with its service
// and handler names, URL-encoded. Longer targets get 414, as Restate's ingress answers them
// (its HTTP stack refuses URIs over 65534 bytes). Storage handles keys of any length; the
// limit keeps the ingress from being the way to create ones nobody can address again.
const MaxRequestTargetLen = 65534

// Dispatcher appends invocation records to the right partition's log.
type Dispatcher interface {
	// NumPartitions is the size of the partition table.
	NumPartitions() uint16
	// Submit appends r to partition p's log and returns once it is durable.
	Submit(ctx context.Context, p uint16, r *partition.Record) error
}

// Options configures the ingress.
type Options struct {
	Schema     func() *schema.Snapshot
	Dispatcher Dispatcher
	Defaults   schema.Defaults
	Node       uint32
	Logger     *slog.Logger
	// ConcurrencyLimit bounds requests in flight; beyond it requests get 429. 0 = unlimited.
	ConcurrencyLimit int
	// Replies matches leaders' answers to the requests waiting on this node.
	Replies *reply.Registry
}

// Server is the ingress HTTP handler.
type Server struct {
	opts   Options
	logger *slog.Logger
	sem    chan struct{}
}

// New creates the ingress.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Replies == nil {
		opts.Replies = reply.NewRegistry()
	}
	s := &Server{opts: opts, logger: opts.Logger.With("component", "ingress")}
	if opts.ConcurrencyLimit > 0 {
		s.sem = make(chan struct{}, opts.ConcurrencyLimit)
	}
	return s
}

// request submits a record whose answer comes back to this node, and waits for the answer.
// attach sets the record's field that names the waiter.
func (s *Server) request(ctx context.Context, p uint16, r *partition.Record, attach func(*partition.Sink)) (partition.Result, error) {
	return s.opts.Replies.Await(ctx, s.opts.Node, attach, func(ctx context.Context) error {
		return s.opts.Dispatcher.Submit(ctx, p, r)
	})
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if cors(w, r) {
		return
	}
	if n := len(r.RequestURI); n > MaxRequestTargetLen {
		writeMessage(w, http.StatusRequestURITooLong, fmt.Sprintf("the request URI is %d bytes, the limit is %d bytes (object and workflow keys must fit in it)", n, MaxRequestTargetLen))
		return
	}
	if s.sem != nil {
		select {
		case s.sem <- struct{}{}:
			defer func() { <-s.sem }()
		default:
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
	}
	route, err := ParsePath(r.URL.EscapedPath())
	if err != nil {
		if errors.Is(err, errNotFound) {
			writeMessage(w, http.StatusNotFound, "not found")
		} else {
			writeMessage(w, http.StatusBadRequest, err.Error())
		}
		return
	}
	switch route.Kind {
	case RouteHealth:
		s.serveHealth(w, r)
	case RouteService:
		s.serveService(w, r, route.Segments)
	case RouteInvocation, RouteWorkflow:
		s.serveAttach(w, r, route)
	case RouteAwakeable:
		s.serveAwakeable(w, r, route.Segments)
	case RouteOpenAPI:
		writeMessage(w, http.StatusNotImplemented, "not implemented")
	default:
		writeMessage(w, http.StatusNotImplemented, "not implemented")
	}
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeMessage(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	names := []string{}
	for _, svc := range s.opts.Schema().Services() {
		names = append(names, svc.Name)
	}
	sort.Strings(names)
	writeJSON(w, http.StatusOK, map[string]any{"services": names})
}

func (s *Server) serveService(w http.ResponseWriter, r *http.Request, segs []string) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeMessage(w, http.StatusMethodNotAllowed, "method not allowed, use POST or GET")
		return
	}
	snap := s.opts.Schema()
	svc := snap.Service(segs[0])
	if svc == nil {
		writeMessage(w, http.StatusNotFound, fmt.Sprintf("service '%s' not found, make sure to register the service before calling it.", segs[0]))
		return
	}
	call, err := ResolveServicePath(segs, svc.Ty.HasState())
	if err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	h := svc.Handler(call.Handler)
	if h == nil {
		writeMessage(w, http.StatusNotFound, fmt.Sprintf("the service '%s' exists, but the handler '%s' was not found, check that the handler exists in the latest registered service version.", svc.Name, call.Handler))
		return
	}
	opts := svc.Resolve(h, s.opts.Defaults)
	if !opts.Public {
		writeMessage(w, http.StatusBadRequest, "the invoked service is not public")
		return
	}
	idemKey, hasIdemKey := idempotencyKey(r.Header)
	if hasIdemKey && h.Ty == schema.HandlerTypeWorkflow {
		writeMessage(w, http.StatusBadRequest, "cannot use the idempotency key with workflow handlers. You can invoke workflow handlers only once, the workflow key acts as idempotency key.")
		return
	}
	retention := opts.JournalRetention
	switch {
	case h.Ty == schema.HandlerTypeWorkflow:
		retention = opts.WorkflowCompletionRetention
	case hasIdemKey:
		retention = opts.IdempotencyRetention
	}
	var executeAt int64
	if d := delayParam(r); d != "" {
		if !call.Send {
			writeMessage(w, http.StatusBadRequest, "cannot use the delay query parameter with calls. The delay is supported only with sends")
			return
		}
		delay, err := duration.Parse(d)
		if err != nil {
			writeMessage(w, http.StatusBadRequest, fmt.Sprintf("bad delay query parameter, must be a ISO8601 duration: %v", err))
			return
		}
		if delay > 0 {
			executeAt = time.Now().Add(delay).UnixMilli()
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodySize+1))
	if err != nil {
		writeMessage(w, http.StatusInternalServerError, fmt.Sprintf("cannot read the request body: %v", err))
		return
	}
	if len(body) > MaxBodySize {
		writeMessage(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", MaxBodySize))
		return
	}
	if err := h.ValidateInput(r.Header.Get("content-type"), body); err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	headers, err := forwardedHeaders(r)
	if err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}

	target := partition.Target{Service: svc.Name, Handler: h.Name, Key: call.Key}
	target.ServiceType, target.HandlerType = TargetTypes(svc, h)
	var pk uint64
	switch {
	case svc.Ty.HasState():
		pk = ids.PartitionKeyForKey(call.Key)
	case hasIdemKey:
		pk = ids.PartitionKeyForKey(idemKey)
	default:
		pk = ids.RandomPartitionKey()
	}
	var inv ids.InvocationID
	switch {
	case h.Ty == schema.HandlerTypeWorkflow:
		inv = ids.WorkflowRunID(pk, "", svc.Name, call.Key)
	case hasIdemKey:
		inv = ids.IdempotentRequestID(pk, "", svc.Name, call.Key, svc.Ty.HasState(), h.Name, idemKey)
	default:
		inv = ids.NewInvocationID(pk)
	}
	created := time.Now()
	if tp, ts := tracing.Current().Ingress(r.Header, r.RemoteAddr, inv.String(), tracing.Target{Service: target.Service,
		Handler: target.Handler, Key: target.Key, Keyed: target.Keyed()}, created); tp != "" {
		headers = tracing.SetTraceHeaders(headers, tp, ts)
	}
	rec := &partition.Record{
		Kind:           partition.KindInvoke,
		Inv:            inv,
		Target:         target,
		Headers:        headers,
		Body:           body,
		IdempotencyKey: idemKey,
		ExecuteAt:      executeAt,
		Retention:      retention.Milliseconds(),
		CreatedAt:      created.UnixMilli(),
	}
	p := ids.PartitionForKey(pk, s.opts.Dispatcher.NumPartitions())
	w.Header().Set("x-restate-id", inv.String())

	if call.Send {
		status := "Accepted"
		if hasIdemKey || h.Ty == schema.HandlerTypeWorkflow {
			// Only the partition knows whether this id exists already.
			res, err := s.request(r.Context(), p, rec, func(sk *partition.Sink) { rec.Reply = sk })
			if err != nil {
				s.submitFailed(w, err, true)
				return
			}
			if res.Status == partition.ReplyPreviouslyAccepted {
				status = "PreviouslyAccepted"
			}
		} else if err := s.opts.Dispatcher.Submit(r.Context(), p, rec); err != nil {
			s.submitFailed(w, err, false)
			return
		}
		resp := map[string]any{"invocationId": inv.String(), "status": status}
		if executeAt != 0 {
			resp["executionTime"] = time.UnixMilli(executeAt).UTC().Format(time.RFC3339Nano)
		}
		writeJSON(w, http.StatusAccepted, resp)
		return
	}

	res, err := s.request(r.Context(), p, rec, func(sk *partition.Sink) { rec.Sink = sk })
	if err != nil {
		s.submitFailed(w, err, hasIdemKey)
		return
	}
	if hasIdemKey && res.ExpiresAt > 0 {
		w.Header().Set("idempotency-expires", timeRFC3339(res.ExpiresAt))
	}
	writeResult(w, h, res)
}

// idempotencyKey reads the idempotency-key header. Its presence makes the request idempotent,
// even with an empty value: Restate takes "" as a key like any other, so repeating a request
// with an empty key answers the first one's result rather than running it again.
func idempotencyKey(h http.Header) (key string, ok bool) {
	values := h.Values("idempotency-key")
	if len(values) == 0 {
		return "", false
	}
	return values[0], true
}

func (s *Server) submitFailed(w http.ResponseWriter, err error, idempotent bool) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	s.logger.Warn("submitting invocation failed", "err", err)
	msg := fmt.Sprintf("the invocation could not be accepted: %v", err)
	if !idempotent {
		msg += "; it may still have been submitted, retry with an idempotency key to be safe"
	}
	writeMessage(w, http.StatusServiceUnavailable, msg)
}

// writeResult answers a call with the invocation's result, as Restate does.
func writeResult(w http.ResponseWriter, h *schema.Handler, res partition.Result) {
	if f := res.Failure; f != nil {
		status := int(f.Code)
		if status < 400 || status > 599 {
			status = http.StatusInternalServerError
		}
		body := map[string]any{"code": f.Code, "message": f.Message, "source": "invocation"}
		if len(f.Metadata) > 0 {
			md := make(map[string]string, len(f.Metadata))
			for _, m := range f.Metadata {
				md[m.Key] = m.Value
			}
			body["metadata"] = md
		}
		writeJSON(w, status, body)
		return
	}
	if h != nil {
		if ct, ok := h.OutputContentType(len(res.Value) == 0); ok {
			w.Header().Set("content-type", ct)
		}
	} else if len(res.Value) > 0 {
		w.Header().Set("content-type", "application/json")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.Value)
}

// TargetTypes maps a handler's schema types onto the partition's.
func TargetTypes(svc *schema.Service, h *schema.Handler) (partition.ServiceType, partition.HandlerType) {
	st := partition.ServicePlain
	switch svc.Ty {
	case schema.ServiceTypeVirtualObject:
		st = partition.ServiceVirtualObject
	case schema.ServiceTypeWorkflow:
		st = partition.ServiceWorkflow
	}
	ht := partition.HandlerNone
	switch h.Ty {
	case schema.HandlerTypeExclusive:
		ht = partition.HandlerExclusive
	case schema.HandlerTypeShared:
		ht = partition.HandlerShared
	case schema.HandlerTypeWorkflow:
		ht = partition.HandlerWorkflow
	}
	if st == partition.ServiceVirtualObject && ht == partition.HandlerNone {
		ht = partition.HandlerExclusive
	}
	return st, ht
}

// delayParam reads the delay query parameter, whose name Restate compares case-insensitively.
func delayParam(r *http.Request) string {
	for k, v := range r.URL.Query() {
		if strings.EqualFold(k, "delay") && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

var droppedHeaders = map[string]bool{"connection": true, "host": true, "idempotency-key": true, "idempotency-expires": true,
	"content-length": true, "transfer-encoding": true, "keep-alive": true, "upgrade": true, "te": true, "trailer": true}

func forwardedHeaders(r *http.Request) ([]partition.Header, error) {
	out := make([]partition.Header, 0, len(r.Header)+1)
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if droppedHeaders[lk] {
			continue
		}
		for _, v := range vs {
			for i := 0; i < len(v); i++ {
				if v[i] >= 0x80 {
					return nil, fmt.Errorf("bad header %q: the value must be ASCII", k)
				}
			}
			out = append(out, partition.Header{Key: lk, Value: v})
		}
	}
	path := r.URL.Path
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	out = append(out, partition.Header{Key: "x-restate-ingress-path", Value: path})
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// cors answers preflight requests permissively, as Restate's ingress does, and reports whether
// the request was fully handled.
func cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", r.Header.Get("Access-Control-Request-Method"))
		if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
			h.Set("Access-Control-Allow-Headers", rh)
		}
		w.WriteHeader(http.StatusOK)
		return true
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeMessage answers with the ingress's own refusal, in Restate's error shape.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"code": status, "message": msg, "source": "ingress"})
}

func timeRFC3339(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }
