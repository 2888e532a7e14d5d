package server

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/restatego/restate/internal/admin"
	"github.com/restatego/restate/internal/clusterapi"
	"github.com/restatego/restate/internal/metrics"
	"github.com/restatego/restate/internal/partition"
	"github.com/restatego/restate/internal/snapshot"
)

// snapshotter takes partition snapshots into the repository: automatically on the leader of
// each partition every snapshot-interval-num-records applied records, and on demand. Uploads
// run beside the partitions, never in their way: a slow or unreachable object store delays
// snapshots (and so log trimming), not requests.
type snapshotter struct {
	n        *Node
	repo     snapshot.Repository
	dest     string        // for messages; secrets never appear in it
	interval uint64        // snapshot-interval-num-records (0: not by record count)
	every    time.Duration // snapshot-interval (0: not by time)
	tmp      string
	// exporting admits one export and upload at a time per node, so snapshots of many
	// partitions do not crowd out the partitions' own work.
	exporting chan struct{}

	mu    sync.Mutex
	parts map[uint16]*partSnapshots
}

// partSnapshots is one partition's snapshot bookkeeping on this node.
type partSnapshots struct {
	busy sync.Mutex // one snapshot of a partition at a time

	// Guarded by snapshotter.mu.
	failures  int       // consecutive failed attempts
	retryAt   time.Time // no automatic attempt before
	succeeded uint64
	failed    uint64
	restored  uint64
	lastBytes int64
	lastSecs  float64
}

// Automatic snapshots back off up to this long after failures.
const maxSnapshotBackoff = time.Minute

func newSnapshotter(n *Node) (*snapshotter, error) {
	so := n.opts.Worker.Snapshots
	if so.Destination == "" {
		return nil, nil
	}
	d, err := snapshot.ParseDestination(so.Destination, snapshot.S3Options{
		Region:          so.AwsRegion,
		EndpointURL:     so.AwsEndpointURL,
		AccessKeyID:     so.AwsAccessKeyID,
		SecretAccessKey: so.AwsSecretAccessKey.Reveal(),
		SessionToken:    so.AwsSessionToken.Reveal(),
		AllowHTTP:       so.AwsAllowHTTP,
	})
	if err != nil {
		return nil, fmt.Errorf("worker.snapshots.destination: %w", err)
	}
	logger := n.logger.With("component", "snapshots")
	repo, err := snapshot.Open(d, snapshot.Options{
		Keep: int(so.NumRetained),
		Logf: func(format string, args ...any) { logger.Warn(fmt.Sprintf(format, args...)) },
	})
	if err != nil {
		return nil, err
	}
	s := &snapshotter{
		n: n, repo: repo, dest: d.String(), interval: so.SnapshotIntervalNumRecords, every: so.SnapshotInterval,
		tmp:       filepath.Join(n.opts.NodeDir(), "snapshot-staging"),
		exporting: make(chan struct{}, 1),
		parts:     map[uint16]*partSnapshots{},
	}
	// Leftovers of a crash mid-snapshot are useless.
	_ = os.RemoveAll(s.tmp)
	logger.Info("partition snapshots enabled", "destination", s.dest, "interval-num-records", s.interval, "interval", s.every, "num-retained", so.NumRetained)
	return s, nil
}

func (s *snapshotter) part(p uint16) *partSnapshots {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.parts[p]
	if ps == nil {
		ps = &partSnapshots{}
		s.parts[p] = ps
	}
	return ps
}

func (s *snapshotter) identity() (clusterName, fingerprint string) {
	clusterName = s.n.opts.ClusterName
	if s.n.cluster != nil {
		if nc := s.n.cluster.Nodes(); nc != nil {
			fingerprint = nc.Fingerprint
		}
	}
	return clusterName, fingerprint
}

// run takes automatic snapshots until the node stops.
func (s *snapshotter) run(ctx context.Context) {
	if s.interval == 0 && s.every == 0 {
		return // on demand only
	}
	everyTick(ctx, 500*time.Millisecond, s.snapshotDue)
}

