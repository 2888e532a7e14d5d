package query

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/restatego/restate/internal/discovery"
	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/log"
	"github.com/restatego/restate/internal/partition"
	"github.com/restatego/restate/internal/schema"
	"github.com/restatego/restate/internal/schema/schematest"
	"github.com/restatego/restate/internal/storage"
	"github.com/restatego/restate/internal/wire"
)

type noEffects struct{}

func (noEffects) Invoke(*partition.Processor, ids.InvocationID)              {}
func (noEffects) Notify(ids.InvocationID, uint32, partition.Entry)           {}
func (noEffects) Abort(ids.InvocationID)                                     {}
func (noEffects) StepDown(*partition.Processor)                              {}
func (noEffects) Respond(partition.Sink, ids.InvocationID, partition.Result) {}

// startProcessor runs a single-partition processor on a fresh store.
func startProcessor(t *testing.T) (*partition.Processor, func(*partition.Record)) {
	t.Helper()
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l, err := log.OpenLocal(db, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := partition.New(partition.Config{ID: 0, Node: 1, DB: db, Log: l, Effects: noEffects{}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; l.Close(); db.Close() })
	deadline := time.Now().Add(5 * time.Second)
	for !p.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("processor never became leader")
		}
		time.Sleep(5 * time.Millisecond)
	}
	submit := func(r *partition.Record) {
		t.Helper()
		if err := p.Submit(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		tail := l.Tail(0)
		for p.AppliedLSN() < tail {
			if time.Now().After(deadline.Add(10 * time.Second)) {
				t.Fatal("record not applied")
			}
			time.Sleep(time.Millisecond)
		}
	}
	return p, submit
}

func TestEngineTables(t *testing.T) {
	p, submit := startProcessor(t)
	counter := partition.Target{Service: "Counter", Handler: "add", Key: "alice", ServiceType: partition.ServiceVirtualObject, HandlerType: partition.HandlerExclusive}
	greeter := partition.Target{Service: "Greeter", Handler: "greet"}
	invoke := func(id ids.InvocationID, tg partition.Target, idem string) {
		submit(&partition.Record{Kind: partition.KindInvoke, Inv: id, Target: tg, Body: []byte(`1`), IdempotencyKey: idem,
			Retention: time.Hour.Milliseconds(), CreatedAt: time.Now().UnixMilli()})
	}
	a := ids.NewInvocationID(ids.PartitionKeyForKey("alice"))
	queued := ids.NewInvocationID(ids.PartitionKeyForKey("alice"))
	done := ids.NewInvocationID(1)
	invoke(a, counter, "")
	invoke(queued, counter, "")
	invoke(done, greeter, "idem-1")

	runCmd := wire.RunCommand{Name: "fetch"}
	submit(&partition.Record{Kind: partition.KindJournalAppend, Inv: a, EntryType: uint16(wire.TypeRunCommand), Payload: runCmd.AppendTo(nil)})
	set := wire.SetStateCommand{Key: []byte("count"), Value: []byte("42")}
	submit(&partition.Record{Kind: partition.KindJournalAppend, Inv: a, EntryType: uint16(wire.TypeSetStateCommand), Payload: set.AppendTo(nil)})
	submit(&partition.Record{Kind: partition.KindAttemptFailed, Inv: a, Failure: &partition.Failure{Code: 500, Message: "boom"},
		RelatedEntry: 1, NextRetryAt: time.Now().Add(time.Hour).UnixMilli()})
	out := wire.OutputCommand{Result: wire.ValueResult([]byte(`"hi"`))}
	submit(&partition.Record{Kind: partition.KindJournalAppend, Inv: done, EntryType: uint16(wire.TypeOutputCommand), Payload: out.AppendTo(nil)})
	submit(&partition.Record{Kind: partition.KindEnd, Inv: done})

	e := NewEngine(EngineTables(LocalPartitions([]*partition.Processor{p}), func() *schema.Snapshot { return nil })...)

	cases := []struct{ sql, want string }{
		{"SELECT id, status, target, target_service_ty, retry_count, last_failure, last_failure_related_command_index, last_failure_related_entry_index, last_failure_related_entry_type, last_failure_related_entry_name FROM sys_invocation WHERE id = '" + a.String() + "'",
			a.String() + "|backing-off|Counter/alice/add|virtual_object|1|[500] boom|1|1|Command: Run|fetch"},
		{"SELECT status FROM sys_invocation_status WHERE id = '" + a.String() + "'", "invoked"},
		{"SELECT status, target_service_key FROM sys_invocation WHERE id = '" + queued.String() + "'", "pending|alice"},
		{"SELECT status, completion_result, idempotency_key, journal_size, target_service_key IS NULL FROM sys_invocation WHERE id = '" + done.String() + "'", "completed|success|idem-1|2|true"},
		{"SELECT COUNT(*) FROM sys_invocation WHERE status != 'completed'", "2"},
		{"SELECT index, entry_type, name FROM sys_journal WHERE id = '" + a.String() + "' ORDER BY index", "0|Command: Input|NULL;1|Command: Run|fetch;2|Command: SetState|NULL"},
		{"SELECT service_name, service_key, key, value_utf8, value FROM state WHERE service_name = 'Counter' AND service_key = 'alice'", "Counter|alice|count|42|3432"},
		{"SELECT key FROM state WHERE service_name = 'Counter'", "count"},
		{"SELECT service_name, service_key, id, sequence_number IS NOT NULL FROM sys_inbox", "Counter|alice|" + queued.String() + "|true"},
		{"SELECT invocation_id FROM sys_keyed_service_status WHERE service_name = 'Counter'", a.String()},
		{"SELECT idempotency_key, invocation_id FROM sys_idempotency", "idem-1|" + done.String()},
		{"SELECT COUNT(*) FROM sys_service", "0"},
		{"SELECT id FROM sys_invocation WHERE id = 'inv_garbage'", ""},
	}
	for _, c := range cases {
		if got := run(t, e, c.sql); got != c.want {
			t.Errorf("%s\n got %s\nwant %s", c.sql, got, c.want)
		}
	}
}

