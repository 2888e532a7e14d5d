// Package server assembles a node: storage, log, partition processors, invoker, and the
// ingress, admin and node HTTP endpoints, from the loaded configuration.
package server

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/restatego/restate/internal/cluster"
	"github.com/restatego/restate/internal/config"
	"github.com/restatego/restate/internal/identity"
	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/ingress"
	"github.com/restatego/restate/internal/invoker"
	"github.com/restatego/restate/internal/log"
	"github.com/restatego/restate/internal/metadata"
	"github.com/restatego/restate/internal/metrics"
	"github.com/restatego/restate/internal/partition"
	"github.com/restatego/restate/internal/reply"
	"github.com/restatego/restate/internal/schema"
	"github.com/restatego/restate/internal/storage"
)

// Version is the server's release, reported on /version and --version.
var Version = "1.5.6"

// Node is one running restate-server process.
type Node struct {
	opts   *config.Options
	logger *slog.Logger
	nodeID uint32

	db       *storage.DB
	meta     metadata.Store
	registry *schema.Registry
	log      log.Log
	localLog *log.Local
	cluster  *cluster.Cluster
	snaps    *snapshotter // nil without a snapshot repository
	// identity signs requests to deployments; nil = unsigned.
	identity *identity.Signer
	access   *accessControl

	procMu        sync.Mutex
	procs         []*partition.Processor // by partition; nil where not replicated here
	numPartitions uint16
	leaderState   map[uint16][2]uint64 // latest raft leader and term per partition
	// pendingPartitions became ours before the worker started.
	pendingPartitions []uint16
	procCancel        map[uint16]context.CancelFunc

	ready       atomic.Bool // the worker started (set last in startWorker)
	health      healthState
	tls         listenerTLS
	addrs       Addresses
	ingressGate gate
	space       *storage.SpaceGuard // refuses new work while the disk is nearly full
	adminGate   gate
	invoker     *invoker.Invoker
	ingress     *ingress.Server
	replies     *reply.Registry
	defaults    schema.Defaults

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	servers []*http.Server
	started time.Time
	errCh   chan error
}

// Addresses are the bound listener addresses (useful when configured with port 0).
type Addresses struct {
	Ingress, Admin, Node string
}

// Start opens the node's storage and starts every role.
func Start(opts *config.Options, logger *slog.Logger) (*Node, Addresses, error) {
	n := &Node{opts: opts, logger: logger, started: time.Now(), errCh: make(chan error, 8)}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.nodeID = opts.ForceNodeID
	if n.nodeID == 0 {
		n.nodeID = 1
	}
	addrs, err := n.start()
	if err != nil {
		n.Close()
		return nil, Addresses{}, err
	}
	return n, addrs, nil
}

func (n *Node) start() (Addresses, error) {
	if err := n.loadIdentity(); err != nil {
		return Addresses{}, err
	}
	dir := n.opts.NodeDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Addresses{}, fmt.Errorf("creating node directory %s: %w", dir, err)
	}
	db, err := storage.Open(filepath.Join(dir, "db"))
	if err != nil {
		return Addresses{}, err
	}
	n.db = db
	n.space = storage.NewSpaceGuard(dir, n.opts.MinFreeDiskSpace, n.logger)
	if err := n.space.Err(); err != nil {
		n.logger.Error("starting with a nearly full disk; new work is refused until space is freed", "err", err)
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.space.Run(n.ctx)
	}()
	local := metadata.NewLocal(db)
	if err := n.checkClusterName(local); err != nil {
		return Addresses{}, err
	}
	if n.tls, err = loadTLS(n.opts, n.logger); err != nil {
		return Addresses{}, err
	}
	n.defaults = schemaDefaults(n.opts)
	n.replies = reply.NewRegistry()
	if n.snaps, err = newSnapshotter(n); err != nil {
		return Addresses{}, err
	}
	snapshotMetrics.add(n)
	nodeMetrics.add(n)
	if clusterMode(n.opts) && n.snaps == nil {
		n.logger.Warn("no snapshot repository is configured: partition logs are never trimmed, and a replica that loses its disk is rebuilt from the whole log; set worker.snapshots.destination")
	}
	if clusterMode(n.opts) {
		if err := n.newCluster(); err != nil {
			return Addresses{}, err
		}
	}

	// Listeners come up first: the node port carries the cluster's own traffic, and the
	// admin health check must answer while a cluster node waits for its peers. A single node
	// holds early requests until it is ready instead.
	n.ingressGate.hold = n.cluster == nil
	n.adminGate.hold = n.cluster == nil
	var addrs Addresses
	if n.access, err = newAccessControl(n.opts, n); err != nil {
		return addrs, err
	}
	if n.opts.HasRole(config.RoleHTTPIngress) {
		if addrs.Ingress, err = n.serve("ingress", n.opts.Ingress.BindAddress, n.tls.ingress, instrumentIngress(n.access.ingress(&n.ingressGate), n.knownService)); err != nil {
			return addrs, err
		}
	}
	if n.opts.HasRole(config.RoleAdmin) {
		if n.cluster != nil {
			n.adminGate.inCluster = n.cluster.Registered
		}
		if addrs.Admin, err = n.serve("admin", n.opts.Admin.BindAddress, n.tls.admin, n.access.admin(&n.adminGate)); err != nil {
			return addrs, err
		}
	}
	if addrs.Node, err = n.serve("node", n.opts.BindAddress, n.tls.node, n.nodeHandler()); err != nil {
		return addrs, err
	}
	n.addrs = addrs

	if n.cluster == nil {
		if err := n.bootstrapSingle(local); err != nil {
			return addrs, err
		}
	} else {
		go func() {
			if err := n.bootstrapCluster(); err != nil {
				n.logger.Error("joining the cluster failed", "err", err)
				n.errCh <- err
			}
		}()
	}
	n.logger.Info("restate-server started", "node", n.opts.NodeName, "cluster", n.opts.ClusterName,
		"ingress", addrs.Ingress, "admin", addrs.Admin, "node-port", addrs.Node, "data", dir, "clustered", n.cluster != nil)
	return addrs, nil
}