// snapshotDue starts a snapshot of every partition led here that is due: it applied an
// interval's worth of records and its newest snapshot is older than the time interval (when
// both are set, as Restate, both must hold), and something happened since.
func (s *snapshotter) snapshotDue(ctx context.Context) {
	for _, proc := range s.n.localProcs() {
		applied, last := proc.AppliedLSN(), proc.SnapshotLSN()
		quiet := applied <= max(last, proc.SnapshotAnnouncedLSN()) // nothing since the newest
		if !proc.IsLeader() || quiet || applied < last+s.interval {
			continue
		}
		if at := proc.SnapshotCreatedAt(); s.every > 0 && at != 0 && time.Since(time.UnixMilli(at)) < s.every {
			continue
		}
		ps := s.part(proc.ID())
		s.mu.Lock()
		wait := time.Now().Before(ps.retryAt)
		s.mu.Unlock()
		if wait || !ps.busy.TryLock() {
			continue
		}
		s.n.wg.Add(1)
		go func() {
			defer s.n.wg.Done()
			defer ps.busy.Unlock()
			_, _ = s.take(ctx, proc, ps, false)
		}()
	}
}

// take exports proc's partition, uploads it and announces it in the partition's log, which
// lets every replica trim the log up to the previous snapshot. The caller holds ps.busy.
func (s *snapshotter) take(ctx context.Context, proc *partition.Processor, ps *partSnapshots, trimLog bool) (*clusterapi.Snapshot, error) {
	select {
	case s.exporting <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.exporting }()
	p := proc.ID()
	start := time.Now()
	res, err := s.export(ctx, proc, trimLog)
	s.mu.Lock()
	if err != nil {
		metrics.SnapshotUploadFailures.WithLabelValues().Inc()
		ps.failed++
		ps.failures++
		ps.retryAt = time.Now().Add(min(time.Duration(1<<min(ps.failures, 10))*time.Second, maxSnapshotBackoff))
		retryIn := time.Until(ps.retryAt).Round(time.Second)
		s.mu.Unlock()
		if ctx.Err() == nil {
			s.n.logger.Warn("partition snapshot failed; the log is not trimmed until one succeeds", "partition", p, "destination", s.dest, "err", err, "retry_in", retryIn)
		}
		return nil, err
	}
	ps.failures, ps.retryAt = 0, time.Time{}
	ps.succeeded++
	ps.lastBytes = res.SizeBytes
	ps.lastSecs = time.Since(start).Seconds()
	s.mu.Unlock()
	snapshotDuration.Observe(time.Since(start).Seconds())
	metrics.SnapshotUploads.WithLabelValues().Inc()
	metrics.SnapshotUploadDuration.WithLabelValues().Observe(time.Since(start).Seconds())
	s.n.logger.Info("partition snapshot taken", "partition", p, "lsn", res.MinAppliedLSN, "snapshot", res.SnapshotID, "bytes", res.SizeBytes, "took", time.Since(start).Round(time.Millisecond))
	return res, nil
}

