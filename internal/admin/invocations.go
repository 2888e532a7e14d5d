package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/restatego/restate/internal/ids"
)

var errNoInvocationEngine = errorf(http.StatusNotImplemented, "Invocation management is not available: no invocation engine is attached to this admin API")

// Operation names used to pick Restate's wording for shared error kinds.
const (
	opResume  = "resume"
	opRestart = "restart"
)

// invocationFailure turns an InvocationOps error into an API error. subject is the
// invocation id (or Service/key for state edits).
func invocationFailure(err error, op, subject string) error {
	var ie *InvocationError
	if !errors.As(err, &ie) {
		return err
	}
	msg := func(status int, standard string) error {
		if ie.Message != "" {
			return errorf(status, "%s", ie.Message)
		}
		return errorf(status, "%s", standard)
	}
	switch ie.Kind {
	case InvocationNotFound:
		return msg(http.StatusNotFound, fmt.Sprintf("The requested invocation '%s' does not exist", subject))
	case InvocationAlreadyCompleted:
		if op == opResume {
			return msg(http.StatusConflict, fmt.Sprintf("The invocation '%s' is completed, cannot be resumed.", subject))
		}
		return msg(http.StatusConflict, fmt.Sprintf("The invocation '%s' was already completed.", subject))
	case InvocationNotCompleted:
		return msg(http.StatusConflict, fmt.Sprintf("The invocation '%s' is not yet completed.", subject))
	case InvocationStillRunning:
		return msg(http.StatusConflict, fmt.Sprintf("The invocation '%s' is still running.", subject))
	case InvocationNotRunning:
		return msg(http.StatusConflict, fmt.Sprintf("The invocation '%s' is not running. An invocation can be paused only when running.", subject))
	case InvocationCannotChangeDeployment:
		return msg(http.StatusConflict, fmt.Sprintf("The invocation '%s' is still running or the deployment id is not pinned yet, deployment id cannot be changed.", subject))
	case InvocationRestartUnsupported:
		return msg(http.StatusUnprocessableEntity, fmt.Sprintf("Restarting the invocation '%s' is not supported. Restarting workflows is not supported, and restarting invocations created using the old service protocol.", subject))
	case InvocationMissingInput:
		return msg(http.StatusGone, fmt.Sprintf("The invocation '%s' cannot be restarted because the input is not available. This indicates that the journal was already purged, or not retained at all.", subject))
	case InvocationNotStarted:
		if op == opResume {
			return msg(http.StatusTooEarly, fmt.Sprintf("The invocation '%s' is either inboxed or scheduled, cannot be resumed.", subject))
		}
		return msg(http.StatusTooEarly, fmt.Sprintf("The invocation '%s' cannot be restarted because it's not running yet.", subject))
	case InvocationDeploymentNotFound:
		if op == opRestart {
			return msg(http.StatusBadRequest, fmt.Sprintf("The given deployment was not found when trying to restart as new the invocation '%s'.", subject))
		}
		return msg(http.StatusBadRequest, fmt.Sprintf("The given deployment was not found when trying to resume the invocation '%s'.", subject))
	case InvocationIncompatibleDeployment:
		return msg(http.StatusBadRequest, fmt.Sprintf("The invocation '%s' is pinned to a service protocol version the chosen deployment does not support.", subject))
	case InvocationJournalIndexOutOfRange:
		return msg(http.StatusBadRequest, fmt.Sprintf("The given index is out of range of currently stored journal for invocation '%s'.", subject))
	case InvocationJournalPrefixIncomplete:
		return msg(http.StatusBadRequest, fmt.Sprintf("The prefix of the journal '%s' up to 'from' (included) contains some Commands without respective Completions.", subject))
	case StateVersionMismatch:
		return msg(http.StatusConflict, fmt.Sprintf("The state of '%s' changed: the given version does not match the current one.", subject))
	case InvocationUnavailable:
		reason := "unavailable"
		if ie.Err != nil {
			reason = ie.Err.Error()
		}
		return msg(http.StatusServiceUnavailable, "Error when routing the request internally. Reason: "+reason)
	}
	return err
}

// invocationHandler wraps an InvocationOps call: it validates the id, checks that an engine is
// attached and maps failures.
func (s *Server) invocationHandler(op string, call func(ctx context.Context, ops InvocationOps, id string, r *http.Request) (int, any, error)) func(http.ResponseWriter, *http.Request, params) error {
	return func(w http.ResponseWriter, r *http.Request, p params) error {
		id := p["invocation_id"]
		if _, err := ids.ParseInvocationID(id); err != nil {
			return invalidField("invocation_id", err.Error())
		}
		if s.opts.Invocations == nil {
			return errNoInvocationEngine
		}
		status, body, err := call(r.Context(), s.opts.Invocations, id, r)
		if err != nil {
			return invocationFailure(err, op, id)
		}
		if body != nil {
			writeJSON(w, status, body)
		} else {
			w.WriteHeader(status)
		}
		return nil
	}
}