// bootstrapSingle starts a node that is a cluster of its own: local metadata and local logs.
func (n *Node) bootstrapSingle(local *metadata.Local) error {
	n.meta = meteredMetadata{Store: local, server: true}
	numPartitions, err := n.localPartitionTable()
	if err != nil {
		return err
	}
	l, err := log.OpenLocal(n.db, numPartitions)
	if err != nil {
		return err
	}
	n.localLog, n.log = l, l
	partitions := make([]uint16, numPartitions)
	for i := range partitions {
		partitions[i] = uint16(i)
	}
	return n.startWorker(numPartitions, partitions, false)
}

func (n *Node) newProcessor(p uint16, raftLeadership bool) *partition.Processor {
	return partition.New(partition.Config{
		ID: p, Node: n.nodeID, DB: n.db, Log: meteredLog{n.log}, Effects: &effects{n: n}, Router: router{n}, Logger: n.logger,
		CleanupInterval: n.opts.Worker.CleanupInterval, RaftLeadership: raftLeadership,
		Restore: n.restoreHook(), Trim: n.trimLog, RestoreWhenEmpty: raftLeadership,
	})
}

// runProcessor runs a processor and hands it the latest leadership its log reported.
func (n *Node) runProcessor(proc *partition.Processor) {
	ctx, cancel := context.WithCancel(n.ctx)
	n.procMu.Lock()
	if n.procCancel == nil {
		n.procCancel = map[uint16]context.CancelFunc{}
	}
	n.procCancel[proc.ID()] = cancel
	n.procMu.Unlock()
	metrics.PartitionStart.WithLabelValues(strconv.Itoa(int(proc.ID()))).Inc()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		err := proc.Run(ctx)
		stop := "normal"
		if err != nil {
			stop = "error"
		}
		metrics.PartitionStop.WithLabelValues(strconv.Itoa(int(proc.ID())), stop).Inc()
		if err != nil {
			n.logger.Error("partition processor stopped", "partition", proc.ID(), "err", err)
			n.errCh <- err
		}
	}()
	n.procMu.Lock()
	ev, ok := n.leaderState[proc.ID()]
	n.procMu.Unlock()
	if ok {
		proc.OnLeaderChange(ev[0], ev[1])
	}
}