func TestInvocationStatusDerivation(t *testing.T) {
	now := time.Now().UnixMilli()
	cases := []struct {
		st   partition.Status
		want string
	}{
		{partition.Status{Phase: partition.PhaseInboxed}, "pending"},
		{partition.Status{Phase: partition.PhaseScheduled}, "scheduled"},
		{partition.Status{Phase: partition.PhaseInvoked}, "running"},
		{partition.Status{Phase: partition.PhaseInvoked, RetryCount: 2, NextRetryAt: now + 1000}, "backing-off"},
		{partition.Status{Phase: partition.PhaseInvoked, RetryCount: 2, NextRetryAt: now - 1000}, "running"},
		{partition.Status{Phase: partition.PhaseSuspended}, "suspended"},
		{partition.Status{Phase: partition.PhasePaused}, "paused"},
		{partition.Status{Phase: partition.PhaseCompleted}, "completed"},
	}
	for _, c := range cases {
		if got := invocationStatus(&c.st, now); got != c.want {
			t.Errorf("%+v: %s, want %s", c.st, got, c.want)
		}
	}
	for typ, want := range map[wire.MessageType]string{
		wire.TypeRunCommand: "Command: Run", wire.TypeCallCompletion: "Notification: Call",
		wire.TypeCallInvocationIDCompletion: "Notification: CallInvocationId", wire.TypeSignalNotification: "Notification: Signal",
		wire.TypeOneWayCallCommand: "Command: OneWayCall",
	} {
		if got := entryTypeName(typ); got != want {
			t.Errorf("entryTypeName(%s) = %s, want %s", typ, got, want)
		}
	}
}

func TestSchemaTables(t *testing.T) {
	ctx := context.Background()
	reg, err := schema.NewRegistry(ctx, schematest.NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	m, err := discovery.ParseManifest([]byte(`{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"services":[` +
		`{"name":"Greeter","ty":"SERVICE","handlers":[{"name":"greet"}]},{"name":"Counter","ty":"VIRTUAL_OBJECT","handlers":[{"name":"add"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	dep, _, err := reg.Register(ctx, &schema.Deployment{URI: "http://svc:9080/", ProtocolType: schema.ProtocolTypeBidiStream,
		HTTPVersion: "HTTP/2.0", MinProtocolVersion: 5, MaxProtocolVersion: 7, ProtocolVersion: 7}, m, schema.RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(EngineTables(LocalPartitions(nil), reg.Snapshot)...)
	if got, want := run(t, e, "SELECT name, revision, public, ty, deployment_id FROM sys_service ORDER BY name"),
		"Counter|1|true|virtual_object|"+dep.ID+";Greeter|1|true|service|"+dep.ID; got != want {
		t.Errorf("sys_service: %s, want %s", got, want)
	}
	if got, want := run(t, e, "SELECT id, ty, endpoint, min_service_protocol_version, max_service_protocol_version, created_at IS NOT NULL FROM sys_deployment"),
		dep.ID+"|http|http://svc:9080/|5|7|true"; got != want {
		t.Errorf("sys_deployment: %s, want %s", got, want)
	}
	if got := run(t, e, "SELECT COUNT(*) FROM sys_invocation"); got != "0" {
		t.Errorf("no partitions, no invocations: %s", got)
	}
	if !strings.Contains(run(t, e, "SHOW TABLES"), "sys_invocation") {
		t.Error("SHOW TABLES lacks sys_invocation")
	}
}
