package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serverBin is the restate-server binary built once for the package.
var serverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "restate-e2e-bin")
	if err != nil {
		panic(err)
	}
	serverBin = filepath.Join(dir, "restate-server")
	build := exec.Command("go", "build", "-o", serverBin, "github.com/restatego/restate/cmd/restate-server")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building restate-server:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a restate-server process on random loopback ports with its own data directory.
type server struct {
	t                    *testing.T
	dir                  string
	ingress, admin, node string
	env                  []string
	cmd                  *exec.Cmd
	logPath              string
	exited               chan struct{}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServer starts a fresh single-node server. extraEnv is added to its environment.
func startServer(t *testing.T, extraEnv ...string) *server {
	t.Helper()
	s := &server{t: t, dir: t.TempDir(), ingress: freePort(t), admin: freePort(t), node: freePort(t)}
	s.logPath = filepath.Join(s.dir, "server.log")
	s.env = append([]string{
		"RESTATE_NODE_NAME=n1",
		"RESTATE_BASE_DIR=" + filepath.Join(s.dir, "data"),
		"RESTATE_INGRESS__BIND_ADDRESS=" + s.ingress,
		"RESTATE_ADMIN__BIND_ADDRESS=" + s.admin,
		"RESTATE_BIND_ADDRESS=" + s.node,
		"RESTATE_LOG_FILTER=info",
	}, extraEnv...)
	s.start()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			s.dumpLog()
		}
	})
	return s
}

func (s *server) start() {
	s.t.Helper()
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(serverBin)
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(s.exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.admin + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-s.exited:
			s.dumpLog()
			s.t.Fatalf("server exited during startup")
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.dumpLog()
	s.t.Fatalf("server did not become healthy")
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.kill()
	}
	s.cmd = nil
}

func (s *server) dumpLog() {
	b, _ := os.ReadFile(s.logPath)
	lines := strings.Split(string(b), "\n")
	if len(lines) > 80 {
		lines = lines[len(lines)-80:]
	}
	s.t.Logf("server log (tail):\n%s", strings.Join(lines, "\n"))
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not JSON: %q", r.status, r.body)
	}
	return m
}

var client = &http.Client{Timeout: 60 * time.Second}

func do(t *testing.T, method, url string, body []byte, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("content-type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (s *server) call(t *testing.T, path string, body any, header ...string) response {
	t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	return do(t, http.MethodPost, "http://"+s.ingress+path, b, header...)
}

func (s *server) register(t *testing.T, uri string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"uri": uri})
	r := do(t, http.MethodPost, "http://"+s.admin+"/deployments", b)
	if r.status != http.StatusCreated {
		t.Fatalf("registering %s: %d %s", uri, r.status, r.body)
	}
}

// eventually retries f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("condition not met within %s: %v", timeout, err)
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