// startWorker creates the schema registry, invoker, ingress and the processors of the given
// partitions, then opens the gates of the ingress and admin APIs.
func (n *Node) startWorker(numPartitions uint16, mine []uint16, raftLeadership bool) error {
	var err error
	n.registry, err = schema.NewRegistry(n.ctx, n.meta)
	if err != nil {
		return err
	}
	go n.registry.Watch(n.ctx, func(err error) { n.logger.Warn("reloading schema", "err", err) })
	n.invoker = invoker.New(invoker.Options{
		Resolver:           resolver{n},
		Logger:             n.logger,
		ConcurrencyLimit:   n.opts.Worker.Invoker.ConcurrentInvocationsLimit,
		ClusterName:        n.opts.ClusterName,
		DefaultRetryPolicy: n.defaults.RetryPolicy,
		Identity:           n.identity,
		DialContext:        n.access.deploymentDialer(),
	})
	n.ingress = ingress.New(ingress.Options{
		Replies:          n.replies,
		Schema:           n.registry.Snapshot,
		Dispatcher:       dispatcher{n},
		Defaults:         n.defaults,
		Node:             n.nodeID,
		Logger:           n.logger,
		ConcurrencyLimit: n.opts.Ingress.ConcurrentAPIRequestsLimit,
	})
	procs := make([]*partition.Processor, numPartitions)
	n.procMu.Lock()
	for _, p := range append(mine, n.pendingPartitions...) {
		if int(p) < len(procs) && procs[p] == nil {
			procs[p] = n.newProcessor(p, raftLeadership)
		}
	}
	n.pendingPartitions = nil
	n.procs = procs
	n.numPartitions = numPartitions
	n.procMu.Unlock()
	for _, proc := range procs {
		if proc != nil {
			n.runProcessor(proc)
		}
	}
	if n.snaps != nil {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.snaps.run(n.ctx)
		}()
	} else if n.cluster == nil && n.opts.Admin.LogTrimCheckInterval > 0 {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			everyTick(n.ctx, n.opts.Admin.LogTrimCheckInterval, n.trimDurable)
		}()
	}
	n.ingressGate.set(refuseWritesWhenDiskLow(n.ingress, n.space, ingressRead, ingressErrorShape))
	n.adminGate.set(refuseWritesWhenDiskLow(n.adminHandler(n.addrs.Ingress), n.space, adminRead, adminErrorShape))
	n.ready.Store(true)
	n.logger.Info("node ready", "partitions", numPartitions, "replicated-here", len(mine))
	return nil
}

// checkClusterName refuses to open a data directory that belongs to another cluster.
func (n *Node) checkClusterName(local *metadata.Local) error {
	v, ver, err := local.Get(n.ctx, "cluster-name")
	if err != nil {
		return err
	}
	if ver == 0 {
		_, err := local.CompareAndSwap(n.ctx, "cluster-name", 0, []byte(n.opts.ClusterName))
		return err
	}
	if string(v) != n.opts.ClusterName {
		return fmt.Errorf("the data in %s belongs to cluster %q, but this node is configured for cluster %q; use a different base-dir or node-name, or set cluster-name to %q", n.opts.NodeDir(), v, n.opts.ClusterName, v)
	}
	return nil
}

// localPartitionTable returns the number of partitions of a single node, fixed the first time
// it starts.
func (n *Node) localPartitionTable() (uint16, error) {
	v, ver, err := n.meta.Get(n.ctx, "partition-table")
	if err != nil {
		return 0, err
	}
	if ver > 0 {
		if len(v) != 2 {
			return 0, errors.New("corrupt partition table in the metadata store")
		}
		num := binary.BigEndian.Uint16(v)
		if num != n.opts.DefaultNumPartitions {
			n.logger.Info("default-num-partitions only applies when a cluster is first provisioned; keeping the existing partition table", "partitions", num)
		}
		return num, nil
	}
	num := n.opts.DefaultNumPartitions
	if _, err := n.meta.CompareAndSwap(n.ctx, "partition-table", 0, binary.BigEndian.AppendUint16(nil, num)); err != nil {
		return 0, err
	}
	return num, nil
}

// serve listens on addr and serves h: over TLS (HTTP/2 and HTTP/1.1 by ALPN) when tlsConfig
// is set, otherwise plain HTTP/1.1 and h2c.
func (n *Node) serve(name, addr string, tlsConfig *tls.Config, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%s: listen on %s: %w", name, addr, err)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	if tlsConfig != nil {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	srv := &http.Server{
		Handler:           h,
		Protocols:         &protocols,
		TLSConfig:         tlsConfig,
		ErrorLog:          stdlog.New(httpErrorLog{logger: n.logger, listener: name}, "", 0),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: 10000},
	}
	if name == "ingress" {
		srv.ConnState = countIngressConns
	}
	n.servers = append(n.servers, srv)
	go func() {
		serve := func() error { return srv.Serve(ln) }
		if tlsConfig != nil {
			serve = func() error { return srv.ServeTLS(ln, "", "") }
		}
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.errCh <- fmt.Errorf("%s server: %w", name, err)
		}
	}()
	return ln.Addr().String(), nil
}

