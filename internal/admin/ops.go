package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/restatego/restate/internal/clusterapi"
)

// InvocationOps is what the admin API needs from the invocation engine. Implementations
// report failures as *InvocationError so the API can answer with Restate's status codes; any
// other error becomes a 500.
type InvocationOps interface {
	// Cancel asks the invocation to stop gracefully. Done means it is already cancelled
	// (HTTP 200); Accepted means a cancel signal was appended for the SDK to handle (202).
	Cancel(ctx context.Context, invocationID string) (Outcome, error)
	// Kill stops the invocation immediately, without running compensations.
	Kill(ctx context.Context, invocationID string) error
	// Purge forgets a completed invocation.
	Purge(ctx context.Context, invocationID string) error
	// PurgeJournal drops the journal of a completed invocation but keeps its status.
	PurgeJournal(ctx context.Context, invocationID string) error
	// RestartAsNew starts a new invocation with the input (and, with From, a journal prefix) of
	// a completed one and returns the new invocation id.
	RestartAsNew(ctx context.Context, invocationID string, opts RestartAsNewOptions) (newInvocationID string, err error)
	// Resume wakes a paused or suspended invocation (or retries a backing-off one now).
	Resume(ctx context.Context, invocationID string, deployment DeploymentSelector) error
	// Pause stops retrying a running invocation. Done means it was already paused (200);
	// Accepted means it is being paused (202).
	Pause(ctx context.Context, invocationID string) (Outcome, error)
	// ModifyState replaces all state of one virtual object or workflow key.
	ModifyState(ctx context.Context, req ModifyStateRequest) error
}

// Outcome distinguishes operations finished on the spot from those handed to the invocation.
type Outcome int

const (
	Done Outcome = iota
	Accepted
)

// DeploymentSelector says which deployment a resumed or restarted invocation continues on.
type DeploymentSelector struct {
	// Kind is SelectDefault when the caller did not choose.
	Kind DeploymentSelectorKind
	// ID is set for SelectDeployment.
	ID string
}

// DeploymentSelectorKind enumerates DeploymentSelector choices.
type DeploymentSelectorKind int

const (
	SelectDefault DeploymentSelectorKind = iota
	SelectKeep
	SelectLatest
	SelectDeployment
)

// RestartAsNewOptions are the query parameters of restart-as-new.
type RestartAsNewOptions struct {
	// From is the last journal entry index to copy; nil restarts from the input only.
	From       *uint32
	Deployment DeploymentSelector
}

// ModifyStateRequest replaces the state of Service/ObjectKey with NewState.
type ModifyStateRequest struct {
	Service   string
	ObjectKey string
	// Version, when not nil, must match the current state version or the call fails with
	// StateVersionMismatch.
	Version  *string
	NewState map[string][]byte
}

// InvocationErrorKind enumerates the failures the admin API maps to specific statuses.
type InvocationErrorKind int

const (
	// InvocationNotFound → 404.
	InvocationNotFound InvocationErrorKind = iota + 1
	// InvocationAlreadyCompleted → 409 (cancel, kill, resume, pause).
	InvocationAlreadyCompleted
	// InvocationNotCompleted → 409 (purge, purge-journal).
	InvocationNotCompleted
	// InvocationStillRunning → 409 (restart-as-new).
	InvocationStillRunning
	// InvocationNotRunning → 409 (pause of an invocation that is not running).
	InvocationNotRunning
	// InvocationCannotChangeDeployment → 409 (resume / restart-as-new with a deployment).
	InvocationCannotChangeDeployment
	// InvocationRestartUnsupported → 422 (workflows, old protocol versions).
	InvocationRestartUnsupported
	// InvocationMissingInput → 410 (journal gone).
	InvocationMissingInput
	// InvocationNotStarted → 425 (inboxed or scheduled).
	InvocationNotStarted
	// InvocationDeploymentNotFound → 400.
	InvocationDeploymentNotFound
	// InvocationIncompatibleDeployment → 400 (deployment does not support the pinned protocol).
	InvocationIncompatibleDeployment
	// InvocationJournalIndexOutOfRange → 400.
	InvocationJournalIndexOutOfRange
	// InvocationJournalPrefixIncomplete → 400 (prefix has commands without completions).
	InvocationJournalPrefixIncomplete
	// StateVersionMismatch → 409 (modify state with a stale version).
	StateVersionMismatch
	// InvocationUnavailable → 503 (the owning partition cannot be reached).
	InvocationUnavailable
)

// InvocationError is a typed failure of an InvocationOps call.
type InvocationError struct {
	Kind InvocationErrorKind
	// Message replaces the standard text when set.
	Message string
	// Err is an optional cause, shown for InvocationUnavailable.
	Err error
}

func (e *InvocationError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("invocation error kind %d", e.Kind)
}

func (e *InvocationError) Unwrap() error { return e.Err }

// ClusterInfo supplies the cluster endpoints. Optional: without it /cluster-health reports
// only the configured cluster name and /cluster is 404, as in Restate.
type ClusterInfo interface {
	ClusterHealth(ctx context.Context) (ClusterHealth, error)
	// ClusterStatus returns a JSON-encodable description of the cluster for GET /cluster
	// (an extension; Restate has no such route). Return ErrNoClusterStatus to answer 404.
	ClusterStatus(ctx context.Context) (any, error)
}

// SnapshotOps serves the partition snapshot endpoints. Implementations return errors made
// with Errorf to choose the status; others answer 500.
type SnapshotOps interface {
	CreateSnapshot(ctx context.Context, partition uint16, opts clusterapi.SnapshotOptions) (any, error)
	ListSnapshots(ctx context.Context, partition uint16) (any, error)
}

// Errorf makes an error that the admin API answers with the given status and message.
func Errorf(status int, format string, args ...any) error { return errorf(status, format, args...) }

// StatusOf is the status an error made with Errorf carries (500 for other errors).
func StatusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status
	}
	return http.StatusInternalServerError
}

// ClusterHealth is the body of GET /cluster-health.
type ClusterHealth struct {
	ClusterName string
	// MetadataMembers lists the embedded metadata cluster's node ids; nil when the metadata
	// store is not embedded.
	MetadataMembers []uint32
}

// ErrNotProvisioned makes /cluster-health answer 503 like an unprovisioned Restate node.
var ErrNotProvisioned = errors.New("the cluster does not seem to be provisioned yet")

// ErrNoClusterStatus makes GET /cluster answer 404.
var ErrNoClusterStatus = errors.New("no cluster status")
