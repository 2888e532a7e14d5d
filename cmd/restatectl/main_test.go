package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/restatego/restate/internal/testharness"
)

func TestMain(m *testing.M) { testharness.Main(m) }

func TestParsePartitions(t *testing.T) {
	got, err := parsePartitions([]string{"0", "2-4,7", "3"})
	if err != nil || !reflect.DeepEqual(got, []uint16{0, 2, 3, 4, 7}) {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"x", "4-2", "1-", "-3", "70000"} {
		if _, err := parsePartitions([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func snapshotLines(out string) int {
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, " snap_") {
			n++
		}
	}
	return n
}

func ctl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errw bytes.Buffer
	code := run(args, &out, &errw)
	return code, out.String(), errw.String()
}

// Snapshots on demand through the node port: the chosen partitions land in the repository,
// the others do not; the partition list shows the archived positions; bad input is refused
// with a message.
func TestSnapshotsCreate(t *testing.T) {
	repo := t.TempDir()
	s := testharness.StartServer(t, "RESTATE_DEFAULT_NUM_PARTITIONS=4", "RESTATE_WORKER__SNAPSHOTS__DESTINATION=file://"+repo)
	addr := "http://" + s.Node
	code, out, errOut := ctl(t, "--address", addr, "snapshots", "create", "0", "2-3")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if n := snapshotLines(out); n != 3 {
		t.Fatalf("expected 3 snapshots in the output:\n%s", out)
	}
	for p, want := range map[string]bool{"0": true, "1": false, "2": true, "3": true} {
		_, err := os.Stat(filepath.Join(repo, p, "latest.json"))
		if (err == nil) != want {
			t.Errorf("partition %s latest.json present=%v, want %v", p, err == nil, want)
		}
	}
	// Abbreviated commands, every partition.
	if code, out, errOut := ctl(t, "-s", addr, "snap", "cr"); code != 0 || snapshotLines(out) != 4 {
		t.Fatalf("snap cr: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = ctl(t, "--address", addr, "partitions", "list")
	if code != 0 || !strings.Contains(out, "ARCHIVED") || len(strings.Split(strings.TrimSpace(out), "\n")) != 5 {
		t.Fatalf("partitions list: exit %d\n%s", code, out)
	}
	code, out, _ = ctl(t, "--address", addr, "status")
	if code != 0 || !strings.Contains(out, "ALIVE") || !strings.Contains(out, "n1") || !strings.Contains(out, "TRIMMED") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	code, out, _ = ctl(t, "--address", addr, "nodes", "list")
	if code != 0 || !strings.Contains(out, "N1") || !strings.Contains(out, "ALIVE") || strings.Contains(out, "TRIMMED") {
		t.Fatalf("nodes list: exit %d\n%s", code, out)
	}
	code, out, _ = ctl(t, "--address", addr, "ms", "list-servers")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 2 || !strings.Contains(lines[1], "n1") || !strings.Contains(lines[1], "yes") {
		t.Fatalf("metadata-server list-servers: exit %d\n%s", code, out)
	}
	if code, _, errOut := ctl(t, "--address", addr, "nodes", "remove"); code != 2 || !strings.Contains(errOut, "remove") {
		t.Fatalf("unsupported nodes command: exit %d, %s", code, errOut)
	}
	if code, _, errOut := ctl(t, "--address", addr, "snapshots", "create", "9"); code != 1 || !strings.Contains(errOut, "partition 9 does not exist") {
		t.Fatalf("unknown partition: exit %d, %s", code, errOut)
	}
	if code, _, errOut := ctl(t, "--address", addr, "snapshots", "create", "x"); code != 2 || !strings.Contains(errOut, `"x"`) {
		t.Fatalf("bad partition id: exit %d, %s", code, errOut)
	}
	if code, _, errOut := ctl(t, "--address", "http://127.0.0.1:1", "partitions", "list"); code != 1 || !strings.Contains(errOut, "no node reachable") {
		t.Fatalf("unreachable node: exit %d, %s", code, errOut)
	}

	// --min-lsn: the newest snapshot already covers lsn 1, so it is the answer; --trim-log
	// trims the log up to the new snapshot instead of the one before.
	code, out, errOut = ctl(t, "--address", addr, "snapshots", "create", "2")
	newest := snapshotIDs(out)
	if code != 0 || len(newest) != 1 {
		t.Fatalf("snapshot of partition 2: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = ctl(t, "--address", addr, "snapshots", "create", "--min-lsn", "1", "2")
	if got := snapshotIDs(out); code != 0 || len(got) != 1 || got[0] != newest[0] {
		t.Fatalf("--min-lsn 1 should answer with the newest snapshot %v: exit %d\n%s%s", newest, code, out, errOut)
	}
	code, out, errOut = ctl(t, "--address", addr, "snapshots", "create", "3", "--trim-log")
	if code != 0 || snapshotLines(out) != 1 {
		t.Fatalf("--trim-log: exit %d\n%s%s", code, out, errOut)
	}
	st := partitionRow(t, addr, "3")
	if st["ARCHIVED"] == "0" || st["TRIMMED"] != st["ARCHIVED"] {
		t.Fatalf("--trim-log: partition 3 is trimmed to %s, its newest snapshot is at %s", st["TRIMMED"], st["ARCHIVED"])
	}
	if r := s.AdminDo(t, http.MethodPost, "/partitions/0/snapshot?min_lsn=x", nil); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "min_lsn") {
		t.Fatalf("admin snapshot with a bad min_lsn: %d %s", r.Status, r.Body)
	}
	for _, bad := range [][]string{{"--min-lsn", "x"}, {"--min-lsn"}, {"--trim"}} {
		if code, _, errOut := ctl(t, append([]string{"--address", addr, "snapshots", "create", "0"}, bad...)...); code != 2 || errOut == "" {
			t.Fatalf("%v: exit %d, %s", bad, code, errOut)
		}
	}

	// The log was trimmed behind the snapshots; the server restarts from its state and log.
	s.Stop()
	s.Start()
	if code, out, errOut := ctl(t, "--address", addr, "snapshots", "create", "1"); code != 0 {
		t.Fatalf("after restart: exit %d\n%s%s", code, out, errOut)
	}
}

// snapshotIDs lists the snapshot ids in snapshots create output.
func snapshotIDs(out string) []string {
	var ids []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(f[1], "snap_") {
			ids = append(ids, f[1])
		}
	}
	return ids
}

// partitionRow is one partition's row of partitions list, by column name.
func partitionRow(t *testing.T, addr, id string) map[string]string {
	t.Helper()
	code, out, errOut := ctl(t, "--address", addr, "partitions", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) < 2 {
		t.Fatalf("partitions list: exit %d\n%s%s", code, out, errOut)
	}
	header := strings.Fields(lines[0])
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) == len(header) && f[0] == id {
			row := map[string]string{}
			for i, h := range header {
				row[h] = f[i]
			}
			return row
		}
	}
	t.Fatalf("partition %s not in\n%s", id, out)
	return nil
}

func TestSnapshotsWithoutRepository(t *testing.T) {
	s := testharness.StartServer(t)
	code, _, errOut := ctl(t, "--address", "http://"+s.Node, "snapshots", "create", "0")
	if code != 1 || !strings.Contains(errOut, "no snapshot repository is configured") {
		t.Fatalf("exit %d, %s", code, errOut)
	}
}

func FuzzParsePartitions(f *testing.F) {
	for _, s := range []string{"0", "1-4", "0,2-3", "x", "65535", "3-1", ",,", "1-65535"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := parsePartitions([]string{s})
		if err != nil {
			return
		}
		seen := map[uint16]bool{}
		for _, p := range ps {
			if seen[p] {
				t.Fatalf("%q: partition %d listed twice", s, p)
			}
			seen[p] = true
		}
	})
}
