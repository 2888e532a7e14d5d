package tssdk

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	th "github.com/restatego/restate/internal/testharness"
)

// serviceDir holds the TypeScript SDK service; go test runs with the package directory as cwd.
const serviceDir = "service"

// Protocol modes of the node service (its MODE variable).
const (
	modeBidi            = "bidi"
	modeRequestResponse = "request-response"
)

var (
	installOnce sync.Once
	installErr  error
	installLog  []byte
)

// requireNode skips when node is missing (fails under CI=true) and installs the service's npm dependencies (exactly
// as locked) the first time a test needs them.
func requireNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not on PATH; CI must provide Node.js for the TypeScript SDK test")
		}
		t.Skip("node is not on PATH; the TypeScript SDK service cannot run")
	}
	installOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(serviceDir, "node_modules", "@restatedev", "restate-sdk")); err == nil {
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = serviceDir
		installLog, installErr = cmd.CombinedOutput()
	})
	if installErr != nil {
		t.Fatalf("npm ci in %s: %v\n%s", serviceDir, installErr, installLog)
	}
}

// nodeService is the TypeScript SDK service running as a node process.
type nodeService struct {
	URL     string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// startService starts service.js in the given protocol mode on a free loopback port and waits
// until it accepts connections. It is stopped when the test ends; its output is logged if the
// test failed.
func startService(t *testing.T, mode string) *nodeService {
	t.Helper()
	requireNode(t)
	addr := th.FreePort(t)
	_, port, _ := net.SplitHostPort(addr)
	svc := &nodeService{URL: "http://" + addr, logPath: filepath.Join(t.TempDir(), "service.log"), exited: make(chan struct{})}
	logf, err := os.Create(svc.logPath)
	if err != nil {
		t.Fatal(err)
	}
	svc.cmd = exec.Command("node", "service.js")
	svc.cmd.Dir = serviceDir
	svc.cmd.Env = append(os.Environ(), "PORT="+port, "MODE="+mode)
	svc.cmd.Stdout, svc.cmd.Stderr = logf, logf
	if err := svc.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting node service: %v", err)
	}
	go func() { svc.cmd.Wait(); logf.Close(); close(svc.exited) }()
	t.Cleanup(func() {
		_ = svc.cmd.Process.Signal(syscall.SIGKILL)
		<-svc.exited
		if t.Failed() {
			svc.dumpLog(t)
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return svc
		}
		select {
		case <-svc.exited:
			svc.dumpLog(t)
			t.Fatalf("node service exited during startup")
		case <-time.After(50 * time.Millisecond):
		}
	}
	svc.dumpLog(t)
	t.Fatalf("node service did not listen on %s within 30s", addr)
	return nil
}

func (svc *nodeService) dumpLog(t *testing.T) {
	b, _ := os.ReadFile(svc.logPath)
	lines := strings.Split(string(b), "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	t.Logf("node service log (tail):\n%s", strings.Join(lines, "\n"))
}