func outcomeStatus(o Outcome) int {
	if o == Accepted {
		return http.StatusAccepted
	}
	return http.StatusOK
}

func (s *Server) cancelInvocation(w http.ResponseWriter, r *http.Request, p params) error {
	return s.invocationHandler("cancel", func(ctx context.Context, ops InvocationOps, id string, _ *http.Request) (int, any, error) {
		o, err := ops.Cancel(ctx, id)
		return outcomeStatus(o), nil, err
	})(w, r, p)
}

func (s *Server) pauseInvocation(w http.ResponseWriter, r *http.Request, p params) error {
	return s.invocationHandler("pause", func(ctx context.Context, ops InvocationOps, id string, _ *http.Request) (int, any, error) {
		o, err := ops.Pause(ctx, id)
		return outcomeStatus(o), nil, err
	})(w, r, p)
}

func (s *Server) killInvocation(w http.ResponseWriter, r *http.Request, p params) error {
	return s.invocationHandler("kill", func(ctx context.Context, ops InvocationOps, id string, _ *http.Request) (int, any, error) {
		return http.StatusOK, nil, ops.Kill(ctx, id)
	})(w, r, p)
}

func (s *Server) purgeInvocation(w http.ResponseWriter, r *http.Request, p params) error {
	return s.invocationHandler("purge", func(ctx context.Context, ops InvocationOps, id string, _ *http.Request) (int, any, error) {
		return http.StatusOK, nil, ops.Purge(ctx, id)
	})(w, r, p)
}

func (s *Server) purgeJournal(w http.ResponseWriter, r *http.Request, p params) error {
	return s.invocationHandler("purge-journal", func(ctx context.Context, ops InvocationOps, id string, _ *http.Request) (int, any, error) {
		return http.StatusOK, nil, ops.PurgeJournal(ctx, id)
	})(w, r, p)
}

func (s *Server) resumeInvocation(w http.ResponseWriter, r *http.Request, p params) error {
	return s.invocationHandler(opResume, func(ctx context.Context, ops InvocationOps, id string, r *http.Request) (int, any, error) {
		sel, err := parseDeploymentSelector(r.URL.Query().Get("deployment"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, nil, ops.Resume(ctx, id, sel)
	})(w, r, p)
}

type restartAsNewResponse struct {
	NewInvocationID string `json:"new_invocation_id"`
}

func (s *Server) restartAsNew(w http.ResponseWriter, r *http.Request, p params) error {
	return s.invocationHandler(opRestart, func(ctx context.Context, ops InvocationOps, id string, r *http.Request) (int, any, error) {
		var opts RestartAsNewOptions
		q := r.URL.Query()
		if v := q.Get("from"); v != "" {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return 0, nil, invalidField("from", fmt.Sprintf("'%s' is not a journal entry index", v))
			}
			from := uint32(n)
			opts.From = &from
		}
		sel, err := parseDeploymentSelector(q.Get("deployment"))
		if err != nil {
			return 0, nil, err
		}
		opts.Deployment = sel
		newID, err := ops.RestartAsNew(ctx, id, opts)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, restartAsNewResponse{NewInvocationID: newID}, nil
	})(w, r, p)
}

func (s *Server) deleteInvocation(w http.ResponseWriter, r *http.Request, p params) error {
	mode := strings.ToLower(r.URL.Query().Get("mode"))
	switch mode {
	case "", "cancel", "kill", "purge":
	default:
		return invalidField("mode", fmt.Sprintf("'%s' is not one of cancel, kill, purge", r.URL.Query().Get("mode")))
	}
	return s.invocationHandler(mode, func(ctx context.Context, ops InvocationOps, id string, _ *http.Request) (int, any, error) {
		var err error
		switch mode {
		case "kill":
			err = ops.Kill(ctx, id)
		case "purge":
			err = ops.Purge(ctx, id)
		default:
			_, err = ops.Cancel(ctx, id)
		}
		return http.StatusAccepted, nil, err
	})(w, r, p)
}

func parseDeploymentSelector(v string) (DeploymentSelector, error) {
	switch strings.ToLower(v) {
	case "":
		return DeploymentSelector{Kind: SelectDefault}, nil
	case "latest":
		return DeploymentSelector{Kind: SelectLatest}, nil
	case "keep":
		return DeploymentSelector{Kind: SelectKeep}, nil
	}
	if !ids.ValidDeploymentID(v) {
		return DeploymentSelector{}, invalidField("deployment", fmt.Sprintf("'%s' is neither 'latest', 'keep' nor a deployment id", v))
	}
	return DeploymentSelector{Kind: SelectDeployment, ID: v}, nil
}
