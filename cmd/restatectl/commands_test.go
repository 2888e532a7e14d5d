package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/restatego/restate/internal/clusterapi"
	"github.com/restatego/restate/internal/clusterharness"
	"github.com/restatego/restate/internal/testharness"
)

// Every node of a three-node cluster answers every read command with the same cluster: real
// epochs, replicated logs, SQL over all partitions; --json gives the same data as documents.
func TestCommandsAgainstEveryClusterNode(t *testing.T) {
	c := clusterharness.Start(t, clusterharness.Options{Nodes: 3, Partitions: 4})
	for _, n := range c.Nodes {
		addr := "http://" + n.NodeAddr
		var parts []clusterapi.Partition
		// Leadership settles shortly after the cluster is ready: poll until every partition
		// shows a leader and its epoch.
		testharness.Eventually(t, 30*time.Second, func() error {
			code, out, errOut := ctl(t, "-s", addr, "--json", "partitions", "list")
			if code != 0 {
				return fmt.Errorf("exit %d: %s", code, errOut)
			}
			parts = nil
			if err := json.Unmarshal([]byte(out), &parts); err != nil {
				return err
			}
			for _, p := range parts {
				if p.Leader == 0 || p.Epoch == 0 {
					return fmt.Errorf("partition %d: leader N%d epoch %d", p.ID, p.Leader, p.Epoch)
				}
			}
			return nil
		})
		if len(parts) != 4 {
			t.Fatalf("%s: %d partitions", addr, len(parts))
		}
		row := partitionRow(t, addr, "0")
		if !strings.HasPrefix(row["EPOCH"], "e") || row["LEADER"] == "-" {
			t.Fatalf("%s: partition 0 row %v", addr, row)
		}

		code, out, errOut := ctl(t, "-s", addr, "status")
		if code != 0 || strings.Count(out, "ALIVE") != 3 {
			t.Fatalf("%s status: exit %d\n%s%s", addr, code, out, errOut)
		}
		code, out, _ = ctl(t, "-s", addr, "logs", "list")
		if code != 0 || strings.Count(out, "replicated") != 4 {
			t.Fatalf("%s logs list: exit %d\n%s", addr, code, out)
		}
		code, out, _ = ctl(t, "-s", addr, "config", "get")
		if code != 0 || !strings.Contains(out, "Number of partitions: 4") || !strings.Contains(out, fmt.Sprintf("Partition replication: {node: %d}", len(parts[0].Replicas))) {
			t.Fatalf("%s config get: exit %d\n%s", addr, code, out)
		}
		code, out, errOut = ctl(t, "-s", addr, "sql", "SELECT partition_key, id FROM sys_invocation LIMIT 1")
		if code != 0 || !strings.Contains(out, "0 rows") {
			t.Fatalf("%s sql: exit %d\n%s%s", addr, code, out, errOut)
		}
		code, out, errOut = ctl(t, "-s", addr, "sql", "SELECT", "1", "AS", "one,", "'b'", "AS", "two")
		if lines := strings.Split(out, "\n"); code != 0 || strings.Join(strings.Fields(lines[0]), " ") != "one two" ||
			strings.Join(strings.Fields(lines[1]), " ") != "1 b" {
			t.Fatalf("%s sql select: exit %d\n%s%s", addr, code, out, errOut)
		}
		code, out, _ = ctl(t, "-s", addr, "--json", "metadata-server", "list-servers")
		var md clusterapi.Metadata
		if code != 0 || json.Unmarshal([]byte(out), &md) != nil || len(md.Members) != 3 || md.Leader == 0 {
			t.Fatalf("%s ms --json: exit %d\n%s", addr, code, out)
		}
	}
	// Several addresses: the first unreachable one is skipped.
	if code, out, errOut := ctl(t, "-s", "http://127.0.0.1:1,"+c.Nodes[1].NodeAddr, "nodes", "list"); code != 0 || strings.Count(out, "ALIVE") != 3 {
		t.Fatalf("fallback address: exit %d\n%s%s", code, out, errOut)
	}
}

