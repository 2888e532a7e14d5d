// Package testharness starts restate-server processes on random loopback ports for tests and
// talks to their ingress and admin APIs.
package testharness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serverBin is the restate-server binary built by Main.
var serverBin string

// Main builds the restate-server binary once, runs the package's tests and cleans up. Call it
// from TestMain.
func Main(m *testing.M) {
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
type Server struct {
	t   *testing.T
	Dir string
	// Ingress, Admin and Node are host:port of the three listeners.
	Ingress, Admin, Node string
	// Env is added to the process environment; change it between Stop and Start to restart
	// with other settings.
	Env     []string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
}

// FreePort returns a loopback address nobody listens on. It picks ports below Linux's
// ephemeral range (32768-60999): a port the kernel handed out for ":0" is also where it puts
// outgoing connections, and with the tests' loopback traffic one of them could take the port
// before the server binds it, or while a killed server is down before its restart.
func FreePort(t *testing.T) string {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for range 1000 {
		port := portLow + rand.IntN(portHigh-portLow)
		if portsGiven[port] || port == 25122 || port == 28080 || port == 29070 { // the seed's fixed ports
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		addr := ln.Addr().String()
		ln.Close()
		portsGiven[port] = true
		return addr
	}
	t.Fatal("no free loopback port between 20000 and 32000")
	return ""
}

const portLow, portHigh = 20000, 32000

var (
	portMu     sync.Mutex
	portsGiven = map[int]bool{} // handed out by this process: never twice
)

// startServer starts a fresh single-node server. extraEnv is added to its environment.
func StartServer(t *testing.T, extraEnv ...string) *Server {
	t.Helper()
	s := &Server{t: t, Dir: t.TempDir(), Ingress: FreePort(t), Admin: FreePort(t), Node: FreePort(t)}
	s.logPath = filepath.Join(s.Dir, "server.log")
	s.Env = append([]string{
		"RESTATE_NODE_NAME=n1",
		"RESTATE_BASE_DIR=" + filepath.Join(s.Dir, "data"),
		"RESTATE_INGRESS__BIND_ADDRESS=" + s.Ingress,
		"RESTATE_ADMIN__BIND_ADDRESS=" + s.Admin,
		"RESTATE_BIND_ADDRESS=" + s.Node,
		"RESTATE_LOG_FILTER=info",
	}, extraEnv...)
	s.Start()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			s.DumpLog()
		}
	})
	return s
}

func (s *Server) Start() {
	s.t.Helper()
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(serverBin)
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(s.exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.Admin + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-s.exited:
			s.DumpLog()
			s.t.Fatalf("server exited during startup")
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.DumpLog()
	s.t.Fatalf("server did not become healthy")
}

// StartFailing starts the server expecting it to refuse to start: it must exit non-zero within
// timeout. It returns what the process printed.
func (s *Server) StartFailing(timeout time.Duration) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, serverBin)
	cmd.Env = append(os.Environ(), s.Env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		s.t.Fatalf("server still running after %s, want it to refuse to start; output:\n%s", timeout, out)
	}
	if err == nil {
		s.t.Fatalf("server exited with status 0, want a failure; output:\n%s", out)
	}
	return string(out)
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.Kill()
	}
	s.cmd = nil
}

// Terminate sends SIGTERM and waits up to limit for the process to exit. It returns how long
// the exit took and whether it happened; a process still running after limit is killed.
func (s *Server) Terminate(limit time.Duration) (time.Duration, bool) {
	if s.cmd == nil {
		return 0, true
	}
	start := time.Now()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		s.cmd = nil
		return time.Since(start), true
	case <-time.After(limit):
		s.Kill()
		return time.Since(start), false
	}
}

// Log returns what the process wrote to stdout and stderr so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

func (s *Server) DumpLog() {
	b, _ := os.ReadFile(s.logPath)
	lines := strings.Split(string(b), "\n")
	if len(lines) > 80 {
		lines = lines[len(lines)-80:]
	}
	s.t.Logf("server log (tail):\n%s", strings.Join(lines, "\n"))
}

type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r Response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response %d is not JSON: %q", r.Status, r.Body)
	}
	return m
}

var Client = &http.Client{Timeout: 60 * time.Second}

func Do(t *testing.T, method, url string, body []byte, header ...string) Response {
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
	resp, err := Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func (s *Server) Call(t *testing.T, path string, body any, header ...string) Response {
	t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	return Do(t, http.MethodPost, "http://"+s.Ingress+path, b, header...)
}

func (s *Server) Register(t *testing.T, uri string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"uri": uri})
	r := Do(t, http.MethodPost, "http://"+s.Admin+"/deployments", b)
	if r.Status != http.StatusCreated {
		t.Fatalf("registering %s: %d %s", uri, r.Status, r.Body)
	}
}

// eventually retries f until it returns nil or the timeout passes.
func Eventually(t *testing.T, timeout time.Duration, f func() error) {
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

func BytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// Admin sends a request to the admin API.
func (s *Server) AdminDo(t *testing.T, method, path string, body []byte) Response {
	t.Helper()
	return Do(t, method, "http://"+s.Admin+path, body)
}

// IngressDo sends a raw request to the ingress.
func (s *Server) IngressDo(t *testing.T, method, path string, body []byte, header ...string) Response {
	t.Helper()
	return Do(t, method, "http://"+s.Ingress+path, body, header...)
}

// ServerBinary is the path of the restate-server binary built by Main.
func ServerBinary() string { return serverBin }