func (s *snapshotter) export(ctx context.Context, proc *partition.Processor, trimLog bool) (*clusterapi.Snapshot, error) {
	p := proc.ID()
	dir := filepath.Join(s.tmp, fmt.Sprintf("p%d-%d", p, time.Now().UnixNano()))
	defer os.RemoveAll(dir)
	lsn, err := snapshot.ExportPartition(s.n.db, p, dir)
	if err != nil {
		return nil, err
	}
	name, fp := s.identity()
	uctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	m, err := s.repo.Put(uctx, snapshot.Meta{
		PartitionID: p, ClusterName: name, ClusterFingerprint: fp, NodeName: s.n.opts.NodeName, MinAppliedLSN: lsn,
	}, dir)
	if err != nil {
		return nil, err
	}
	var size int64
	for _, f := range m.Files {
		size += f.Size
	}
	// Announce it: every replica records it and trims its log up to the previous snapshot.
	// If this fails (leadership moved), the snapshot is still usable for restores; the next
	// one will be announced.
	if err := proc.Submit(ctx, &partition.Record{Kind: partition.KindSnapshotTaken, UpTo: lsn, SnapshotID: m.SnapshotID, TrimLog: trimLog}); err != nil {
		if trimLog { // the operator asked for the trim, which only the announcement does
			return nil, fmt.Errorf("snapshot %s uploaded, but announcing it to trim the log failed: %w", m.SnapshotID, err)
		}
		s.n.logger.Warn("announcing a partition snapshot in the log failed", "partition", p, "lsn", lsn, "err", err)
	}
	return &clusterapi.Snapshot{
		PartitionID: p, SnapshotID: m.SnapshotID, MinAppliedLSN: lsn, Path: m.Path, SizeBytes: size,
		CreatedAt: m.CreatedAt.UTC().Format(time.RFC3339Nano), NodeName: m.NodeName,
	}, nil
}

// restoreHook is the processors' way to restore from the repository (nil without one).
func (n *Node) restoreHook() func(ctx context.Context, p uint16, minLSN uint64) error {
	if n.snaps == nil {
		return nil
	}
	return n.snaps.restore
}

// restore replaces partition p's state with the newest valid snapshot at minLSN or later.
func (s *snapshotter) restore(ctx context.Context, p uint16, minLSN uint64) error {
	dir := filepath.Join(s.tmp, fmt.Sprintf("restore-p%d-%d", p, time.Now().UnixNano()))
	defer os.RemoveAll(dir)
	name, fp := s.identity()
	start := time.Now()
	m, err := s.repo.Fetch(ctx, p, name, fp, dir)
	if err != nil && !errors.Is(err, snapshot.ErrNoSnapshot) {
		metrics.SnapshotDownloadFailures.WithLabelValues().Inc()
	} else if err == nil {
		metrics.SnapshotDownloadDuration.WithLabelValues().Observe(time.Since(start).Seconds())
	}
	if errors.Is(err, snapshot.ErrNoSnapshot) {
		return fmt.Errorf("%w %d (%v)", partition.ErrNoSnapshot, p, err)
	}
	if err != nil {
		return err
	}
	if fp != "" && m.ClusterFingerprint != fp {
		// A cluster's own snapshots always carry its fingerprint; one without is another
		// deployment's (a single node's, say) that happens to share the name and the bucket.
		return fmt.Errorf("%w: snapshot %s of partition %d has cluster fingerprint %q, this cluster's is %q", snapshot.ErrClusterMismatch, m.Path, p, m.ClusterFingerprint, fp)
	}
	if m.MinAppliedLSN < minLSN {
		return fmt.Errorf("the newest valid snapshot of partition %d (%s) is at lsn %d, but the log starts after %d", p, m.Path, m.MinAppliedLSN, minLSN)
	}
	if err := snapshot.ImportPartition(s.n.db, p, dir); err != nil {
		return err
	}
	ps := s.part(p)
	s.mu.Lock()
	ps.restored++
	s.mu.Unlock()
	s.n.logger.Info("partition restored from snapshot", "partition", p, "snapshot", m.SnapshotID, "lsn", m.MinAppliedLSN)
	return nil
}

// ---- on demand ----

const methodSnapshot = "partition.snapshot"

// snapshotFailedMarker starts the error of a leader whose snapshot failed; errors cross the
// node network as text, and a caller must tell this final answer from "not the leader".
const snapshotFailedMarker = "snapshot failed:"

var errNoRepository = admin.Errorf(http.StatusBadRequest, "no snapshot repository is configured: set worker.snapshots.destination (RESTATE_WORKER__SNAPSHOTS__DESTINATION)")