// Read commands on a single node, errors and the shell completion.
func TestCommandsSingleNode(t *testing.T) {
	repo := t.TempDir()
	s := testharness.StartServer(t, "RESTATE_DEFAULT_NUM_PARTITIONS=2", "RESTATE_WORKER__SNAPSHOTS__DESTINATION=file://"+repo)
	addr := "http://" + s.Node
	code, out, errOut := ctl(t, "-s", addr, "--json", "snapshots", "create", "1")
	var made []clusterapi.Snapshot
	if code != 0 || json.Unmarshal([]byte(out), &made) != nil || len(made) != 1 || made[0].PartitionID != 1 {
		t.Fatalf("snapshots create --json: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = ctl(t, "-s", addr, "snapshots", "list")
	if code != 0 || !strings.Contains(out, made[0].SnapshotID) || snapshotLines(out) != 1 {
		t.Fatalf("snapshots list: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := ctl(t, "-s", addr, "snapshots", "list", "7"); code != 1 || !strings.Contains(errOut, "partition 7 does not exist") {
		t.Fatalf("snapshots list 7: exit %d %s", code, errOut)
	}
	code, out, _ = ctl(t, "-s", addr, "logs", "describe", "1")
	if code != 0 || !strings.Contains(out, "Log Id: 1") || strings.Contains(out, "Log Id: 0") || !strings.Contains(out, "local") {
		t.Fatalf("logs describe 1: exit %d\n%s", code, out)
	}
	if code, _, errOut := ctl(t, "-s", addr, "logs", "describe", "5"); code != 1 || !strings.Contains(errOut, "log 5 does not exist") {
		t.Fatalf("logs describe 5: exit %d %s", code, errOut)
	}
	if code, _, errOut := ctl(t, "-s", addr, "sql", "SELEC 1"); code != 1 || !strings.Contains(errOut, "HTTP 400 from "+addr) {
		t.Fatalf("bad sql: exit %d %s", code, errOut)
	}
	if code, _, errOut := ctl(t, "-s", addr, "sql"); code != 2 || errOut == "" {
		t.Fatalf("sql without a query: exit %d %s", code, errOut)
	}
	if code, _, errOut := ctl(t, "-s", addr, "frobnicate"); code != 2 || !strings.Contains(errOut, "frobnicate") {
		t.Fatalf("unknown command: exit %d %s", code, errOut)
	}
	// An unreachable node is named in the error.
	if code, _, errOut := ctl(t, "-s", "127.0.0.1:1", "status"); code != 1 || !strings.Contains(errOut, "http://127.0.0.1:1") {
		t.Fatalf("unreachable: exit %d %s", code, errOut)
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if code, out, errOut := ctl(t, "completion", shell); code != 0 || !strings.Contains(out, "restatectl") || len(out) < 500 {
			t.Fatalf("completion %s: exit %d %s", shell, code, errOut)
		}
	}
	// The completion scripts ask the binary for candidates: subcommands are offered.
	if code, out, _ := ctl(t, "__complete", "snapshots", ""); code != 0 || !strings.Contains(out, "create-snapshot") || !strings.Contains(out, "list") {
		t.Fatalf("__complete snapshots: exit %d\n%s", code, out)
	}
}

func TestDecodeRows(t *testing.T) {
	cols, rows, err := decodeRows([]byte(`{"rows":[{"b":1,"a":"x"},{"a":null,"c":true,"b":2.5}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cols, []string{"b", "a", "c"}) || rows[0]["a"] != "x" || rows[1]["b"] != "2.5" || rows[1]["a"] != "" || rows[1]["c"] != "true" {
		t.Fatalf("cols %v rows %v", cols, rows)
	}
	for _, bad := range []string{``, `[]`, `{"rows":{}}`, `{"rows":[1]}`, `{"rows":[]}x`, `{"rows":[{"a":}]}`} {
		if _, _, err := decodeRows([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzDecodeRows(f *testing.F) {
	for _, s := range []string{`{"rows":[]}`, `{"rows":[{"a":1}]}`, `{"x":2,"rows":[{"a":[1,{"b":2}]}]}`, `{"rows":[{"a":null}]}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cols, rows, err := decodeRows(b)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, c := range cols {
			if seen[c] {
				t.Fatalf("column %q twice", c)
			}
			seen[c] = true
		}
		for _, r := range rows {
			for k := range r {
				if !seen[k] {
					t.Fatalf("row column %q not among %v", k, cols)
				}
			}
		}
	})
}
