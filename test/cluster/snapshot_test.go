package cluster

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	ch "github.com/restatego/restate/internal/clusterharness"
	"github.com/restatego/restate/internal/testharness"
)

const (
	snapshotBucket     = "restate"
	snapshotPrefix     = "snapshots"
	snapshotInterval   = 200
	snapshotPartitions = 4
	snapshotsRetained  = 4
)

// TestSnapshotsTrimRestoreAndOutage runs a cluster with snapshots in a real S3 server under
// load: snapshots follow the configured cadence in Restate's layout and let the logs be
// trimmed; a hanging or unreachable object store costs no availability and trims nothing; a node whose disk
// is wiped restores from the snapshots and, once another node is killed, must serve; at the
// end every replica holds identical state.
func TestSnapshotsTrimRestoreAndOutage(t *testing.T) {
	needCluster(t)
	store := testharness.StartObjectStore(t)
	store.MakeBucket(snapshotBucket)
	env := append(store.ServerEnv(snapshotBucket, snapshotPrefix),
		"RESTATE_WORKER__SNAPSHOTS__SNAPSHOT_INTERVAL_NUM_RECORDS="+strconv.Itoa(snapshotInterval),
		"RESTATE_WORKER__SNAPSHOTS__NUM_RETAINED="+strconv.Itoa(snapshotsRetained))
	r := newRig(t, ch.Options{SharedBaseDir: true, Partitions: snapshotPartitions, Env: env})
	r.startLoad()

	// The load's keys land on random partitions; one with too little traffic for automatic
	// snapshots gets two on demand instead, so that every partition's log is trimmed.
	time.Sleep(15 * time.Second)
	forced := map[int]bool{}
	for p, v := range localViews(t, r.c.Node(1)) {
		if v.Applied < 3*snapshotInterval {
			forced[p] = true
			for range 2 {
				if code, body := httpDo(t, http.MethodPost, fmt.Sprintf("%s/partitions/%d/snapshot", r.c.Node(1).AdminURL(), p)); code != http.StatusOK {
					t.Fatalf("on-demand snapshot of partition %d: %d %s", p, code, body)
				}
			}
			t.Logf("partition %d has little traffic (applied %d): snapshotted on demand", p, v.Applied)
		}
	}

	// Cadence, layout and trimming.
	eventually(t, 90*time.Second, "every partition snapshotted and its log trimmed on every node", func() error {
		for _, n := range r.c.Running() {
			for p, v := range localViews(t, n) {
				if v.Archived == 0 || v.TrimPoint == 0 {
					return fmt.Errorf("%s partition %d: archived %d, trimmed to %d", n.Name, p, v.Archived, v.TrimPoint)
				}
				if v.TrimPoint > v.Archived {
					return fmt.Errorf("%s partition %d trimmed to %d, past its newest snapshot %d", n.Name, p, v.TrimPoint, v.Archived)
				}
			}
		}
		return nil
	})
	checkSnapshotLayout(t, store, r.c.Name, forced)

	// On demand, through a node that may not lead the partition.
	code, body := httpDo(t, http.MethodPost, r.c.Node(2).AdminURL()+"/partitions/0/snapshot")
	if code != http.StatusOK {
		t.Fatalf("on-demand snapshot: %d %s", code, body)
	}
	var onDemand struct {
		SnapshotID    string `json:"snapshot_id"`
		MinAppliedLSN uint64 `json:"min_applied_lsn"`
		Path          string `json:"path"`
	}
	if err := json.Unmarshal([]byte(body), &onDemand); err != nil || !strings.HasPrefix(onDemand.SnapshotID, "snap_") {
		t.Fatalf("on-demand snapshot answer %s: %v", body, err)
	}
	if keys := store.Keys(snapshotBucket, fmt.Sprintf("%s/0/%s/", snapshotPrefix, onDemand.Path)); len(keys) < 2 {
		t.Fatalf("the on-demand snapshot %s is not in the bucket: %v", onDemand.Path, keys)
	}
	if code, body := httpDo(t, http.MethodPost, r.c.Node(1).AdminURL()+"/partitions/99/snapshot"); code != http.StatusNotFound {
		t.Errorf("snapshot of a partition that does not exist: %d %s", code, body)
	}

	// A hanging object store (it accepts connections and never answers): requests keep
	// succeeding and no snapshot completes; once it answers again, snapshots go on.
	store.Pause()
	hung := time.Now()
	time.Sleep(time.Second)
	frozen := localViews(t, r.c.Node(1))
	time.Sleep(5 * time.Second)
	duringHang := localViews(t, r.c.Node(1))
	if stuck := r.keysWithoutProgress(hung.Add(time.Second), time.Now()); len(stuck) > 0 {
		t.Errorf("keys without a successful request while the object store hung: %v", stuck)
	}
	r.reportStall("object store hanging", hung, time.Now())
	store.Resume()
	for p, a := range duringHang {
		// Only a snapshot whose upload finished before the hang may have been announced.
		if a.Archived != frozen[p].Archived && !slices.Contains(snapshotLSNs(t, store, p), a.Archived) {
			t.Errorf("partition %d: snapshot at lsn %d announced while the object store hung, but it is not in the store", p, a.Archived)
		}
	}
	eventually(t, 60*time.Second, "snapshots to go on once the object store answers", func() error {
		for p, a := range localViews(t, r.c.Node(1)) {
			if !forced[p] && a.Archived <= frozen[p].Archived {
				return fmt.Errorf("partition %d: newest snapshot still at %d", p, a.Archived)
			}
		}
		return nil
	})

	// Object store outage: requests keep succeeding, snapshots fail and nothing is trimmed
	// beyond what the snapshots in the store cover. (A snapshot uploaded just before the
	// store went away may still be announced during the outage.)
	store.Stop()
	outage := time.Now()
	time.Sleep(2 * time.Second)
	before := localViews(t, r.c.Node(1))
	time.Sleep(8 * time.Second)
	after := localViews(t, r.c.Node(1))
	if stuck := r.keysWithoutProgress(outage.Add(time.Second), time.Now()); len(stuck) > 0 {
		t.Errorf("keys without a successful request during the object store outage: %v", stuck)
	}
	r.reportStall("object store outage", outage, time.Now())
	failures := 0.0
	for _, n := range r.c.Running() {
		failures += metricSum(t, n, "restate_partition_snapshots_total", `outcome="failure"`)
	}
	if failures == 0 {
		t.Errorf("no failed snapshot attempt was counted during the outage")
	}
	store.Start()
	// Right away, before the snapshotters' backoff lets them upload (and prune) again.
	for p, a := range after {
		if a.Archived == before[p].Archived && a.TrimPoint == before[p].TrimPoint {
			continue
		}
		lsns := snapshotLSNs(t, store, p)
		if !slices.Contains(lsns, a.Archived) {
			t.Errorf("partition %d: snapshot at lsn %d announced during the outage is not in the store (it has %v)", p, a.Archived, lsns)
		}
		if len(lsns) == 0 || slices.Max(lsns) < a.TrimPoint {
			t.Errorf("partition %d trimmed to %d during the outage; the store's snapshots are at %v", p, a.TrimPoint, lsns)
		}
	}
	store.Start()
	eventually(t, 90*time.Second, "snapshots to resume after the outage", func() error {
		now := localViews(t, r.c.Node(1))
		for p, a := range after {
			if !forced[p] && now[p].Archived <= a.Archived {
				return fmt.Errorf("partition %d: newest snapshot still at %d", p, a.Archived)
			}
		}
		return nil
	})

	// Wipe a node under load: it restores from the snapshots and catches up from the log.
	victim := r.c.Node(3)
	wiped := time.Now()
	if err := victim.WipeAndRestart(); err != nil {
		t.Fatal(err)
	}
	r.c.MustBeReady()
	eventually(t, 60*time.Second, "the wiped node to restore its partitions from snapshots", func() error {
		if got := metricSum(t, victim, "restate_partition_snapshot_restores_total", ""); got < snapshotPartitions {
			return fmt.Errorf("%s restored %v partitions", victim.Name, got)
		}
		return nil
	})
	t.Logf("%s restored all %d partitions %s after its wiped restart", victim.Name, snapshotPartitions, time.Since(wiped).Round(time.Millisecond))
	// Back in every partition's raft group (it is re-added after losing its data) and
	// following the log, before another node may go.
	eventually(t, 60*time.Second, victim.Name+" to follow every partition's log again", func() error {
		mine, leaders := localViews(t, victim), localViews(t, r.c.Node(2))
		for p, v := range mine {
			if !slices.Contains(v.Voters, uint32(victim.ID)) {
				return fmt.Errorf("partition %d: %s is not a voter yet (voters %v)", p, victim.Name, v.Voters)
			}
			if v.Applied+snapshotInterval < leaders[p].Applied {
				return fmt.Errorf("partition %d: %s applied %d, restate-2 %d", p, victim.Name, v.Applied, leaders[p].Applied)
			}
		}
		return nil
	})
	t.Logf("%s follows every partition %s after its wiped restart", victim.Name, time.Since(wiped).Round(time.Millisecond))
	r.reportStall("wipe and restore "+victim.Name, wiped, time.Now())

	// Kill another node: every partition now needs the restored node for its majority.
	killed := r.c.Node(1)
	killed.Kill()
	down := time.Now()
	time.Sleep(failoverBudget + 4*time.Second)
	if stuck := r.keysWithoutProgress(down.Add(failoverBudget), time.Now()); len(stuck) > 0 {
		t.Errorf("keys without a successful request while %s was down and %s restored: %v", killed.Name, victim.Name, stuck)
	}
	r.reportStall("SIGKILL "+killed.Name+" after the restore", down, time.Now())
	if err := killed.Start(); err != nil {
		t.Fatal(err)
	}
	r.c.MustBeReady()
	time.Sleep(settle)
	r.stopAndCheck()
	checkReplicasIdentical(t, r.c)

	// A replica that fell behind the trim point while the newest snapshot is corrupt: it
	// detects the damage, skips that snapshot for the previous one, and replays from there.
	// (Without load, no automatic snapshot replaces the corrupt one meanwhile.)
	lagging := r.c.Node(2)
	behind := localViews(t, lagging)[0].Applied
	lagging.Kill()
	var newest string
	for range 3 {
		code, body := httpDo(t, http.MethodPost, r.c.Node(1).AdminURL()+"/partitions/0/snapshot")
		if code != http.StatusOK {
			t.Fatalf("on-demand snapshot with %s down: %d %s", lagging.Name, code, body)
		}
		var res struct {
			Path string `json:"path"`
		}
		_ = json.Unmarshal([]byte(body), &res)
		newest = res.Path
	}
	eventually(t, 30*time.Second, "partition 0's log trimmed past the stopped replica", func() error {
		if v := localViews(t, r.c.Node(1))[0]; v.TrimPoint <= behind {
			return fmt.Errorf("trimmed to %d, the stopped replica is at %d", v.TrimPoint, behind)
		}
		return nil
	})
	store.Put(snapshotBucket, fmt.Sprintf("%s/0/%s/partition.kv", snapshotPrefix, newest), []byte("damaged by the test"))
	if err := lagging.Start(); err != nil {
		t.Fatal(err)
	}
	r.c.MustBeReady()
	eventually(t, 60*time.Second, lagging.Name+" to restore partition 0 from the previous snapshot", func() error {
		if got := metricSum(t, lagging, "restate_partition_snapshot_restores_total", `partition="0"`); got < 1 {
			return fmt.Errorf("%s restored partition 0 %v times", lagging.Name, got)
		}
		return nil
	})
	if !strings.Contains(lagging.Log(), "skipping snapshot "+newest) {
		t.Errorf("%s did not report skipping the corrupt snapshot %s", lagging.Name, newest)
	}
	checkReplicasIdentical(t, r.c)
	for _, n := range r.c.Running() {
		if strings.Contains(n.Log(), testharness.ObjectStoreSecretKey) {
			t.Errorf("%s logged the object store's secret key", n.Name)
		}
	}
}