// createSnapshot snapshots partition p now, on its leader (this node or another). A partition
// may be between leaders (just after start, or during a failover): wait for one a while, as an
// ingress request does, rather than fail a request that a second later would succeed.
func (n *Node) createSnapshot(ctx context.Context, p uint16, opts clusterapi.SnapshotOptions) (*clusterapi.Snapshot, error) {
	if n.snaps == nil {
		return nil, errNoRepository
	}
	if err := n.knownPartition(p); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(snapshotLeaderPatience)
	backoff := 20 * time.Millisecond
	for {
		res, attempted, err := n.trySnapshot(ctx, p, opts)
		if attempted || time.Now().After(deadline) {
			return res, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// waitApplied waits until proc has applied lsn, at most patience.
func waitApplied(ctx context.Context, proc *partition.Processor, lsn uint64, patience time.Duration) error {
	deadline := time.Now().Add(patience)
	for proc.AppliedLSN() < lsn {
		if time.Now().After(deadline) {
			return fmt.Errorf("it has applied up to lsn %d, below the requested min_lsn %d", proc.AppliedLSN(), lsn)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// snapshotLeaderPatience bounds how long an on-demand snapshot waits for its partition to
// have a leader.
const snapshotLeaderPatience = 10 * time.Second

// trySnapshot asks the partition's leader for a snapshot once. attempted reports whether a
// leader took it on (and its answer is final); otherwise no leader was found this time.
func (n *Node) trySnapshot(ctx context.Context, p uint16, opts clusterapi.SnapshotOptions) (_ *clusterapi.Snapshot, attempted bool, _ error) {
	if proc := n.proc(p); proc != nil && proc.IsLeader() {
		res, err := n.snaps.createLocal(ctx, proc, opts)
		return res, true, err
	}
	if n.cluster == nil {
		return nil, false, admin.Errorf(http.StatusServiceUnavailable, "partition %d has no leader yet; try again", p)
	}
	req := binary.BigEndian.AppendUint16(nil, p)
	if opts != (clusterapi.SnapshotOptions{}) {
		b, _ := json.Marshal(opts)
		req = append(req, b...)
	}
	var lastErr error = fmt.Errorf("no replica of partition %d is reachable", p)
	for _, node := range n.otherReplicas(p) {
		out, err := n.cluster.Client.Call(ctx, node, methodSnapshot, req)
		if err != nil && strings.Contains(err.Error(), snapshotFailedMarker) {
			// The leader tried and failed (the object store is down, say): its answer is final,
			// and taking another full snapshot right away would fail the same way.
			return nil, true, admin.Errorf(http.StatusServiceUnavailable, "node %d: %v", node, err)
		}
		if err != nil { // not the leader (any more), or unreachable: try the others
			lastErr = err
			continue
		}
		var res clusterapi.Snapshot
		if err := json.Unmarshal(out, &res); err != nil {
			return nil, true, err
		}
		return &res, true, nil
	}
	return nil, false, admin.Errorf(http.StatusServiceUnavailable, "could not snapshot partition %d: %v", p, lastErr)
}

func (s *snapshotter) createLocal(ctx context.Context, proc *partition.Processor, opts clusterapi.SnapshotOptions) (*clusterapi.Snapshot, error) {
	p := proc.ID()
	if opts.MinLSN > 0 {
		// A snapshot that already covers the position is the answer (unless the log is to be
		// trimmed, which only a new announcement does).
		if !opts.TrimLog && proc.SnapshotLSN() >= opts.MinLSN {
			if l, err := s.repo.Latest(ctx, p); err == nil && l.MinAppliedLSN >= opts.MinLSN {
				return &clusterapi.Snapshot{PartitionID: p, SnapshotID: l.SnapshotID, MinAppliedLSN: l.MinAppliedLSN,
					Path: l.Path, CreatedAt: l.CreatedAt.UTC().Format(time.RFC3339Nano), NodeName: l.NodeName}, nil
			}
		}
		if err := waitApplied(ctx, proc, opts.MinLSN, snapshotLeaderPatience); err != nil {
			return nil, admin.Errorf(http.StatusServiceUnavailable, "partition %d: %s %v", p, snapshotFailedMarker, err)
		}
	}
	ps := s.part(p)
	ps.busy.Lock()
	defer ps.busy.Unlock()
	res, err := s.take(ctx, proc, ps, opts.TrimLog)
	if err != nil {
		return nil, admin.Errorf(http.StatusServiceUnavailable, "partition %d: %s writing to %s: %v", proc.ID(), snapshotFailedMarker, s.dest, err)
	}
	return res, nil
}

// handleSnapshot serves another node's on-demand request, when this node leads the partition.
func (n *Node) handleSnapshot(ctx context.Context, from uint64, body []byte) ([]byte, error) {
	if len(body) < 2 {
		return nil, errors.New("bad snapshot request")
	}
	p := binary.BigEndian.Uint16(body)
	var opts clusterapi.SnapshotOptions
	if len(body) > 2 {
		if err := json.Unmarshal(body[2:], &opts); err != nil {
			return nil, fmt.Errorf("bad snapshot request: %w", err)
		}
	}
	proc := n.proc(p)
	if n.snaps == nil {
		return nil, errNoRepository
	}
	if proc == nil || !proc.IsLeader() {
		return nil, fmt.Errorf("node %d does not lead partition %d", n.nodeID, p)
	}
	res, err := n.snaps.createLocal(ctx, proc, opts)
	if err != nil {
		return nil, err
	}
	return json.Marshal(res)
}

func (n *Node) knownPartition(p uint16) error {
	if num := n.partitionCount(); p >= num {
		return admin.Errorf(http.StatusNotFound, "partition %d does not exist; this cluster has %d partitions (0 to %d)", p, num, int(num)-1)
	}
	return nil
}

// snapshotOps serves the admin API's snapshot endpoints.
type snapshotOps struct{ n *Node }

func (o snapshotOps) CreateSnapshot(ctx context.Context, p uint16, opts clusterapi.SnapshotOptions) (any, error) {
	return o.n.createSnapshot(ctx, p, opts)
}

func (o snapshotOps) ListSnapshots(ctx context.Context, p uint16) (any, error) {
	if o.n.snaps == nil {
		return nil, errNoRepository
	}
	if err := o.n.knownPartition(p); err != nil {
		return nil, err
	}
	ms, err := o.n.snaps.repo.List(ctx, p)
	if err != nil {
		return nil, admin.Errorf(http.StatusServiceUnavailable, "listing the snapshots of partition %d in %s failed: %v", p, o.n.snaps.dest, err)
	}
	out := struct {
		PartitionID uint16              `json:"partition_id"`
		Latest      *snapshot.Latest    `json:"latest"`
		Snapshots   []snapshot.Manifest `json:"snapshots"`
	}{PartitionID: p, Snapshots: ms}
	if l, err := o.n.snaps.repo.Latest(ctx, p); err == nil {
		out.Latest = l
	}
	if out.Snapshots == nil {
		out.Snapshots = []snapshot.Manifest{}
	}
	return out, nil
}

// ---- metrics ----

var snapshotDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
	Name:    "restate_partition_snapshot_duration_seconds",
	Help:    "Time to export and upload one partition snapshot.",
	Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
})

var (
	descSnapshots     = prometheus.NewDesc("restate_partition_snapshots_total", "Partition snapshots this node attempted, by outcome.", []string{"partition", "outcome"}, nil)
	descSnapshotBytes = prometheus.NewDesc("restate_partition_snapshot_size_bytes", "Size of the last snapshot this node took of the partition.", []string{"partition"}, nil)
	descSnapshotSecs  = prometheus.NewDesc("restate_partition_snapshot_last_duration_seconds", "Duration of the last snapshot this node took of the partition.", []string{"partition"}, nil)
	descSnapshotAge   = prometheus.NewDesc("restate_partition_snapshot_age_by_partition_seconds", "Age of the newest snapshot announced in the partition's log.", []string{"partition"}, nil)
	descSnapshotLSN   = prometheus.NewDesc("restate_partition_snapshot_lsn", "Applied lsn of the newest snapshot announced in the partition's log (the archived lsn).", []string{"partition"}, nil)
	descTrimPoint     = prometheus.NewDesc("restate_partition_log_trim_point", "Position the partition's log on this node is trimmed to.", []string{"partition"}, nil)
	descRestores      = prometheus.NewDesc("restate_partition_snapshot_restores_total", "Snapshots this node restored the partition from.", []string{"partition"}, nil)
)

var registerSnapshotMetrics sync.Once

// snapshotCollector reports the snapshot metrics of the nodes in this process.
type snapshotCollector struct {
	mu    sync.Mutex
	nodes map[*Node]bool
}

var snapshotMetrics = &snapshotCollector{nodes: map[*Node]bool{}}

func (c *snapshotCollector) add(n *Node) {
	registerSnapshotMetrics.Do(func() {
		prometheus.MustRegister(snapshotDuration)
		prometheus.MustRegister(c)
	})
	c.mu.Lock()
	c.nodes[n] = true
	c.mu.Unlock()
}

func (c *snapshotCollector) remove(n *Node) {
	c.mu.Lock()
	delete(c.nodes, n)
	c.mu.Unlock()
}

func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSnapshots, descSnapshotBytes, descSnapshotSecs, descSnapshotAge, descSnapshotLSN, descTrimPoint, descRestores} {
		ch <- d
	}
}

func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	nodes := make([]*Node, 0, len(c.nodes))
	for n := range c.nodes {
		nodes = append(nodes, n)
	}
	c.mu.Unlock()
	for _, n := range nodes {
		n.collectSnapshotMetrics(ch)
	}
}

func (n *Node) collectSnapshotMetrics(ch chan<- prometheus.Metric) {
	for _, proc := range n.localProcs() {
		p := strconv.Itoa(int(proc.ID()))
		if lsn := proc.SnapshotLSN(); lsn > 0 {
			ch <- prometheus.MustNewConstMetric(descSnapshotLSN, prometheus.GaugeValue, float64(lsn), p)
			if at := proc.SnapshotCreatedAt(); at > 0 {
				ch <- prometheus.MustNewConstMetric(descSnapshotAge, prometheus.GaugeValue, time.Since(time.UnixMilli(at)).Seconds(), p)
			}
		}
		ch <- prometheus.MustNewConstMetric(descTrimPoint, prometheus.GaugeValue, float64(n.trimPoint(proc.ID())), p)
	}
	if n.snaps == nil {
		return
	}
	n.snaps.mu.Lock()
	defer n.snaps.mu.Unlock()
	for id, ps := range n.snaps.parts {
		p := strconv.Itoa(int(id))
		ch <- prometheus.MustNewConstMetric(descSnapshots, prometheus.CounterValue, float64(ps.succeeded), p, "success")
		ch <- prometheus.MustNewConstMetric(descSnapshots, prometheus.CounterValue, float64(ps.failed), p, "failure")
		ch <- prometheus.MustNewConstMetric(descRestores, prometheus.CounterValue, float64(ps.restored), p)
		if ps.succeeded > 0 {
			ch <- prometheus.MustNewConstMetric(descSnapshotBytes, prometheus.GaugeValue, float64(ps.lastBytes), p)
			ch <- prometheus.MustNewConstMetric(descSnapshotSecs, prometheus.GaugeValue, ps.lastSecs, p)
		}
	}
}

// ---- log trimming ----

// trimLog lets partition p's log drop the records up to upTo (covered by a snapshot).
func (n *Node) trimLog(p uint16, upTo uint64) {
	if n.cluster != nil {
		n.cluster.Log.Trim(p, upTo)
		return
	}
	if n.localLog != nil {
		if err := n.localLog.TrimPrefix(p, upTo); err != nil {
			n.logger.Warn("trimming the partition log failed", "partition", p, "err", err)
		}
	}
}

// everyTick calls f every d until ctx ends.
func everyTick(ctx context.Context, d time.Duration, f func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f(ctx)
	}
}

