package ingress

import (
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/partition"
)

// serveAttach answers /restate/invocation/... and /restate/workflow/.../{attach|output}.
func (s *Server) serveAttach(w http.ResponseWriter, r *http.Request, route Route) {
	if r.Method != http.MethodGet {
		writeMessage(w, http.StatusMethodNotAllowed, "method not allowed, use GET")
		return
	}
	segs := route.Segments
	op := segs[len(segs)-1]
	var inv ids.InvocationID
	switch {
	case route.Kind == RouteWorkflow:
		key, err := url.PathUnescape(segs[1])
		if err != nil {
			writeMessage(w, http.StatusBadRequest, "bad workflow key: it must be valid URL-encoded UTF-8")
			return
		}
		inv = ids.WorkflowRunID(ids.PartitionKeyForKey(key), "", segs[0], key)
	case len(segs) == 2:
		id, err := ids.ParseInvocationID(segs[0])
		if err != nil {
			writeMessage(w, http.StatusBadRequest, fmt.Sprintf("bad invocation id '%s': %v", segs[0], err))
			return
		}
		inv = id
	case len(segs) == 4: // {svc}/{handler}/{idem}/{op}
		idem, err := url.PathUnescape(segs[2])
		if err != nil {
			writeMessage(w, http.StatusBadRequest, "bad idempotency key: it must be valid URL-encoded UTF-8")
			return
		}
		inv = ids.IdempotentRequestID(ids.PartitionKeyForKey(idem), "", segs[0], "", false, segs[1], idem)
	default: // {svc}/{key}/{handler}/{idem}/{op}
		key, err1 := url.PathUnescape(segs[1])
		idem, err2 := url.PathUnescape(segs[3])
		if err1 != nil || err2 != nil {
			writeMessage(w, http.StatusBadRequest, "bad key: keys must be valid URL-encoded UTF-8")
			return
		}
		inv = ids.IdempotentRequestID(ids.PartitionKeyForKey(key), "", segs[0], key, true, segs[2], idem)
	}
	rec := &partition.Record{Kind: partition.KindAttach, Inv: inv, NoWait: op == "output"}
	p := ids.PartitionForKey(inv.PartitionKey, s.opts.Dispatcher.NumPartitions())
	res, err := s.request(r.Context(), p, rec, func(sk *partition.Sink) { rec.Sink = sk })
	if err != nil {
		s.submitFailed(w, err, true)
		return
	}
	w.Header().Set("x-restate-id", inv.String())
	switch res.Status {
	case partition.ReplyNotFound:
		if route.Kind == RouteWorkflow {
			// Restate answers a workflow that never ran like a failed invocation.
			writeResult(w, nil, partition.Result{Failure: &partition.Failure{Code: http.StatusNotFound, Message: "not found"}})
		} else {
			writeMessage(w, http.StatusNotFound, "invocation not found")
		}
		return
	case partition.ReplyNotReady:
		writeMessage(w, 470, "the invocation exists but has not completed yet")
		return
	}
	var h = s.opts.Schema().Handler(res.Target.Service, res.Target.Handler)
	if res.ExpiresAt > 0 {
		w.Header().Set("idempotency-expires", timeRFC3339(res.ExpiresAt))
	}
	writeResult(w, h, res)
}

// serveAwakeable completes an awakeable: POST /restate/awakeables/{id}/resolve|reject.
func (s *Server) serveAwakeable(w http.ResponseWriter, r *http.Request, segs []string) {
	if r.Method != http.MethodPost {
		writeMessage(w, http.StatusMethodNotAllowed, "method not allowed, use POST")
		return
	}
	id := segs[0]
	inv, idx, legacy, err := ids.ParseAwakeableID(id)
	if err == nil && legacy {
		err = fmt.Errorf("legacy awakeable ids are not supported")
	}
	if err != nil {
		writeMessage(w, http.StatusBadRequest, fmt.Sprintf("bad awakeable id '%s': %v", id, err))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodySize+1))
	if err != nil || len(body) > MaxBodySize {
		writeMessage(w, http.StatusBadRequest, "cannot read the request body")
		return
	}
	rec := &partition.Record{Kind: partition.KindSignal, Inv: inv, SignalID: idx}
	if segs[1] == "resolve" {
		rec.Payload = body
	} else {
		rec.Failure = &partition.Failure{Code: 500, Message: string([]rune(string(body)))}
	}
	p := ids.PartitionForKey(inv.PartitionKey, s.opts.Dispatcher.NumPartitions())
	if err := s.opts.Dispatcher.Submit(r.Context(), p, rec); err != nil {
		writeMessage(w, http.StatusServiceUnavailable, "unavailable")
		return
	}
	w.WriteHeader(http.StatusAccepted)
}