// Err reports a fatal error of a background component.
func (n *Node) Err() <-chan error { return n.errCh }

// Close stops the node within its shutdown-timeout (see Shutdown).
func (n *Node) Close() {
	timeout := n.opts.ShutdownTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		n.logger.Error("shutdown incomplete", "err", err)
	}
}

// httpDrain bounds how long requests in flight get to finish before their connections are
// closed: at most half of the shutdown budget (the rest is for the processors, logs and
// storage), and at most maxHTTPDrain, as the node port's raft streams never finish by
// themselves.
const maxHTTPDrain = 5 * time.Second

func httpDrain(ctx context.Context, now time.Time) time.Time {
	limit := now.Add(maxHTTPDrain)
	if deadline, ok := ctx.Deadline(); ok {
		if half := now.Add(deadline.Sub(now) / 2); half.Before(limit) {
			limit = half
		}
	}
	return limit
}

// Shutdown stops the node, bounded by ctx: the listeners stop accepting at once and the
// invoker aborts every attempt (closing its stream to the deployment); requests in flight get
// part of the budget to finish before their connections are closed; then the processors stop,
// and the logs and storage close last. Every acknowledged record is already durable in the
// log, so if ctx ends first Shutdown logs what was still running and returns an error without
// waiting further: the caller exits and a restart replays the log.
func (n *Node) Shutdown(ctx context.Context) error {
	snapshotMetrics.remove(n)
	nodeMetrics.remove(n)
	start := time.Now()

	drainCtx, cancelDrain := context.WithDeadline(ctx, httpDrain(ctx, start))
	defer cancelDrain()
	var stopping sync.WaitGroup
	for _, s := range n.servers {
		stopping.Add(1)
		go func() {
			defer stopping.Done()
			if err := s.Shutdown(drainCtx); err != nil {
				// Requests still running (a caller waiting for a result that will not come
				// before the restart): end their connections.
				_ = s.Close()
			}
		}()
	}
	var left []ids.InvocationID
	if n.invoker != nil {
		left = n.invoker.Shutdown(ctx)
	}
	stopping.Wait()
	if len(left) > 0 {
		n.logger.Warn("invocation attempts still running at shutdown", "count", len(left), "invocations", invocationList(left))
	}

	// The rest runs in order (processors, then the cluster, then the log, then storage) but is
	// not waited for beyond ctx.
	var current atomic.Value // the step under way, for the timeout's message
	done := make(chan struct{})
	go func() {
		defer close(done)
		current.Store("partition processors")
		n.cancel()
		n.wg.Wait()
		if n.cluster != nil {
			current.Store("cluster (raft and node network)")
			n.cluster.Stop()
		}
		if n.localLog != nil {
			current.Store("log")
			n.localLog.Close()
		}
		if n.db != nil {
			current.Store("storage")
			n.db.Close()
		}
	}()
	select {
	case <-done:
		n.logger.Info("shutdown complete", "took", time.Since(start).Round(time.Millisecond))
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shutdown-timeout passed after %s while stopping the %s; the log holds everything acknowledged and is replayed at the next start",
			time.Since(start).Round(time.Millisecond), current.Load())
	}
}