// trimDurable trims a single node's logs when there is no snapshot repository: a record is
// no longer needed once the partition store that applied it is durable, and log and store
// share one write-ahead log, so the synced trim write itself makes everything applied before
// it durable. (A cluster without a repository keeps its logs: a replica that falls behind or
// loses its disk can only be rebuilt from them.) A trim that would not advance is a no-op.
func (n *Node) trimDurable(context.Context) {
	for _, proc := range n.localProcs() {
		if err := n.localLog.TrimPrefix(proc.ID(), proc.AppliedLSN()); err != nil {
			n.logger.Warn("trimming the partition log failed", "partition", proc.ID(), "err", err)
		}
	}
}

// trimPoint is where partition p's log on this node is trimmed to.
func (n *Node) trimPoint(p uint16) uint64 {
	if n.cluster != nil {
		return n.cluster.Log.TrimPoint(p)
	}
	if n.localLog != nil {
		return n.localLog.TrimPoint(p)
	}
	return 0
}

// servePartitionDigest answers with a digest of this replica's copy of a partition: replicas
// at the same applied lsn must have the same digest (used by tests and for diagnosing).
func (n *Node) servePartitionDigest(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("partition"), 10, 16)
	if err != nil {
		http.Error(w, "invalid partition id", http.StatusBadRequest)
		return
	}
	if n.proc(uint16(id)) == nil {
		http.Error(w, fmt.Sprintf("partition %d is not replicated on this node", id), http.StatusNotFound)
		return
	}
	d, err := snapshot.DigestPartition(n.db, uint16(id))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("content-type", "application/json")
	_ = json.NewEncoder(w).Encode(d)
}