// checkSnapshotLayout reads the bucket: per partition a latest.json naming this cluster and
// pointing at a complete lsn_<20 digits>-snap_<id>/ directory, and automatic snapshots at
// least the configured interval apart.
func checkSnapshotLayout(t *testing.T, store *testharness.ObjectStore, clusterName string, onDemand map[int]bool) {
	t.Helper()
	dirRe := regexp.MustCompile(`^lsn_(\d{20})-(snap_[0-9A-Za-z]+)$`)
	for p := 0; p < snapshotPartitions; p++ {
		base := fmt.Sprintf("%s/%d/", snapshotPrefix, p)
		var latest struct {
			PartitionID        int    `json:"partition_id"`
			ClusterName        string `json:"cluster_name"`
			ClusterFingerprint string `json:"cluster_fingerprint"`
			SnapshotID         string `json:"snapshot_id"`
			MinAppliedLSN      uint64 `json:"min_applied_lsn"`
			Path               string `json:"path"`
		}
		if err := json.Unmarshal(store.Get(snapshotBucket, base+"latest.json"), &latest); err != nil {
			t.Fatalf("partition %d latest.json: %v", p, err)
		}
		if latest.PartitionID != p || latest.ClusterName != clusterName || latest.ClusterFingerprint == "" {
			t.Errorf("partition %d latest.json names partition %d of cluster %q (fingerprint %q)", p, latest.PartitionID, latest.ClusterName, latest.ClusterFingerprint)
		}
		if latest.Path != fmt.Sprintf("lsn_%020d-%s", latest.MinAppliedLSN, latest.SnapshotID) {
			t.Errorf("partition %d latest.json path %q does not match lsn %d and id %s", p, latest.Path, latest.MinAppliedLSN, latest.SnapshotID)
		}
		files := map[string][]string{}
		for _, k := range store.Keys(snapshotBucket, base) {
			rest := strings.TrimPrefix(k, base)
			if rest == "latest.json" {
				continue
			}
			dir, file, ok := strings.Cut(rest, "/")
			if !ok || !dirRe.MatchString(dir) {
				t.Errorf("unexpected object %s", k)
				continue
			}
			files[dir] = append(files[dir], file)
		}
		if got := strings.Join(sorted(files[latest.Path]), ","); got != "metadata.json,partition.kv" {
			t.Errorf("partition %d snapshot %s holds %q", p, latest.Path, got)
		}
		type snap struct {
			lsn uint64
			dir string
		}
		var snaps []snap
		for dir := range files {
			lsn, _ := strconv.ParseUint(dirRe.FindStringSubmatch(dir)[1], 10, 64)
			snaps = append(snaps, snap{lsn, dir})
		}
		sort.Slice(snaps, func(i, j int) bool { return snaps[i].lsn < snaps[j].lsn })
		if len(snaps) < 2 {
			t.Errorf("partition %d has %d snapshots; the log is trimmed only once there are two", p, len(snaps))
		}
		// Retention prunes after each upload; one more may be uploading right now.
		if len(snaps) > snapshotsRetained+1 {
			t.Errorf("partition %d keeps %d snapshots, retention is %d", p, len(snaps), snapshotsRetained)
		}
		// One leader snapshots every interval records; while leadership moves, the old and
		// the new leader may each take one.
		takenBy := func(s snap) string {
			var m struct {
				NodeName string `json:"node_name"`
			}
			_ = json.Unmarshal(store.Get(snapshotBucket, base+s.dir+"/metadata.json"), &m)
			return m.NodeName
		}
		for i := 1; i < len(snaps) && !onDemand[p]; i++ {
			if snaps[i].lsn-snaps[i-1].lsn < snapshotInterval && takenBy(snaps[i]) == takenBy(snaps[i-1]) {
				t.Errorf("partition %d: %s took snapshots at lsn %d and %d, closer than the interval %d", p, takenBy(snaps[i]), snaps[i-1].lsn, snaps[i].lsn, snapshotInterval)
			}
		}
	}
}

