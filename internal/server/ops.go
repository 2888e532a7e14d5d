package server

import (
	"context"
	"errors"

	"github.com/restatego/restate/internal/admin"
	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/ingress"
	"github.com/restatego/restate/internal/partition"
	"github.com/restatego/restate/internal/schema"
)

// invocationOps implements the admin API's invocation management on top of the partitions:
// each operation is a record in the owning partition's log, answered by its leader.
type invocationOps struct{ n *Node }

func (o invocationOps) request(ctx context.Context, kind partition.Kind, id string) (partition.Result, error) {
	inv, err := ids.ParseInvocationID(id)
	if err != nil {
		return partition.Result{}, &admin.InvocationError{Kind: admin.InvocationNotFound, Message: "bad invocation id: " + err.Error()}
	}
	rec := &partition.Record{Kind: kind, Inv: inv}
	return o.n.request(ctx, o.n.partitionOf(inv.PartitionKey), rec, func(s *partition.Sink) { rec.Reply = s })
}

// request submits a record that carries a reply sink and waits for the leader's answer.
func (n *Node) request(ctx context.Context, p uint16, r *partition.Record, attach func(*partition.Sink)) (partition.Result, error) {
	res, err := n.replies.Await(ctx, n.nodeID, attach, func(ctx context.Context) error {
		return (dispatcher{n}).Submit(ctx, p, r)
	})
	if err != nil {
		return partition.Result{}, &admin.InvocationError{Kind: admin.InvocationUnavailable, Err: err}
	}
	return res, nil
}

// refusal maps a leader's refusal onto the admin API's error kinds; whenCompleted is the kind
// for "already completed", which differs per operation.
func refusal(res partition.Result) error {
	switch res.Status {
	case partition.ReplyNotFound:
		return &admin.InvocationError{Kind: admin.InvocationNotFound}
	case partition.ReplyCompleted:
		return &admin.InvocationError{Kind: admin.InvocationAlreadyCompleted}
	case partition.ReplyNotCompleted:
		return &admin.InvocationError{Kind: admin.InvocationNotCompleted}
	case partition.ReplyWrongState:
		return &admin.InvocationError{Kind: admin.InvocationNotStarted}
	case partition.ReplyGone:
		return &admin.InvocationError{Kind: admin.InvocationMissingInput}
	}
	return nil
}

func (o invocationOps) Cancel(ctx context.Context, id string) (admin.Outcome, error) {
	res, err := o.request(ctx, partition.KindCancel, id)
	if err != nil {
		return 0, err
	}
	if err := refusal(res); err != nil {
		return 0, err
	}
	if res.Status == partition.ReplyAppended {
		return admin.Accepted, nil
	}
	return admin.Done, nil
}

func (o invocationOps) simple(ctx context.Context, kind partition.Kind, id string) error {
	res, err := o.request(ctx, kind, id)
	if err != nil {
		return err
	}
	return refusal(res)
}

func (o invocationOps) Kill(ctx context.Context, id string) error {
	return o.simple(ctx, partition.KindKill, id)
}

func (o invocationOps) Purge(ctx context.Context, id string) error {
	return o.simple(ctx, partition.KindPurge, id)
}

func (o invocationOps) PurgeJournal(ctx context.Context, id string) error {
	return o.simple(ctx, partition.KindPurgeJournal, id)
}

func (o invocationOps) RestartAsNew(ctx context.Context, id string, opts admin.RestartAsNewOptions) (string, error) {
	if opts.From != nil && *opts.From > 0 {
		return "", &admin.InvocationError{Kind: admin.InvocationJournalIndexOutOfRange, Message: "restarting from a journal index other than 0 is not supported yet"}
	}
	res, err := o.request(ctx, partition.KindRestartAsNew, id)
	if err != nil {
		return "", err
	}
	switch res.Status {
	case partition.ReplyNotCompleted:
		return "", &admin.InvocationError{Kind: admin.InvocationStillRunning}
	case partition.ReplyWrongState:
		return "", &admin.InvocationError{Kind: admin.InvocationRestartUnsupported}
	}
	if err := refusal(res); err != nil {
		return "", err
	}
	return res.NewID.String(), nil
}

func (o invocationOps) Resume(ctx context.Context, id string, _ admin.DeploymentSelector) error {
	return o.simple(ctx, partition.KindResume, id)
}

func (o invocationOps) Pause(ctx context.Context, id string) (admin.Outcome, error) {
	res, err := o.request(ctx, partition.KindPauseRequest, id)
	if err != nil {
		return 0, err
	}
	if res.Status == partition.ReplyWrongState {
		return 0, &admin.InvocationError{Kind: admin.InvocationNotRunning}
	}
	if err := refusal(res); err != nil {
		return 0, err
	}
	if res.Status == partition.ReplyAppended {
		return admin.Accepted, nil
	}
	return admin.Done, nil
}

func (o invocationOps) ModifyState(ctx context.Context, req admin.ModifyStateRequest) error {
	svc := o.n.registry.Snapshot().Service(req.Service)
	if svc == nil {
		return &admin.InvocationError{Kind: admin.InvocationNotFound, Message: "service '" + req.Service + "' not found"}
	}
	if !svc.Ty.HasState() {
		return errors.New("cannot modify state of a service without state")
	}
	rec := &partition.Record{Kind: partition.KindSetState, Target: partition.Target{Service: req.Service, Key: req.ObjectKey}}
	for k, v := range req.NewState {
		rec.State = append(rec.State, partition.StateEntry{Key: []byte(k), Value: v})
	}
	_, err := o.n.request(ctx, o.n.partitionOf(ids.PartitionKeyForKey(req.ObjectKey)), rec, func(s *partition.Sink) { rec.Reply = s })
	return err
}

// ---- partition routing ----

func (n *Node) partitionOf(pk uint64) uint16 {
	return ids.PartitionForKey(pk, dispatcher{n}.NumPartitions())
}

// router delivers outbox messages between the node's partitions.
type router struct{ n *Node }

func (r router) PartitionOf(pk uint64) uint16 { return r.n.partitionOf(pk) }

func (r router) Send(p uint16, data []byte, done func(error)) {
	r.n.log.Append(p, data, func(_ uint64, err error) { done(err) })
}

// Callee resolves the target of a call made by a handler.
func (r resolver) Callee(service, handler string, idempotent bool) (partition.Target, int64, error) {
	snap := r.n.registry.Snapshot()
	svc := snap.Service(service)
	if svc == nil {
		return partition.Target{}, 0, errors.New("service '" + service + "' not found, make sure to register the service before calling it")
	}
	h := svc.Handler(handler)
	if h == nil {
		return partition.Target{}, 0, errors.New("the service '" + service + "' exists, but the handler '" + handler + "' was not found")
	}
	tg := partition.Target{Service: service, Handler: handler}
	tg.ServiceType, tg.HandlerType = ingress.TargetTypes(svc, h)
	opts := svc.Resolve(h, r.n.defaults)
	retention := opts.JournalRetention
	switch {
	case h.Ty == schema.HandlerTypeWorkflow:
		retention = opts.WorkflowCompletionRetention
	case idempotent:
		retention = opts.IdempotencyRetention
	}
	return tg, retention.Milliseconds(), nil
}