// servePartitionList lists the partitions with what this node knows of them (restatectl).
func (n *Node) servePartitionList(w http.ResponseWriter, r *http.Request) {
	status, err := clusterInfo{n}.ClusterStatus(r.Context())
	if err != nil {
		writeNodeError(w, admin.Errorf(http.StatusServiceUnavailable, "%v", err))
		return
	}
	w.Header().Set("content-type", "application/json")
	_ = json.NewEncoder(w).Encode(status)
}

// servePartitionSnapshot snapshots one partition now (restatectl snapshots create).
func (n *Node) servePartitionSnapshot(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("partition"), 10, 16)
	if err != nil {
		writeNodeError(w, admin.Errorf(http.StatusBadRequest, "invalid partition id '%s': expected a number between 0 and 65535", r.PathValue("partition")))
		return
	}
	if !n.ready.Load() {
		writeNodeError(w, admin.Errorf(http.StatusServiceUnavailable, "the node is still starting"))
		return
	}
	opts, err := clusterapi.ParseSnapshotOptions(r.URL.Query())
	if err != nil {
		writeNodeError(w, admin.Errorf(http.StatusBadRequest, "%v", err))
		return
	}
	res, err := n.createSnapshot(r.Context(), uint16(id), opts)
	if err != nil {
		writeNodeError(w, err)
		return
	}
	w.Header().Set("content-type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}

// writeNodeError answers with the admin API's error shape.
func writeNodeError(w http.ResponseWriter, err error) {
	status := admin.StatusOf(err)
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"message": err.Error()})
}

// serveSnapshotList lists the snapshots of one partition in the repository, newest first, as
// the admin API's GET /partitions/{id}/snapshots does (restatectl snapshots list).
func (n *Node) serveSnapshotList(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("partition"), 10, 16)
	if err != nil {
		writeNodeError(w, admin.Errorf(http.StatusBadRequest, "invalid partition id '%s': expected a number between 0 and 65535", r.PathValue("partition")))
		return
	}
	out, err := snapshotOps{n}.ListSnapshots(r.Context(), uint16(id))
	if err != nil {
		writeNodeError(w, err)
		return
	}
	w.Header().Set("content-type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
