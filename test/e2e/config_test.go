package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	th "github.com/restatego/restate/internal/testharness"
)

// runServerExpectingExit runs the binary with the given config and returns its stderr and exit
// code; the process must exit by itself.
func runServerExpectingExit(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(th.ServerBinary(), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stderr.String(), code
}

func TestConfigErrorsExitWithOneLine(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.toml")
	os.WriteFile(typo, []byte("defualt-num-partitions = 4\n"), 0o644)
	cases := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"malformed env", []string{"RESTATE_DEFAULT_NUM_PARTITIONS=abc"}, nil, []string{"default-num-partitions", "RESTATE_DEFAULT_NUM_PARTITIONS"}},
		{"unknown toml key", nil, []string{"--config-file", typo}, []string{"defualt-num-partitions"}},
		{"bad flag value", nil, []string{"--default-num-partitions=0"}, []string{"default-num-partitions"}},
		{"unknown flag", nil, []string{"--no-such-flag"}, []string{"--no-such-flag"}},
	}
	for _, c := range cases {
		stderr, code := runServerExpectingExit(t, c.env, c.args...)
		if code == 0 {
			t.Errorf("%s: exit code 0", c.name)
		}
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if len(lines) != 1 {
			t.Errorf("%s: want one line on stderr, got %q", c.name, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr %q does not name %q", c.name, stderr, w)
			}
		}
	}
}

func TestRestateSettingsWeIgnoreOnlyWarn(t *testing.T) {
	// Settings written for Restate that we do not implement, and unknown RESTATE_ variables,
	// must not stop the server.
	s := startServer(t, "RESTATE_ROCKSDB_TOTAL_MEMORY_SIZE=2GiB", "RESTATE_SOMETHING_NEW=1",
		"RESTATE_WORKER__INTERNAL_QUEUE_LENGTH=100")
	r := do(t, "GET", "http://"+s.Admin+"/health", nil)
	if r.Status != 200 {
		t.Fatalf("health: %d", r.Status)
	}
	b, _ := os.ReadFile(filepath.Join(s.Dir, "server.log"))
	for _, key := range []string{"rocksdb-total-memory-size", "RESTATE_SOMETHING_NEW", "internal-queue-length"} {
		if !strings.Contains(string(b), key) {
			t.Errorf("no warning naming %s in the log", key)
		}
	}
}

// TestPortInUseExits: a node (single or in a cluster) whose port is taken exits at once with
// an error naming the address, instead of running without it or hanging.
func TestPortInUseExits(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.Addr().String()
	node := freePort(t)
	clusterEnv := []string{"RESTATE_CLUSTER_NAME=porttest", "RESTATE_NODE_NAME=n1", "RESTATE_FORCE_NODE_ID=1",
		"RESTATE_AUTO_PROVISION=true", "RESTATE_DEFAULT_REPLICATION=2", "RESTATE_BIND_ADDRESS=" + node, "RESTATE_ADVERTISED_ADDRESS=http://" + node,
		"RESTATE_METADATA_CLIENT__ADDRESSES=[http://" + node + "]"}
	for name, env := range map[string][]string{
		"single node":  {"RESTATE_INGRESS__BIND_ADDRESS=" + busy, "RESTATE_ADMIN__BIND_ADDRESS=" + freePort(t), "RESTATE_BIND_ADDRESS=" + freePort(t)},
		"cluster node": append(clusterEnv, "RESTATE_INGRESS__BIND_ADDRESS="+busy, "RESTATE_ADMIN__BIND_ADDRESS="+freePort(t)),
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, th.ServerBinary())
		cmd.Env = append(append(os.Environ(), "RESTATE_BASE_DIR="+t.TempDir()), env...)
		out, err := cmd.CombinedOutput()
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut {
			t.Fatalf("%s: still running 20s after failing to bind %s:\n%s", name, busy, out)
		}
		if err == nil || !strings.Contains(string(out), busy) || !strings.Contains(string(out), "address already in use") {
			t.Errorf("%s: exit %v, output does not name the busy address %s:\n%s", name, err, busy, out)
		}
	}
}
