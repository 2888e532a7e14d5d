package admin

import (
	"errors"
	"testing"

	"github.com/restatego/restate/internal/ids"
)

func TestInvocationRoutes(t *testing.T) {
	ops := &fakeOps{newInvID: "inv_new"}
	e := newEnv(t, func(o *Options) { o.Invocations = ops })
	id := ids.NewInvocationID(42).String()
	reset := func(err error, o Outcome) {
		ops.mu.Lock()
		ops.calls, ops.err, ops.outcome = nil, err, o
		ops.mu.Unlock()
	}
	status := func(method, path string) int {
		t.Helper()
		return e.do(method, path, nil).status
	}

	reset(nil, Accepted)
	if s := status("PATCH", "/v2/invocations/"+id+"/cancel"); s != 202 {
		t.Errorf("cancel accepted: %d", s)
	}
	reset(nil, Done)
	if s := status("PATCH", "/invocations/"+id+"/cancel"); s != 200 {
		t.Errorf("cancel done: %d", s)
	}
	if s := status("PATCH", "/invocations/"+id+"/kill"); s != 200 {
		t.Errorf("kill: %d", s)
	}
	if s := status("PATCH", "/invocations/"+id+"/purge"); s != 200 {
		t.Errorf("purge: %d", s)
	}
	if s := status("PATCH", "/invocations/"+id+"/purge-journal"); s != 200 {
		t.Errorf("purge-journal: %d", s)
	}
	if s := status("PATCH", "/invocations/"+id+"/pause"); s != 200 {
		t.Errorf("pause of a paused invocation: %d", s)
	}
	reset(nil, Accepted)
	if s := status("PATCH", "/invocations/"+id+"/pause"); s != 202 {
		t.Errorf("pause: %d", s)
	}
	if s := status("DELETE", "/invocations/"+id+"?mode=kill"); s != 202 {
		t.Errorf("delete kill: %d", s)
	}
	if s := status("DELETE", "/invocations/"+id); s != 202 {
		t.Errorf("delete default: %d", s)
	}
	if got := ops.calls; len(got) != 3 || got[0] != "pause "+id || got[1] != "kill "+id || got[2] != "cancel "+id {
		t.Errorf("dispatched: %v", got)
	}

	r := e.do("PATCH", "/invocations/"+id+"/restart-as-new?from=3&deployment=latest", nil)
	if r.status != 200 || r.json(t)["new_invocation_id"] != "inv_new" {
		t.Fatalf("restart: %d %s", r.status, r.body)
	}
	if ops.restart.From == nil || *ops.restart.From != 3 || ops.restart.Deployment.Kind != SelectLatest {
		t.Errorf("restart options: %+v", ops.restart)
	}
	depID := ids.NewDeploymentID()
	if s := status("PATCH", "/invocations/"+id+"/resume?deployment="+depID); s != 200 || ops.resume.Kind != SelectDeployment || ops.resume.ID != depID {
		t.Errorf("resume with deployment: %d %+v", s, ops.resume)
	}

	expectError(t, e.do("PATCH", "/invocations/"+id+"/restart-as-new?from=x", nil), 400, "", "The request field 'from' is invalid")
	expectError(t, e.do("PATCH", "/invocations/"+id+"/resume?deployment=nope", nil), 400, "", "The request field 'deployment' is invalid")
	expectError(t, e.do("DELETE", "/invocations/"+id+"?mode=explode", nil), 400, "", "mode")
	expectError(t, e.do("PATCH", "/invocations/not-an-id/cancel", nil), 400, "", "The request field 'invocation_id' is invalid")

	cases := []struct {
		kind   InvocationErrorKind
		path   string
		status int
		text   string
	}{
		{InvocationNotFound, "/kill", 404, "The requested invocation '" + id + "' does not exist"},
		{InvocationAlreadyCompleted, "/cancel", 409, "The invocation '" + id + "' was already completed."},
		{InvocationAlreadyCompleted, "/resume", 409, "is completed, cannot be resumed"},
		{InvocationNotCompleted, "/purge", 409, "is not yet completed"},
		{InvocationStillRunning, "/restart-as-new", 409, "is still running"},
		{InvocationNotRunning, "/pause", 409, "not running"},
		{InvocationRestartUnsupported, "/restart-as-new", 422, "Restarting workflows is not supported"},
		{InvocationMissingInput, "/restart-as-new", 410, "input is not available"},
		{InvocationNotStarted, "/restart-as-new", 425, "not running yet"},
		{InvocationNotStarted, "/resume", 425, "inboxed or scheduled"},
		{InvocationDeploymentNotFound, "/resume", 400, "deployment was not found when trying to resume"},
		{InvocationJournalIndexOutOfRange, "/restart-as-new", 400, "out of range"},
		{InvocationUnavailable, "/kill", 503, "Error when routing the request internally. Reason: partition 3 has no leader"},
	}
	for _, c := range cases {
		reset(&InvocationError{Kind: c.kind, Err: errors.New("partition 3 has no leader")}, Done)
		expectError(t, e.do("PATCH", "/invocations/"+id+c.path, nil), c.status, "", c.text)
	}
	reset(&InvocationError{Kind: InvocationIncompatibleDeployment, Message: "custom text from the engine"}, Done)
	expectError(t, e.do("PATCH", "/invocations/"+id+"/resume", nil), 400, "", "custom text from the engine")
	reset(errors.New("disk on fire"), Done)
	expectError(t, e.do("PATCH", "/invocations/"+id+"/kill", nil), 500, "", "Internal server error: disk on fire")

	none := newEnv(t)
	expectError(t, none.do("PATCH", "/invocations/"+id+"/cancel", nil), 501, "", "no invocation engine")
}