// invocationList names a few invocations for a log line.
func invocationList(invs []ids.InvocationID) string {
	const most = 10
	var b strings.Builder
	for i, inv := range invs {
		if i == most {
			fmt.Fprintf(&b, " and %d more", len(invs)-most)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(inv.String())
	}
	return b.String()
}

// dispatcher routes ingress records to the local partition processors.
type dispatcher struct{ n *Node }

func (d dispatcher) NumPartitions() uint16 { return d.n.partitionCount() }

// partitionCount is the cluster's number of partitions (0 until the worker started).
func (n *Node) partitionCount() uint16 {
	n.procMu.Lock()
	defer n.procMu.Unlock()
	return n.numPartitions
}

func (d dispatcher) Submit(ctx context.Context, p uint16, r *partition.Record) error {
	if d.n.cluster == nil {
		if proc := d.n.proc(p); proc != nil {
			return proc.Submit(ctx, r)
		}
		return fmt.Errorf("partition %d does not exist", p)
	}
	// In a cluster a submission can fail while a partition changes leaders. Every record the
	// ingress and admin submit is safe to repeat (invocation ids are fixed before the first
	// try), so retry until the partition answers or the caller gives up.
	start := time.Now()
	backoff := 20 * time.Millisecond
	for {
		var err error
		// A proposal can vanish without an error reaching us: raft drops a proposal that a
		// follower forwarded to a leader which died or is handing leadership over. Give each
		// attempt a bounded time instead of waiting for the log's own timeout.
		actx, cancel := context.WithTimeout(ctx, submitAttemptTimeout)
		err = d.n.submitOnce(actx, p, r)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
		waited := time.Since(start)
		if waited > submitRetryWindow {
			return err
		}
		// A partition without a leader for longer than an election takes is cut off from
		// the majority of its replicas (or most of them are down): say so instead of waiting.
		if leader, _ := d.n.cluster.Log.Leader(p); leader == 0 && waited > noLeaderPatience && d.n.proc(p) != nil {
			return fmt.Errorf("partition %d has no leader: this node cannot reach a majority of the partition's replicas (%w)", p, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		if backoff < 500*time.Millisecond {
			backoff *= 2
		}
	}
}

// submitRetryWindow bounds how long a request waits for a partition to get a leader, and
// noLeaderPatience how long it waits when no leader is known at all.
const (
	submitRetryWindow    = 15 * time.Second
	noLeaderPatience     = 3 * time.Second
	submitAttemptTimeout = time.Second
)

// effects fans the processors' leader actions out to the invoker and the ingress.
type effects struct{ n *Node }

func (e *effects) Invoke(p *partition.Processor, inv ids.InvocationID) { e.n.invoker.Invoke(p, inv) }
func (e *effects) Notify(inv ids.InvocationID, index uint32, en partition.Entry) {
	e.n.invoker.Notify(inv, index, en)
}
func (e *effects) Abort(inv ids.InvocationID)      { e.n.invoker.Abort(inv) }
func (e *effects) StepDown(p *partition.Processor) { e.n.invoker.AbortPartition(p) }
func (e *effects) Respond(sink partition.Sink, inv ids.InvocationID, res partition.Result) {
	if sink.Kind != partition.SinkIngress {
		return
	}
	if sink.Node == e.n.nodeID {
		e.n.replies.Deliver(sink.RequestID, res)
		return
	}
	if e.n.cluster != nil {
		go e.n.deliverRemote(sink, res)
	}
}

// resolver finds the deployment serving a handler's service.
type resolver struct{ n *Node }

// When the handler cannot be resolved, the options are the server's defaults, so the
// invocation backs off by the default retry policy until its handler returns.
func (r resolver) Resolve(service, handler string) (*schema.Deployment, schema.ResolvedOptions, error) {
	snap := r.n.registry.Snapshot()
	svc := snap.Service(service)
	if svc == nil {
		return nil, r.fallback(), fmt.Errorf("service %q is not registered (any more)", service)
	}
	h := svc.Handler(handler)
	if h == nil {
		return nil, r.fallback(), fmt.Errorf("handler %s/%s is not registered (any more)", service, handler)
	}
	opts := svc.Resolve(h, r.n.defaults)
	dep := snap.Deployment(svc.DeploymentID)
	if dep == nil {
		// The service's own policy still applies while its deployment is missing.
		return nil, opts, fmt.Errorf("deployment %s of service %q is gone", svc.DeploymentID, service)
	}
	return dep, opts, nil
}

// fallback are the options of a handler nobody declares any more.
func (r resolver) fallback() schema.ResolvedOptions {
	d := r.n.defaults
	return schema.ResolvedOptions{
		InactivityTimeout:           d.InactivityTimeout,
		AbortTimeout:                d.AbortTimeout,
		IdempotencyRetention:        d.IdempotencyRetention,
		WorkflowCompletionRetention: d.WorkflowCompletionRetention,
		JournalRetention:            d.JournalRetention,
		RetryPolicy:                 d.RetryPolicy,
	}
}

func schemaDefaults(o *config.Options) schema.Defaults {
	d := schema.RestateDefaults()
	d.InactivityTimeout = o.Worker.Invoker.InactivityTimeout
	d.AbortTimeout = o.Worker.Invoker.AbortTimeout
	rp := o.DefaultRetryPolicy
	if rp.InitialInterval > 0 {
		d.RetryPolicy = schema.RetryPolicy{
			InitialInterval: rp.InitialInterval,
			Factor:          rp.ExponentiationFactor,
			MaxAttempts:     rp.MaxAttempts,
			MaxInterval:     rp.MaxInterval,
			OnMaxAttempts:   schema.OnMaxAttemptsPause,
		}
		if strings.EqualFold(rp.OnMaxAttempts, config.OnMaxAttemptsKill) {
			d.RetryPolicy.OnMaxAttempts = schema.OnMaxAttemptsKill
		}
	}
	return d
}
