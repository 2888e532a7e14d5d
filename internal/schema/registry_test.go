package schema

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restatego/restate/internal/discovery"
	"github.com/restatego/restate/internal/schema/schematest"
)

func manifest(t *testing.T, services string) *discovery.Manifest {
	t.Helper()
	m, err := discovery.ParseManifest([]byte(`{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"services":[` + services + `]}`))
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	return m
}

const (
	greeterSvc    = `{"name":"Greeter","ty":"SERVICE","handlers":[{"name":"greet"},{"name":"wave"}]}`
	greeterOneSvc = `{"name":"Greeter","ty":"SERVICE","handlers":[{"name":"greet"}]}`
	greeterObj    = `{"name":"Greeter","ty":"VIRTUAL_OBJECT","handlers":[{"name":"greet"},{"name":"wave"}]}`
	counterObj    = `{"name":"Counter","ty":"VIRTUAL_OBJECT","handlers":[{"name":"add"},{"name":"get","ty":"SHARED"}]}`
)

func deploymentAt(uri string) *Deployment {
	return &Deployment{
		URI: uri, ProtocolType: ProtocolTypeBidiStream, HTTPVersion: "HTTP/2.0",
		MinProtocolVersion: 5, MaxProtocolVersion: 7, ProtocolVersion: 7, SDKVersion: "restate-sdk-go/v1.2.0",
		AdditionalHeaders: map[string]string{"x-token": "t"},
	}
}

type testRegistry struct {
	*Registry
	store *schematest.MemoryStore
	ids   int
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	store := schematest.NewMemoryStore()
	reg, err := NewRegistry(context.Background(), store)
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	tr := &testRegistry{Registry: reg, store: store}
	var mu sync.Mutex
	reg.newID = func() string {
		mu.Lock()
		defer mu.Unlock()
		tr.ids++
		return fmt.Sprintf("dp_test%d", tr.ids)
	}
	clock := time.Date(2025, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	reg.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}
	return tr
}

func wantSchemaError(t *testing.T, err error, kind ErrorKind, code, contains string) {
	t.Helper()
	se, ok := AsError(err)
	if !ok {
		t.Fatalf("want *schema.Error kind %v, got %v", kind, err)
	}
	if se.Kind != kind || se.Code != code {
		t.Fatalf("kind/code = %v/%q, want %v/%q (%v)", se.Kind, se.Code, kind, code, err)
	}
	if !strings.Contains(se.Message, contains) {
		t.Fatalf("message %q lacks %q", se.Message, contains)
	}
}

func TestRegisterNewDeployment(t *testing.T) {
	r := newTestRegistry(t)
	ctx := context.Background()
	dep, svcs, err := r.Register(ctx, deploymentAt("http://a:9080/"), manifest(t, greeterSvc+","+counterObj), RegisterOptions{})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if dep.ID != "dp_test1" || len(svcs) != 2 || svcs[0].Name != "Counter" || svcs[1].Name != "Greeter" {
		t.Fatalf("result: %+v %+v", dep, svcs)
	}
	if dep.CreatedAt.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("created_at must be millisecond precise: %v", dep.CreatedAt)
	}
	snap := r.Snapshot()
	if snap.Version() != 1 {
		t.Errorf("version %d", snap.Version())
	}
	g := snap.Service("Greeter")
	if g == nil || g.Revision != 1 || g.DeploymentID != dep.ID || !g.Public || g.Ty != ServiceTypeService {
		t.Fatalf("Greeter: %+v", g)
	}
	if h := snap.Handler("Counter", "get"); h == nil || h.Ty != HandlerTypeShared {
		t.Fatalf("Counter/get: %+v", h)
	}
	if h := snap.Handler("Counter", "add"); h == nil || h.Ty != HandlerTypeExclusive {
		t.Fatalf("Counter/add defaults to exclusive: %+v", h)
	}
	if snap.Handler("Counter", "nope") != nil || snap.Service("Nope") != nil || snap.Deployment("dp_x") != nil {
		t.Fatal("lookups of unknown names must return nil")
	}

	// The stored form is versioned JSON that a fresh registry reads back identically.
	raw, _, _ := r.store.Get(ctx, StoreKey)
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || string(top["format_version"]) != "1" {
		t.Fatalf("stored schema lacks format_version 1: %s", raw)
	}
	again, err := NewRegistry(ctx, r.store)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	d2 := again.Snapshot().Deployment(dep.ID)
	if d2 == nil || d2.URI != dep.URI || !d2.CreatedAt.Equal(dep.CreatedAt) || d2.AdditionalHeaders["x-token"] != "t" ||
		d2.SDKVersion != dep.SDKVersion || d2.ProtocolVersion != 7 || len(d2.Services) != 2 {
		t.Fatalf("reloaded deployment differs: %+v", d2)
	}
	if again.Snapshot().Service("Greeter").Revision != 1 {
		t.Fatal("reloaded service revision")
	}
}