func sorted(s []string) []string { sort.Strings(s); return s }

// snapshotLSNs lists the lsns of partition p's snapshot directories in the store.
func snapshotLSNs(t *testing.T, store *testharness.ObjectStore, p int) []uint64 {
	t.Helper()
	var out []uint64
	seen := map[uint64]bool{}
	for _, k := range store.Keys(snapshotBucket, fmt.Sprintf("%s/%d/lsn_", snapshotPrefix, p)) {
		rest := strings.TrimPrefix(k, fmt.Sprintf("%s/%d/lsn_", snapshotPrefix, p))
		if len(rest) < 20 {
			continue
		}
		if lsn, err := strconv.ParseUint(rest[:20], 10, 64); err == nil && !seen[lsn] {
			seen[lsn] = true
			out = append(out, lsn)
		}
	}
	return out
}

// localViews is each partition as the node sees it (its own replica where it has one).
func localViews(t *testing.T, n *ch.Node) map[int]ch.PartitionStatus {
	t.Helper()
	out := map[int]ch.PartitionStatus{}
	for _, p := range status(t, n).Partitions {
		out[int(p.ID)] = p
	}
	return out
}

type partitionDigest struct {
	Applied uint64 `json:"applied"`
	Keys    int    `json:"keys"`
	SHA256  string `json:"sha256"`
}

