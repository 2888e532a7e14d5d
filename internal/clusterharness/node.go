package clusterharness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Node is one restate-server process of a cluster. Its methods are safe to call from the
// test goroutine while workload goroutines talk to its ports.
type Node struct {
	// ID is the forced node id (RESTATE_FORCE_NODE_ID) and Name the node name.
	ID   int
	Name string
	// Ingress, Admin and NodeAddr are host:port of the three listeners.
	Ingress, Admin, NodeAddr string
	// BaseDir is RESTATE_BASE_DIR; the node's data lives in BaseDir/Name.
	BaseDir string
	// LogPath collects the process's stdout and stderr across restarts.
	LogPath string
	// PartitionFile is where Isolate and Block write the node ids this node must not talk to.
	PartitionFile string
	// Env is the node's RESTATE_* environment; later entries win. Change it between a kill
	// and a start to restart with other settings.
	Env []string

	cluster *Cluster

	mu         sync.Mutex
	cmd        *exec.Cmd
	exited     chan struct{}
	exitErr    error
	expectExit bool
	paused     bool
}

// AdvertisedAddress is the node's RESTATE_ADVERTISED_ADDRESS.
func (n *Node) AdvertisedAddress() string { return n.cluster.scheme() + n.NodeAddr }

// IngressURL, AdminURL and NodeURL are the base URLs of the node's listeners.
func (n *Node) IngressURL() string { return n.cluster.scheme() + n.Ingress }
func (n *Node) AdminURL() string   { return n.cluster.scheme() + n.Admin }
func (n *Node) NodeURL() string    { return n.cluster.scheme() + n.NodeAddr }

// DataDir is where the node keeps its state.
func (n *Node) DataDir() string { return filepath.Join(n.BaseDir, n.Name) }

// Start launches the process and returns once it is running; it does not wait for the node
// to serve requests.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return fmt.Errorf("%s: start: already running (pid %d)", n.Name, n.cmd.Process.Pid)
	}
	if err := os.MkdirAll(n.BaseDir, 0o755); err != nil {
		return fmt.Errorf("%s: creating base dir: %w", n.Name, err)
	}
	logf, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%s: opening log: %w", n.Name, err)
	}
	fmt.Fprintf(logf, "=== clusterharness: starting %s at %s\n", n.Name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(n.cluster.binary)
	cmd.Env = append(parentEnv(), n.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("%s: starting %s: %w", n.Name, n.cluster.binary, err)
	}
	exited := make(chan struct{})
	n.cmd, n.exited, n.exitErr, n.expectExit, n.paused = cmd, exited, nil, false, false
	go func() {
		err := cmd.Wait()
		logf.Close()
		n.mu.Lock()
		n.exitErr = err
		if n.cmd == cmd {
			n.cmd = nil
		}
		n.mu.Unlock()
		close(exited)
	}()
	return nil
}

// parentEnv is the test process's environment without RESTATE_* variables, so a developer's
// shell settings cannot change what a test configures.
func parentEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RESTATE_") {
			out = append(out, kv)
		}
	}
	return out
}

// signal sends sig to the running process and reports whether there was one.
func (n *Node) signal(sig syscall.Signal, expectExit bool) (chan struct{}, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return n.exited, false
	}
	if expectExit {
		n.expectExit = true
	}
	_ = n.cmd.Process.Signal(sig)
	return n.exited, true
}

// Kill sends SIGKILL and waits until the process is gone. A paused process dies too.
func (n *Node) Kill() {
	if exited, ok := n.signal(syscall.SIGKILL, true); ok {
		<-exited
	}
}

// Shutdown asks the process to stop with SIGTERM and kills it if it has not exited after
// timeout.
func (n *Node) Shutdown(timeout time.Duration) {
	n.Resume()
	exited, ok := n.signal(syscall.SIGTERM, true)
	if !ok {
		return
	}
	select {
	case <-exited:
	case <-time.After(timeout):
		n.Kill()
	}
}

// Pause freezes the process with SIGSTOP: it keeps its sockets but answers nothing.
func (n *Node) Pause() error {
	if _, ok := n.signal(syscall.SIGSTOP, false); !ok {
		return fmt.Errorf("%s: pause: not running", n.Name)
	}
	n.mu.Lock()
	n.paused = true
	n.mu.Unlock()
	// The signal only asks the kernel to stop the process; on a busy machine a thread may
	// still run (and answer a request) for a moment. Return once every thread is stopped.
	tasks := fmt.Sprintf("/proc/%d/task", n.Pid())
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		stopped, err := allThreadsStopped(tasks)
		if err != nil {
			return nil // no /proc: nothing to wait on
		}
		if stopped {
			return nil
		}
	}
	return fmt.Errorf("%s: pause: the process did not stop", n.Name)
}

// allThreadsStopped reads the state of every thread under /proc/<pid>/task.
func allThreadsStopped(tasks string) (bool, error) {
	entries, err := os.ReadDir(tasks)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(tasks, e.Name(), "stat"))
		if err != nil {
			continue // the thread ended
		}
		// The state follows the parenthesised command name: "tid (comm) T ...".
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			return false, nil
		}
	}
	return true, nil
}

// Resume continues a paused process with SIGCONT.
func (n *Node) Resume() {
	n.signal(syscall.SIGCONT, false)
	n.mu.Lock()
	n.paused = false
	n.mu.Unlock()
}

// Restart kills the process with SIGKILL and starts it again with the same data.
func (n *Node) Restart() error {
	n.Kill()
	return n.Start()
}

// Wipe deletes the node's data directory. The node must not be running.
func (n *Node) Wipe() error {
	if n.Running() {
		return fmt.Errorf("%s: wipe: still running", n.Name)
	}
	if err := os.RemoveAll(n.DataDir()); err != nil {
		return fmt.Errorf("%s: wiping %s: %w", n.Name, n.DataDir(), err)
	}
	return nil
}

// WipeAndRestart kills the node, deletes its data and starts it empty, so it has to rejoin
// the cluster and rebuild its state from the others.
func (n *Node) WipeAndRestart() error {
	n.Kill()
	if err := n.Wipe(); err != nil {
		return err
	}
	return n.Start()
}

// Running reports whether the process is alive (possibly paused).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil
}

// Paused reports whether the process is stopped by Pause.
func (n *Node) Paused() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil && n.paused
}

// Pid is the process id, or 0 when the node is not running.
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// UnexpectedExit returns an error when the process exited without the harness stopping it.
func (n *Node) UnexpectedExit() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.exited == nil || n.cmd != nil || n.expectExit {
		return nil
	}
	return fmt.Errorf("%s exited on its own (%v); log tail:\n%s", n.Name, n.exitErr, n.LogTail(30))
}

// WaitExit waits up to timeout for the process to exit on its own and returns its exit
// error (nil for status 0). It fails when the process is still running at the deadline.
func (n *Node) WaitExit(timeout time.Duration) error {
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	if exited == nil {
		return fmt.Errorf("%s: never started", n.Name)
	}
	select {
	case <-exited:
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.exitErr
	case <-time.After(timeout):
		return ErrStillRunning
	}
}

// ErrStillRunning is WaitExit's answer when the process outlives the timeout.
var ErrStillRunning = errors.New("process still running")

// LogTail returns the last lines of the node's log.
func (n *Node) LogTail(lines int) string {
	b, err := os.ReadFile(n.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// Log returns the node's whole log.
func (n *Node) Log() string {
	b, _ := os.ReadFile(n.LogPath)
	return string(b)
}
