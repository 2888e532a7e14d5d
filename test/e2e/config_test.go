package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