// checkReplicasIdentical waits until every replica of every partition applied the same
// position and then requires their stored state to be byte-for-byte identical.
func checkReplicasIdentical(t *testing.T, c *ch.Cluster) {
	t.Helper()
	eventually(t, 60*time.Second, "every replica at the same position with the same state", func() error {
		for p := 0; p < snapshotPartitions; p++ {
			var first *partitionDigest
			var firstNode string
			for _, n := range c.Running() {
				code, body := httpDo(t, http.MethodGet, fmt.Sprintf("%s/debug/partitions/%d/digest", n.NodeURL(), p))
				if code != http.StatusOK {
					return fmt.Errorf("%s partition %d digest: %d %s", n.Name, p, code, body)
				}
				var d partitionDigest
				if err := json.Unmarshal([]byte(body), &d); err != nil {
					return err
				}
				if first == nil {
					first, firstNode = &d, n.Name
					continue
				}
				if d.Applied != first.Applied {
					return fmt.Errorf("partition %d: %s applied %d, %s %d", p, firstNode, first.Applied, n.Name, d.Applied)
				}
				if d.SHA256 != first.SHA256 {
					t.Fatalf("partition %d at lsn %d: %s has %d keys (%s), %s has %d keys (%s)", p, d.Applied, firstNode, first.Keys, first.SHA256[:12], n.Name, d.Keys, d.SHA256[:12])
				}
			}
		}
		return nil
	})
}

// metricSum adds up the samples of a metric on a node whose labels contain match.
func metricSum(t *testing.T, n *ch.Node, name, match string) float64 {
	t.Helper()
	resp, err := http.Get(n.NodeURL() + "/metrics")
	if err != nil {
		t.Fatalf("%s metrics: %v", n.Name, err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		if match != "" && !strings.Contains(line, match) {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			v, _ := strconv.ParseFloat(line[i+1:], 64)
			sum += v
		}
	}
	return sum
}

func httpDo(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually retries f until it succeeds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
