package conformance

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	th "github.com/restatego/restate/internal/testharness"
)

// externalServer runs a restate-server binary that is not ours (see setup). It takes the
// same RESTATE_* settings.
type externalServer struct {
	t              *testing.T
	bin, dir, log  string
	env            []string
	ingress, admin string
	cmd            *exec.Cmd
	exited         chan struct{}
}

func startExternal(t *testing.T, bin string, extraEnv []string) *externalServer {
	t.Helper()
	dir := t.TempDir()
	x := &externalServer{t: t, bin: bin, dir: dir, log: filepath.Join(dir, "server.log"),
		ingress: th.FreePort(t), admin: th.FreePort(t)}
	node := th.FreePort(t)
	x.env = append([]string{
		"RESTATE_NODE_NAME=n1",
		"RESTATE_BASE_DIR=" + filepath.Join(dir, "data"),
		"RESTATE_INGRESS__BIND_ADDRESS=" + x.ingress,
		"RESTATE_ADMIN__BIND_ADDRESS=" + x.admin,
		"RESTATE_BIND_ADDRESS=" + node,
		"RESTATE_ADVERTISED_ADDRESS=http://" + node + "/",
		"RESTATE_LOG_FILTER=info",
	}, extraEnv...)
	x.Start()
	t.Cleanup(func() {
		x.Stop()
		if t.Failed() {
			b, _ := os.ReadFile(x.log)
			lines := strings.Split(string(b), "\n")
			if len(lines) > 60 {
				lines = lines[len(lines)-60:]
			}
			t.Logf("external server log (tail):\n%s", strings.Join(lines, "\n"))
		}
	})
	return x
}

func (x *externalServer) Start() {
	x.t.Helper()
	logf, err := os.OpenFile(x.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		x.t.Fatal(err)
	}
	cmd := exec.Command(x.bin, "--no-logo")
	cmd.Env = append(os.Environ(), x.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		x.t.Fatal(err)
	}
	x.cmd, x.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(x.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if healthy("http://"+x.admin+"/health") && healthy("http://"+x.ingress+"/restate/health") {
			return
		}
		select {
		case <-x.exited:
			x.t.Fatalf("external server exited during startup, see %s", x.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
	x.t.Fatalf("external server did not become healthy, see %s", x.log)
}

func healthy(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (x *externalServer) Kill() {
	if x.cmd == nil {
		return
	}
	_ = x.cmd.Process.Signal(syscall.SIGKILL)
	<-x.exited
	x.cmd = nil
}

func (x *externalServer) Stop() {
	if x.cmd == nil {
		return
	}
	_ = x.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-x.exited:
		x.cmd = nil
	case <-time.After(20 * time.Second):
		x.Kill()
	}
}
