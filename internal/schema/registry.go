package schema

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/restatego/restate/internal/discovery"
	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/metadata"
)

// StoreKey is the metadata store key holding the schema.
const StoreKey = "schema"

// formatVersion is written into every stored schema; a reader refuses newer formats instead of
// misreading them.
const formatVersion = 1

// maxCASAttempts bounds retries when another writer changed the schema concurrently.
const maxCASAttempts = 16

// Snapshot is an immutable view of the schema at one metadata store version.
type Snapshot struct {
	version     uint64
	deployments map[string]*Deployment
	// active maps a service name to the deployment serving its latest revision.
	active map[string]string
}

// Version is the metadata store version this snapshot was read at (0 for an empty schema).
func (s *Snapshot) Version() uint64 { return s.version }

// Service returns the latest revision of the named service, or nil.
func (s *Snapshot) Service(name string) *Service {
	depID, ok := s.active[name]
	if !ok {
		return nil
	}
	if d := s.deployments[depID]; d != nil {
		return d.Services[name]
	}
	return nil
}

// Handler returns the named handler of the latest revision of a service, or nil.
func (s *Snapshot) Handler(service, handler string) *Handler {
	return s.Service(service).Handler(handler)
}

// Services lists the latest revision of every service, sorted by name.
func (s *Snapshot) Services() []*Service {
	out := make([]*Service, 0, len(s.active))
	for name := range s.active {
		if svc := s.Service(name); svc != nil {
			out = append(out, svc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Deployment returns the deployment with the given id, or nil.
func (s *Snapshot) Deployment(id string) *Deployment { return s.deployments[id] }

// DeploymentService returns the revision of a service served by a given deployment (which may
// be older than the latest), or nil. Invocations pinned to a deployment use this.
func (s *Snapshot) DeploymentService(deploymentID, service string) *Service {
	if d := s.deployments[deploymentID]; d != nil {
		return d.Services[service]
	}
	return nil
}

// Deployments lists all deployments, oldest first.
func (s *Snapshot) Deployments() []*Deployment {
	out := make([]*Deployment, 0, len(s.deployments))
	for _, d := range s.deployments {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// stored is the persisted JSON form.
type stored struct {
	FormatVersion  int               `json:"format_version"`
	Deployments    []*Deployment     `json:"deployments"`
	ActiveServices map[string]string `json:"active_services"`
}

func encodeSnapshot(s *Snapshot) ([]byte, error) {
	st := stored{FormatVersion: formatVersion, ActiveServices: s.active}
	for _, d := range s.deployments {
		st.Deployments = append(st.Deployments, d)
	}
	sort.Slice(st.Deployments, func(i, j int) bool { return st.Deployments[i].ID < st.Deployments[j].ID })
	return json.Marshal(st)
}

func decodeSnapshot(data []byte, version uint64) (*Snapshot, error) {
	s := &Snapshot{version: version, deployments: map[string]*Deployment{}, active: map[string]string{}}
	if len(data) == 0 {
		return s, nil
	}
	var st stored
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("schema: cannot decode stored schema version %d: %w", version, err)
	}
	if st.FormatVersion != formatVersion {
		return nil, fmt.Errorf("schema: stored schema version %d has format_version %d, this server reads %d", version, st.FormatVersion, formatVersion)
	}
	for _, d := range st.Deployments {
		if d == nil || d.ID == "" {
			return nil, fmt.Errorf("schema: stored schema version %d has a deployment without id", version)
		}
		if d.Services == nil {
			d.Services = map[string]*Service{}
		}
		s.deployments[d.ID] = d
	}
	for name, depID := range st.ActiveServices {
		if d := s.deployments[depID]; d == nil || d.Services[name] == nil {
			return nil, fmt.Errorf("schema: stored schema version %d says service %q is served by %q, which does not serve it", version, name, depID)
		}
		s.active[name] = depID
	}
	return s, nil
}

// Registry owns the schema: it publishes the current Snapshot and applies changes through the
// metadata store, so every node sees the same schema.
type Registry struct {
	store   metadata.Store
	current atomic.Pointer[Snapshot]
	// writeMu serialises this node's writers; the store's compare-and-set handles other nodes.
	writeMu sync.Mutex

	newID func() string
	now   func() time.Time
}

// NewRegistry loads the current schema from store.
func NewRegistry(ctx context.Context, store metadata.Store) (*Registry, error) {
	r := &Registry{store: store, newID: ids.NewDeploymentID, now: time.Now}
	if err := r.Reload(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Snapshot returns the current schema. It never blocks.
func (r *Registry) Snapshot() *Snapshot { return r.current.Load() }

// Reload reads the schema from the store and publishes it if it is newer.
func (r *Registry) Reload(ctx context.Context) error {
	data, version, err := r.store.Get(ctx, StoreKey)
	if err != nil {
		return fmt.Errorf("schema: reading %q from the metadata store: %w", StoreKey, err)
	}
	snap, err := decodeSnapshot(data, version)
	if err != nil {
		return err
	}
	r.publish(snap)
	return nil
}

// Watch follows the store in the background until ctx ends, so changes made on other nodes
// show up here. onError, if not nil, hears about schemas that could not be loaded.
func (r *Registry) Watch(ctx context.Context, onError func(error)) {
	versions := r.store.Watch(ctx, StoreKey)
	go func() {
		for v := range versions {
			if v <= r.Snapshot().Version() {
				continue
			}
			if err := r.Reload(ctx); err != nil && onError != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}()
}

// publish installs snap unless a newer snapshot is already installed.
func (r *Registry) publish(snap *Snapshot) {
	for {
		cur := r.current.Load()
		if cur != nil && cur.version >= snap.version {
			return
		}
		if r.current.CompareAndSwap(cur, snap) {
			return
		}
	}
}

// update applies change to a fresh copy of the stored schema and writes it back with
// compare-and-set, retrying when another writer got there first. With dryRun nothing is
// written and the would-be snapshot is returned.
func (r *Registry) update(ctx context.Context, dryRun bool, change func(*Snapshot) error) (*Snapshot, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	for range maxCASAttempts {
		data, version, err := r.store.Get(ctx, StoreKey)
		if err != nil {
			return nil, fmt.Errorf("schema: reading %q from the metadata store: %w", StoreKey, err)
		}
		// Decoding gives a private deep copy that change may modify freely.
		next, err := decodeSnapshot(data, version)
		if err != nil {
			return nil, err
		}
		if err := change(next); err != nil {
			return nil, err
		}
		if dryRun {
			return next, nil
		}
		encoded, err := encodeSnapshot(next)
		if err != nil {
			return nil, fmt.Errorf("schema: encoding: %w", err)
		}
		newVersion, err := r.store.CompareAndSwap(ctx, StoreKey, version, encoded)
		if errors.Is(err, metadata.ErrVersionMismatch) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("schema: writing %q to the metadata store: %w", StoreKey, err)
		}
		next.version = newVersion
		r.publish(next)
		return next, nil
	}
	return nil, fmt.Errorf("schema: gave up after %d concurrent modifications of %q", maxCASAttempts, StoreKey)
}

// RegisterOptions tune Register. Restate's admin API "force" flag sets both Overwrite and
// AllowBreaking.
type RegisterOptions struct {
	// Overwrite replaces a deployment registered at the same address (keeping its id)
	// instead of failing with a conflict.
	Overwrite bool
	// AllowBreaking accepts service revisions that change the service type or drop handlers.
	AllowBreaking bool
	// DryRun computes the result without storing it.
	DryRun bool
}

// Register adds the deployment described by dep (connection facts from discovery; ID,
// CreatedAt and Services are filled in here) serving the services of manifest m, following
// Restate 1.5's rules:
//   - each service gets revision latest+1 (1 when new) and now points at this deployment;
//   - registering an address that is already registered is a conflict unless Overwrite; then
//     the deployment is replaced in place (same id) and services it no longer serves are
//     dropped;
//   - changing a service's type or dropping handlers is a conflict unless AllowBreaking;
//   - settings the manifest leaves unset keep the previous revision's values (including
//     changes made through ModifyService).
//
// Older deployments stay registered while invocations may still need them.
func (r *Registry) Register(ctx context.Context, dep *Deployment, m *discovery.Manifest, opts RegisterOptions) (*Deployment, []*Service, error) {
	var result *Deployment
	_, err := r.update(ctx, opts.DryRun, func(s *Snapshot) error {
		// Built afresh on every attempt: the loop below mutates the services.
		services, err := buildServices(m)
		if err != nil {
			return err
		}
		var same []*Deployment
		for _, d := range s.deployments {
			if d.URI == dep.URI && d.ProtocolType == dep.ProtocolType {
				same = append(same, d)
			}
		}
		sort.Slice(same, func(i, j int) bool { return same[i].ID < same[j].ID })

		id := ""
		var dropped []string
		switch {
		case len(same) > 0 && !opts.Overwrite:
			return &Error{Kind: KindConflict, Message: fmt.Sprintf("already exists in the schema registry: deployment with id '%s'", same[0].ID)}
		case len(same) > 1:
			ids := make([]string, len(same))
			for i, d := range same {
				ids[i] = d.ID
			}
			return invalidf(CodeAmbiguousEndpoint, "multiple deployments (%s) were found that reference the discovered endpoint. A deployment can only be force updated when it uniquely owns its endpoint. First delete one or more of the deployments", debugList(ids))
		case len(same) == 1:
			id = same[0].ID
			for name := range same[0].Services {
				if !slices.ContainsFunc(services, func(svc *Service) bool { return svc.Name == name }) {
					dropped = append(dropped, name)
				}
			}
		default:
			id = r.newID()
		}

		next := cloneDeploymentFacts(dep)
		next.ID = id
		next.CreatedAt = r.now().UTC().Truncate(time.Millisecond)
		next.Services = make(map[string]*Service, len(services))
		for _, svc := range services {
			prev := s.Service(svc.Name)
			if prev != nil {
				if err := checkCompatible(prev, svc, opts.AllowBreaking); err != nil {
					return err
				}
				svc.Revision = prev.Revision + 1
				inheritSettings(svc, prev)
			} else {
				svc.Revision = 1
			}
			svc.DeploymentID = id
			next.Services[svc.Name] = svc
		}
		s.deployments[id] = next
		for _, name := range dropped {
			if s.active[name] == id {
				delete(s.active, name)
			}
		}
		for _, svc := range services {
			s.active[svc.Name] = id
		}
		result = next
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return result, result.SortedServices(), nil
}

// UpdateOptions tune UpdateDeployment.
type UpdateOptions struct {
	// Overwrite allows any change of the served services (removals, type changes).
	Overwrite bool
	// DryRun computes the result without storing it.
	DryRun bool
}

// UpdateDeployment re-registers deployment id from a fresh discovery (new address, headers or
// SDK), keeping its id, creation time and service revision numbers. Without overwrite the
// deployment must keep serving the same services, with compatible types and handlers; with
// overwrite anything goes. The protocol version range must not change either way.
func (r *Registry) UpdateDeployment(ctx context.Context, id string, dep *Deployment, m *discovery.Manifest, opts UpdateOptions) (*Deployment, []*Service, error) {
	overwrite := opts.Overwrite
	var result *Deployment
	_, err := r.update(ctx, opts.DryRun, func(s *Snapshot) error {
		services, err := buildServices(m)
		if err != nil {
			return err
		}
		old := s.deployments[id]
		if old == nil {
			return notFoundf("deployment with id '%s'", id)
		}
		if old.MinProtocolVersion != dep.MinProtocolVersion || old.MaxProtocolVersion != dep.MaxProtocolVersion {
			return invalidf(CodeBadUpdate, "an update deployment operation must provide an endpoint with the same services and handlers. The update tried to change the supported protocol versions from %d..=%d to %d..=%d",
				old.MinProtocolVersion, old.MaxProtocolVersion, dep.MinProtocolVersion, dep.MaxProtocolVersion)
		}
		if !overwrite {
			var removed []string
			for name := range old.Services {
				if !slices.ContainsFunc(services, func(svc *Service) bool { return svc.Name == name }) {
					removed = append(removed, name)
				}
			}
			if len(removed) > 0 {
				sort.Strings(removed)
				return invalidf(CodeBadUpdate, "an update deployment operation must provide an endpoint with the same services and handlers. The update tried to remove the services %s", debugList(removed))
			}
		}

		next := cloneDeploymentFacts(dep)
		next.ID = id
		next.CreatedAt = old.CreatedAt
		next.Services = make(map[string]*Service, len(services))
		for _, svc := range services {
			prev := old.Services[svc.Name]
			latest := s.Service(svc.Name)
			switch {
			case prev != nil:
				if err := checkCompatible(prev, svc, overwrite); err != nil {
					return err
				}
				svc.Revision = prev.Revision
				inheritSettings(svc, prev)
			case latest != nil:
				if err := checkCompatible(latest, svc, overwrite); err != nil {
					return err
				}
				svc.Revision = latest.Revision + 1
				inheritSettings(svc, latest)
			default:
				svc.Revision = 1
			}
			svc.DeploymentID = id
			next.Services[svc.Name] = svc
		}
		s.deployments[id] = next
		for name := range old.Services {
			if next.Services[name] == nil && s.active[name] == id {
				delete(s.active, name)
			}
		}
		for name := range next.Services {
			if cur, ok := s.active[name]; !ok || cur == id {
				s.active[name] = id
			}
		}
		result = next
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return result, result.SortedServices(), nil
}

// RemoveDeployment forgets a deployment. Services whose latest revision it served disappear
// with it. Only forced removal is supported, as in Restate: it can break in-flight invocations.
func (r *Registry) RemoveDeployment(ctx context.Context, id string, force bool) error {
	if !force {
		return &Error{Kind: KindNotImplemented, Message: "only forced deployment removal is supported"}
	}
	_, err := r.update(ctx, false, func(s *Snapshot) error {
		d := s.deployments[id]
		if d == nil {
			return notFoundf("deployment with id '%s'", id)
		}
		delete(s.deployments, id)
		for name := range d.Services {
			if s.active[name] == id {
				delete(s.active, name)
			}
		}
		return nil
	})
	return err
}

// ServicePatch lists admin changes to a service; nil fields stay as they are.
type ServicePatch struct {
	Public                      *bool
	IdempotencyRetention        *time.Duration
	WorkflowCompletionRetention *time.Duration
	JournalRetention            *time.Duration
	InactivityTimeout           *time.Duration
	AbortTimeout                *time.Duration
}

// ModifyService changes settings of the latest revision of a service and returns it.
func (r *Registry) ModifyService(ctx context.Context, name string, patch ServicePatch) (*Service, error) {
	var result *Service
	_, err := r.update(ctx, false, func(s *Snapshot) error {
		svc := s.Service(name)
		if svc == nil {
			return notFoundf("service '%s'", name)
		}
		if patch.WorkflowCompletionRetention != nil && svc.Ty != ServiceTypeWorkflow {
			return invalidf("", "modifying retention time for service type %s is unsupported", svc.Ty)
		}
		if patch.Public != nil {
			svc.Public = *patch.Public
		}
		set := func(dst **time.Duration, v *time.Duration) {
			if v != nil {
				d := *v
				*dst = &d
			}
		}
		set(&svc.IdempotencyRetention, patch.IdempotencyRetention)
		set(&svc.WorkflowCompletionRetention, patch.WorkflowCompletionRetention)
		set(&svc.JournalRetention, patch.JournalRetention)
		set(&svc.InactivityTimeout, patch.InactivityTimeout)
		set(&svc.AbortTimeout, patch.AbortTimeout)
		result = svc
		return nil
	})
	if err != nil {
		return nil, err
	}
	return result, nil
}

// checkCompatible enforces that a new revision keeps the service type and every handler,
// unless breaking changes are allowed.
func checkCompatible(prev, next *Service, allowBreaking bool) error {
	if allowBreaking {
		return nil
	}
	if prev.Ty != next.Ty {
		return &Error{Kind: KindConflict, Code: CodeIncompatibleChange, Message: fmt.Sprintf(
			"detected a new service '%s' revision with a service type different from the previous revision. Service type cannot be changed across revisions", next.Name)}
	}
	var removed []string
	for name := range prev.Handlers {
		if next.Handlers[name] == nil {
			removed = append(removed, name)
		}
	}
	if len(removed) > 0 {
		sort.Strings(removed)
		return &Error{Kind: KindConflict, Code: CodeIncompatibleChange, Message: fmt.Sprintf(
			"the service '%s' already exists but the new revision removed the handlers %s", next.Name, debugList(removed))}
	}
	return nil
}

// inheritSettings keeps the previous revision's service-level settings where the manifest of
// the new revision leaves them unset (Restate 1.5 behaviour).
func inheritSettings(next, prev *Service) {
	if !next.publicSetByManifest {
		next.Public = prev.Public
	}
	keep := func(dst **time.Duration, old *time.Duration) {
		if *dst == nil && old != nil {
			d := *old
			*dst = &d
		}
	}
	keep(&next.IdempotencyRetention, prev.IdempotencyRetention)
	keep(&next.JournalRetention, prev.JournalRetention)
	keep(&next.InactivityTimeout, prev.InactivityTimeout)
	keep(&next.AbortTimeout, prev.AbortTimeout)
	if next.Ty == ServiceTypeWorkflow && prev.Ty == ServiceTypeWorkflow {
		keep(&next.WorkflowCompletionRetention, prev.WorkflowCompletionRetention)
	}
}

func cloneDeploymentFacts(d *Deployment) *Deployment {
	c := *d
	if d.AdditionalHeaders != nil {
		c.AdditionalHeaders = make(map[string]string, len(d.AdditionalHeaders))
		for k, v := range d.AdditionalHeaders {
			c.AdditionalHeaders[k] = v
		}
	}
	c.Services = nil
	return &c
}
