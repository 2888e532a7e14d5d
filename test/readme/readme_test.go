// Package readme runs the README's commands as a new user would: the blocks marked
// `<!-- readme-test: NAME -->` are extracted and run with bash, in a scratch directory that
// looks like the checkout (its go.mod, cmd and internal), on the ports the README names.
package readme

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// blocks returns the README's fenced code blocks that follow a readme-test marker, by name.
func blocks(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	name, inBlock := "", false
	var body strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "<!-- readme-test: "):
			name = strings.TrimSuffix(strings.TrimPrefix(line, "<!-- readme-test: "), " -->")
		case name != "" && !inBlock && strings.HasPrefix(line, "```"):
			inBlock = true
			body.Reset()
		case inBlock && line == "```":
			out[name] = body.String()
			name, inBlock = "", false
		case inBlock:
			body.WriteString(line + "\n")
		}
	}
	return out
}

// checkout makes dir look like the repository for `go run ./cmd/...` and `go build`:
// the module files copied, cmd and internal linked.
func checkout(t *testing.T, dir string) {
	t.Helper()
	root := repoRoot()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"cmd", "internal"} {
		abs, _ := filepath.Abs(filepath.Join(root, d))
		if err := os.Symlink(abs, filepath.Join(dir, d)); err != nil {
			t.Fatal(err)
		}
	}
}

// shell runs bash scripts in one directory; background processes they start are killed at the
// end of the test (each script runs in its own process group).
type shell struct {
	t      *testing.T
	dir    string
	env    []string
	groups []int
}

func (s *shell) run(timeout time.Duration, script string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), s.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Output goes to a file, not a pipe: processes the script leaves in the background keep
	// their inherited stdout open, and a pipe would make Wait wait for them.
	f, err := os.CreateTemp(s.dir, "script-*.log")
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	if cmd.Process != nil {
		s.groups = append(s.groups, cmd.Process.Pid)
	}
	out, _ := os.ReadFile(f.Name())
	if err != nil {
		s.t.Fatalf("script failed: %v\n--- script\n%s--- output\n%s", err, script, out)
	}
	return string(out)
}

// background starts a script and leaves it running.
func (s *shell) background(script string, log io.Writer) {
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.groups = append(s.groups, cmd.Process.Pid)
}

func (s *shell) killAll() {
	for _, pg := range s.groups {
		_ = syscall.Kill(-pg, syscall.SIGKILL)
	}
}

func waitHTTP(t *testing.T, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 within %s", url, timeout)
}

func mustContain(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("output lacks %q:\n%s", w, out)
		}
	}
}

// freeReadmePorts waits until the ports the README uses can be bound, and fails naming the
// port when one stays taken. The seed's 35122, 38080 and 39070 lie in Linux's ephemeral range,
// where an outgoing connection of another test may hold one for a while (.ci/run reserves
// them with net.ipv4.ip_local_reserved_ports).
func freeReadmePorts(t *testing.T, ports ...int) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for _, p := range ports {
		for {
			ln, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
			if err == nil {
				ln.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("port %d is in use; the README's commands need it free: %v", p, err)
			}
			time.Sleep(time.Second)
		}
	}
}

func TestReadmeQuickStartAndCluster(t *testing.T) {
	b := blocks(t)
	for _, name := range []string{"greeter.go", "quickstart.sh", "cluster.sh", "cluster-greeter.sh", "failover.sh"} {
		if b[name] == "" {
			t.Fatalf("README has no block marked readme-test: %s", name)
		}
	}
	freeReadmePorts(t, 8080, 9070, 5122, 9080, 28080, 29070, 25122, 38080, 39070, 35122)

	dir := t.TempDir()
	checkout(t, dir)
	if err := os.MkdirAll(filepath.Join(dir, "greeter"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "greeter", "main.go"), []byte(b["greeter.go"]), 0o644); err != nil {
		t.Fatal(err)
	}
	sh := &shell{t: t, dir: dir, env: []string{"RESTATE_BASE_DIR=" + filepath.Join(dir, "restate-data")}}
	t.Cleanup(sh.killAll)

	// Set-up: the single node from the README's first command, then the quick start.
	serverLog, _ := os.Create(filepath.Join(dir, "server.log"))
	defer serverLog.Close()
	sh.background("go run ./cmd/restate-server", serverLog)
	waitHTTP(t, "http://127.0.0.1:9070/health", 4*time.Minute)
	out := sh.run(4*time.Minute, b["quickstart.sh"])
	mustContain(t, out, `"hello Sarah"`, `"status":"Accepted"`, `"invocationId":"inv_1`)
	sh.killAll()
	sh.groups = nil

	// The three-node cluster, a registration on node 2, a call on node 3, then node 2 killed
	// and started again. The blocks share one bash session, as in a user's terminal.
	cluster := b["cluster.sh"] + "\n" + b["cluster-greeter.sh"]
	out = sh.run(5*time.Minute, cluster+"\nwait_for_ok() { for _ in $(seq 60); do curl -sf \"$1\" >/dev/null && return 0; sleep 1; done; return 1; }\n"+
		"echo ---failover\n"+b["failover.sh"]+"\nwait_for_ok localhost:29070/health\ncurl -s localhost:28080/Greeter/Greet --json '\"Ann\"'\n")
	mustContain(t, out, `"members":[1,2,3]`, "restate-cluster", `"hello Sarah"`)
	after := out[strings.Index(out, "---failover"):]
	mustContain(t, after, `"hello Sam"`, `"hello Ann"`)
}