func TestRegisterNewRevisionOnOtherDeployment(t *testing.T) {
	r := newTestRegistry(t)
	ctx := context.Background()
	d1, _, err := r.Register(ctx, deploymentAt("http://a/"), manifest(t, greeterSvc+","+counterObj), RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d2, svcs, err := r.Register(ctx, deploymentAt("http://b/"), manifest(t, greeterSvc), RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d1.ID == d2.ID || len(svcs) != 1 || svcs[0].Revision != 2 {
		t.Fatalf("second registration: %+v %+v", d2, svcs)
	}
	snap := r.Snapshot()
	if g := snap.Service("Greeter"); g.DeploymentID != d2.ID || g.Revision != 2 {
		t.Fatalf("Greeter should point at the new deployment: %+v", g)
	}
	if c := snap.Service("Counter"); c.DeploymentID != d1.ID {
		t.Fatalf("Counter stays on the old deployment: %+v", c)
	}
	if old := snap.DeploymentService(d1.ID, "Greeter"); old == nil || old.Revision != 1 {
		t.Fatalf("old revision must stay reachable for pinned invocations: %+v", old)
	}
	if got := snap.Deployments(); len(got) != 2 || got[0].ID != d1.ID {
		t.Fatalf("deployments oldest first: %+v", got)
	}
	revs := snap.Deployment(d1.ID).ServiceRevisions()
	if len(revs) != 2 || revs[0] != (ServiceRevision{"Counter", 1}) || revs[1] != (ServiceRevision{"Greeter", 1}) {
		t.Fatalf("revisions of old deployment: %+v", revs)
	}
}

func TestRegisterSameAddress(t *testing.T) {
	r := newTestRegistry(t)
	ctx := context.Background()
	d1, _, err := r.Register(ctx, deploymentAt("http://a/"), manifest(t, greeterSvc+","+counterObj), RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = r.Register(ctx, deploymentAt("http://a/"), manifest(t, greeterSvc), RegisterOptions{})
	wantSchemaError(t, err, KindConflict, "", "already exists in the schema registry: deployment with id '"+d1.ID+"'")

	d2, svcs, err := r.Register(ctx, deploymentAt("http://a/"), manifest(t, greeterSvc), RegisterOptions{Overwrite: true, AllowBreaking: true})
	if err != nil {
		t.Fatalf("forced: %v", err)
	}
	if d2.ID != d1.ID || len(svcs) != 1 || svcs[0].Revision != 2 {
		t.Fatalf("forced re-registration keeps the id and bumps the revision: %+v %+v", d2, svcs)
	}
	snap := r.Snapshot()
	if snap.Service("Counter") != nil {
		t.Fatal("Counter is no longer served by the replaced deployment and must be gone")
	}
	if len(snap.Deployments()) != 1 {
		t.Fatalf("deployments: %d", len(snap.Deployments()))
	}
}

func TestRegisterIncompatibleChanges(t *testing.T) {
	r := newTestRegistry(t)
	ctx := context.Background()
	if _, _, err := r.Register(ctx, deploymentAt("http://a/"), manifest(t, greeterSvc), RegisterOptions{}); err != nil {
		t.Fatal(err)
	}
	_, _, err := r.Register(ctx, deploymentAt("http://b/"), manifest(t, greeterObj), RegisterOptions{})
	wantSchemaError(t, err, KindConflict, CodeIncompatibleChange, "service type different")
	_, _, err = r.Register(ctx, deploymentAt("http://b/"), manifest(t, greeterOneSvc), RegisterOptions{})
	wantSchemaError(t, err, KindConflict, CodeIncompatibleChange, `the service 'Greeter' already exists but the new revision removed the handlers ["wave"]`)
	if got := len(r.Snapshot().Deployments()); got != 1 {
		t.Fatalf("failed registrations must leave nothing behind, have %d deployments", got)
	}
	_, svcs, err := r.Register(ctx, deploymentAt("http://b/"), manifest(t, greeterObj), RegisterOptions{Overwrite: true, AllowBreaking: true})
	if err != nil || svcs[0].Ty != ServiceTypeVirtualObject || svcs[0].Revision != 2 {
		t.Fatalf("force allows the type change: %v %+v", err, svcs)
	}
}

func TestRegisterDryRun(t *testing.T) {
	r := newTestRegistry(t)
	ctx := context.Background()
	dep, svcs, err := r.Register(ctx, deploymentAt("http://a/"), manifest(t, greeterSvc), RegisterOptions{DryRun: true})
	if err != nil || dep.ID == "" || len(svcs) != 1 || svcs[0].Revision != 1 {
		t.Fatalf("dry run result: %v %+v %+v", err, dep, svcs)
	}
	if r.Snapshot().Version() != 0 || len(r.Snapshot().Deployments()) != 0 || r.store.CASCalls() != 0 {
		t.Fatal("dry run must not write")
	}
	// A dry run against an existing address with force reports the existing id.
	d1, _, _ := r.Register(ctx, deploymentAt("http://a/"), manifest(t, greeterSvc), RegisterOptions{})
	d2, svcs, err := r.Register(ctx, deploymentAt("http://a/"), manifest(t, greeterSvc), RegisterOptions{Overwrite: true, AllowBreaking: true, DryRun: true})
	if err != nil || d2.ID != d1.ID || svcs[0].Revision != 2 {
		t.Fatalf("forced dry run: %v %+v %+v", err, d2, svcs)
	}
	if r.Snapshot().Service("Greeter").Revision != 1 {
		t.Fatal("dry run changed the schema")
	}
}

func TestRegisterManifestRules(t *testing.T) {
	cases := []struct {
		name, services, code, contains string
	}{
		{"reserved prefix", `{"name":"RestateThing","ty":"SERVICE","handlers":[]}`, CodeReservedName, "cannot insert/modify service 'RestateThing' as it contains a reserved name"},
		{"reserved openapi", `{"name":"OpenAPI","ty":"SERVICE","handlers":[]}`, CodeReservedName, "reserved name"},
		{"exclusive on service", `{"name":"S","ty":"SERVICE","handlers":[{"name":"h","ty":"EXCLUSIVE"}]}`, "", "invalid combination of service type and handler type '(Service, Some(Exclusive))'"},
		{"workflow on object", `{"name":"S","ty":"VIRTUAL_OBJECT","handlers":[{"name":"h","ty":"WORKFLOW"}]}`, "", "(VirtualObject, Some(Workflow))"},
		{"exclusive on workflow", `{"name":"S","ty":"WORKFLOW","handlers":[{"name":"h","ty":"EXCLUSIVE"}]}`, "", "(Workflow, Some(Exclusive))"},
		{"wf retention on shared", `{"name":"S","ty":"WORKFLOW","handlers":[{"name":"h","ty":"SHARED","workflowCompletionRetention":1000}]}`, "", "h sets the workflow_completion_retention, but it's not a WORKFLOW handler"},
		{"idempotency on workflow handler", `{"name":"S","ty":"WORKFLOW","handlers":[{"name":"run","ty":"WORKFLOW","idempotencyRetention":1000}]}`, "", "run sets the idempotency_retention, but it's a WORKFLOW handler"},
		{"public handler in private service", `{"name":"S","ty":"SERVICE","ingressPrivate":true,"handlers":[{"name":"h","ingressPrivate":false}]}`, "", "The service S is private, but the h is explicitly set as public"},
		{"bad input content type", `{"name":"S","ty":"SERVICE","handlers":[{"name":"h","input":{"contentType":"json"}}]}`, "", "the handler 'h' input content-type is not valid: can't parse the content-type 'json': must contain one /"},
		{"star subtype", `{"name":"S","ty":"SERVICE","handlers":[{"name":"h","input":{"contentType":"*/json"}}]}`, "", "*/subType is not supported"},
		{"bad output content type", `{"name":"S","ty":"SERVICE","handlers":[{"name":"h","output":{"contentType":"a/b\u0001"}}]}`, "", "the handler 'h' output content-type is not valid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRegistry(t)
			_, _, err := r.Register(context.Background(), deploymentAt("http://a/"), manifest(t, tc.services), RegisterOptions{})
			wantSchemaError(t, err, KindInvalid, tc.code, tc.contains)
		})
	}
}

func TestWorkflowHandlerDefaults(t *testing.T) {
	r := newTestRegistry(t)
	_, _, err := r.Register(context.Background(), deploymentAt("http://a/"),
		manifest(t, `{"name":"W","ty":"WORKFLOW","handlers":[{"name":"run","ty":"WORKFLOW","workflowCompletionRetention":3600000},{"name":"click"}]}`), RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snap := r.Snapshot()
	if h := snap.Handler("W", "click"); h.Ty != HandlerTypeShared {
		t.Errorf("untyped workflow handler is shared, got %q", h.Ty)
	}
	run := snap.Handler("W", "run")
	if run.Ty != HandlerTypeWorkflow || run.WorkflowCompletionRetention == nil || *run.WorkflowCompletionRetention != time.Hour {
		t.Errorf("run: %+v", run)
	}
	opts := snap.Service("W").Resolve(run, RestateDefaults())
	if opts.WorkflowCompletionRetention != time.Hour || opts.IdempotencyRetention != 24*time.Hour {
		t.Errorf("resolved: %+v", opts)
	}
}

func TestModifyService(t *testing.T) {
	r := newTestRegistry(t)
	ctx := context.Background()
	if _, _, err := r.Register(ctx, deploymentAt("http://a/"), manifest(t, greeterSvc), RegisterOptions{}); err != nil {
		t.Fatal(err)
	}
	f := false
	minute := time.Minute
	svc, err := r.ModifyService(ctx, "Greeter", ServicePatch{Public: &f, InactivityTimeout: &minute, JournalRetention: &minute})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Public || *svc.InactivityTimeout != time.Minute || *svc.JournalRetention != time.Minute || svc.Revision != 1 {
		t.Fatalf("modified: %+v", svc)
	}
	if got := r.Snapshot().Service("Greeter"); got.Public || r.Snapshot().Version() != 2 {
		t.Fatalf("snapshot not updated: %+v", got)
	}
	_, err = r.ModifyService(ctx, "Greeter", ServicePatch{WorkflowCompletionRetention: &minute})
	wantSchemaError(t, err, KindInvalid, "", "modifying retention time for service type Service is unsupported")
	_, err = r.ModifyService(ctx, "Nope", ServicePatch{Public: &f})
	wantSchemaError(t, err, KindNotFound, "", "service 'Nope'")

	// A new revision keeps admin changes the manifest does not override.
	_, svcs, err := r.Register(ctx, deploymentAt("http://b/"),
		manifest(t, `{"name":"Greeter","ty":"SERVICE","journalRetention":5000,"handlers":[{"name":"greet"},{"name":"wave"}]}`), RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g := svcs[0]
	if g.Public || g.InactivityTimeout == nil || *g.InactivityTimeout != time.Minute || *g.JournalRetention != 5*time.Second {
		t.Fatalf("inheritance: public=%v inactivity=%v journal=%v", g.Public, g.InactivityTimeout, g.JournalRetention)
	}
	// An explicit visibility in the manifest wins.
	_, svcs, err = r.Register(ctx, deploymentAt("http://c/"),
		manifest(t, `{"name":"Greeter","ty":"SERVICE","ingressPrivate":false,"handlers":[{"name":"greet"},{"name":"wave"}]}`), RegisterOptions{})
	if err != nil || !svcs[0].Public {
		t.Fatalf("explicit public: %v %+v", err, svcs)
	}
}

func TestRemoveDeployment(t *testing.T) {
	r := newTestRegistry(t)
	ctx := context.Background()
	d1, _, _ := r.Register(ctx, deploymentAt("http://a/"), manifest(t, greeterSvc+","+counterObj), RegisterOptions{})
	d2, _, _ := r.Register(ctx, deploymentAt("http://b/"), manifest(t, greeterSvc), RegisterOptions{})

	wantSchemaError(t, r.RemoveDeployment(ctx, d1.ID, false), KindNotImplemented, "", "forced")
	wantSchemaError(t, r.RemoveDeployment(ctx, "dp_missing", true), KindNotFound, "", "deployment with id 'dp_missing'")

	if err := r.RemoveDeployment(ctx, d1.ID, true); err != nil {
		t.Fatal(err)
	}
	snap := r.Snapshot()
	if snap.Deployment(d1.ID) != nil || snap.Service("Counter") != nil {
		t.Fatal("deployment and the services it was latest for must be gone")
	}
	if g := snap.Service("Greeter"); g == nil || g.DeploymentID != d2.ID {
		t.Fatalf("Greeter is served by the other deployment: %+v", g)
	}
}

func TestUpdateDeployment(t *testing.T) {
	r := newTestRegistry(t)
	ctx := context.Background()
	d1, _, _ := r.Register(ctx, deploymentAt("http://a/"), manifest(t, greeterSvc+","+counterObj), RegisterOptions{})

	moved := deploymentAt("http://a2/")
	moved.SDKVersion = "restate-sdk-go/v1.2.1"
	d, svcs, err := r.UpdateDeployment(ctx, d1.ID, moved, manifest(t, greeterSvc+","+counterObj), UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != d1.ID || d.URI != "http://a2/" || !d.CreatedAt.Equal(d1.CreatedAt) || d.SDKVersion != "restate-sdk-go/v1.2.1" {
		t.Fatalf("updated deployment: %+v", d)
	}
	if len(svcs) != 2 || svcs[0].Revision != 1 || svcs[1].Revision != 1 {
		t.Fatalf("revisions must stay: %+v", svcs)
	}
	if r.Snapshot().Service("Greeter").DeploymentID != d1.ID {
		t.Fatal("active pointer")
	}

	_, _, err = r.UpdateDeployment(ctx, d1.ID, moved, manifest(t, greeterSvc), UpdateOptions{})
	wantSchemaError(t, err, KindInvalid, CodeBadUpdate, `tried to remove the services ["Counter"]`)

	newer := deploymentAt("http://a2/")
	newer.MaxProtocolVersion = 6
	_, _, err = r.UpdateDeployment(ctx, d1.ID, newer, manifest(t, greeterSvc+","+counterObj), UpdateOptions{})
	wantSchemaError(t, err, KindInvalid, CodeBadUpdate, "from 5..=7 to 5..=6")

	_, _, err = r.UpdateDeployment(ctx, d1.ID, moved, manifest(t, greeterOneSvc+","+counterObj), UpdateOptions{})
	wantSchemaError(t, err, KindConflict, CodeIncompatibleChange, `removed the handlers ["wave"]`)

	_, _, err = r.UpdateDeployment(ctx, "dp_missing", moved, manifest(t, greeterSvc), UpdateOptions{})
	wantSchemaError(t, err, KindNotFound, "", "dp_missing")

	_, svcs, err = r.UpdateDeployment(ctx, d1.ID, moved, manifest(t, greeterOneSvc), UpdateOptions{Overwrite: true})
	if err != nil || len(svcs) != 1 {
		t.Fatalf("overwrite: %v %+v", err, svcs)
	}
	if r.Snapshot().Service("Counter") != nil {
		t.Fatal("Counter was dropped by the overwrite")
	}
}

// conflictingStore makes the first CompareAndSwap lose against a write from "another node".
func TestRegisterRetriesOnConcurrentWrite(t *testing.T) {
	r := newTestRegistry(t)
	ctx := context.Background()
	other, err := NewRegistry(ctx, r.store)
	if err != nil {
		t.Fatal(err)
	}
	other.newID = func() string { return "dp_other" }
	fired := false
	r.store.BeforeCAS = func() {
		if fired {
			return
		}
		fired = true
		if _, _, err := other.Register(ctx, deploymentAt("http://other/"), manifest(t, counterObj), RegisterOptions{}); err != nil {
			t.Errorf("concurrent register: %v", err)
		}
	}
	if _, _, err := r.Register(ctx, deploymentAt("http://a/"), manifest(t, greeterSvc), RegisterOptions{}); err != nil {
		t.Fatalf("Register after conflict: %v", err)
	}
	snap := r.Snapshot()
	if snap.Service("Counter") == nil || snap.Service("Greeter") == nil || snap.Version() != 2 {
		t.Fatalf("both writes must survive: version %d services %+v", snap.Version(), snap.Services())
	}
}

func TestWatchSeesOtherNodesChanges(t *testing.T) {
	a := newTestRegistry(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := NewRegistry(ctx, a.store)
	if err != nil {
		t.Fatal(err)
	}
	b.Watch(ctx, func(err error) { t.Errorf("watch: %v", err) })
	if _, _, err := a.Register(ctx, deploymentAt("http://a/"), manifest(t, greeterSvc), RegisterOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.Snapshot().Service("Greeter") == nil {
		if time.Now().After(deadline) {
			t.Fatal("registry b never saw the registration made through a")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConcurrentRegistrationsFromTwoNodes(t *testing.T) {
	a := newTestRegistry(t)
	ctx := context.Background()
	b, err := NewRegistry(ctx, a.store)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		reg := a.Registry
		if i%2 == 1 {
			reg = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc := fmt.Sprintf(`{"name":"S%d","ty":"SERVICE","handlers":[{"name":"h"}]}`, i)
			if _, _, err := reg.Register(ctx, deploymentAt(fmt.Sprintf("http://n%d/", i)), manifest(t, svc), RegisterOptions{}); err != nil {
				t.Errorf("register %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(a.Snapshot().Services()); got != 8 {
		t.Fatalf("want 8 services, have %d", got)
	}
}

func TestDecodeRejectsUnknownFormat(t *testing.T) {
	store := schematest.NewMemoryStore()
	if _, err := store.CompareAndSwap(context.Background(), StoreKey, 0, []byte(`{"format_version":2,"deployments":[]}`)); err != nil {
		t.Fatal(err)
	}
	_, err := NewRegistry(context.Background(), store)
	if err == nil || !strings.Contains(err.Error(), "format_version 2") {
		t.Fatalf("want a format error, got %v", err)
	}
}
