// Package compose runs the docker compose deployment in deploy/compose the way its README
// tells a user to: images built without a registry, three nodes and an S3 server, a service
// registered on one node and called through all three, a node stopped and started again,
// snapshots in the bucket, and the whole cluster taken down and brought back with its data.
package compose

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

const (
	project     = "restatego-compose-test"
	svcName     = "restatego-compose-test-svc"
	svcImage    = "restatego/bench-services:test"
	serverImage = "restatego/restate:test"
	s3Image     = "restatego/s3-local:test"
)

// The seed's host ports: ingress, admin and node port of each node.
var nodes = []struct{ name, ingress, admin, node string }{
	{"restate-1", "8080", "9070", "5122"},
	{"restate-2", "28080", "29070", "25122"},
	{"restate-3", "38080", "39070", "35122"},
}

// portOverrides moves every host port up by COMPOSE_TEST_PORT_SHIFT (through the compose
// file's *_PORT_OVERRIDE variables) on a machine where the seed's ports are taken.
func portOverrides(t *testing.T) []string {
	shift := os.Getenv("COMPOSE_TEST_PORT_SHIFT")
	if shift == "" {
		return nil
	}
	var by int
	if _, err := fmt.Sscan(shift, &by); err != nil {
		t.Fatalf("COMPOSE_TEST_PORT_SHIFT=%q: %v", shift, err)
	}
	var env []string
	for i := range nodes {
		n := &nodes[i]
		for kind, port := range map[string]*string{"INGRESS": &n.ingress, "ADMIN": &n.admin, "NODE": &n.node} {
			var p int
			fmt.Sscan(*port, &p)
			*port = fmt.Sprint(p + by)
			env = append(env, fmt.Sprintf("NODE%d_%s_PORT_OVERRIDE=%s", i+1, kind, *port))
		}
	}
	return append(env, fmt.Sprintf("MINIO_API_PORT_OVERRIDE=%d", 9000+by), fmt.Sprintf("MINIO_CONSOLE_PORT_OVERRIDE=%d", 9001+by))
}

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// requireDocker skips (or, under CI=true, fails) when no Docker engine or compose plugin runs.
func requireDocker(t *testing.T) {
	t.Helper()
	for _, args := range [][]string{{"info"}, {"compose", "version"}} {
		if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
			msg := fmt.Sprintf("docker %s failed: %v\n%s", strings.Join(args, " "), err, out)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg + "\n.ci/run installs docker.io and the compose plugin and starts dockerd")
			}
			t.Skip(msg)
		}
	}
}

func run(t *testing.T, timeout time.Duration, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

type cluster struct {
	t   *testing.T
	dir string
	env []string
}

func (c *cluster) compose(timeout time.Duration, args ...string) string {
	c.t.Helper()
	full := append([]string{"compose", "-p", project, "-f", "docker-compose.yaml", "-f", "docker-compose.offline.yaml"}, args...)
	return run(c.t, timeout, c.dir, c.env, "docker", full...)
}

func (c *cluster) logs() {
	cmd := exec.Command("docker", "compose", "-p", project, "-f", "docker-compose.yaml", "-f", "docker-compose.offline.yaml", "logs", "--tail", "40")
	cmd.Dir, cmd.Env = c.dir, append(os.Environ(), c.env...)
	out, _ := cmd.CombinedOutput()
	c.t.Logf("compose logs (tail):\n%s", out)
}

func httpDo(method, url, body string) (int, string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if body != "" {
		req.Header.Set("content-type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

// until retries f for up to timeout and fails the test with its last error.
func until(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// add calls BenchCounter/walk/Add through an ingress port and checks the running total.
func add(t *testing.T, port string, delta, want int) {
	t.Helper()
	until(t, 30*time.Second, "add through :"+port, func() error {
		status, body, err := httpDo(http.MethodPost, "http://127.0.0.1:"+port+"/BenchCounter/walk/Add", fmt.Sprint(delta))
		if err != nil {
			return err
		}
		if status != http.StatusOK || body != fmt.Sprint(want) {
			return fmt.Errorf("got %d %s, want 200 %d", status, body, want)
		}
		return nil
	})
}

func TestComposeWalkThrough(t *testing.T) {
	requireDocker(t)
	root := repoRoot(t)
	run(t, 20*time.Minute, root, nil, "scripts/build-image.sh",
		"--tag", serverImage, "--s3-tag", s3Image, "--test-services", svcImage)

	c := &cluster{t: t, dir: filepath.Join(root, "deploy", "compose"),
		env: append([]string{"RESTATE_VERSION=test", "S3_LOCAL_IMAGE=" + s3Image}, portOverrides(t)...)}
	c.compose(2*time.Minute, "down", "-v", "--remove-orphans")
	_ = exec.Command("docker", "rm", "-f", svcName).Run()
	t.Cleanup(func() {
		if t.Failed() {
			c.logs()
		}
		_ = exec.Command("docker", "rm", "-f", svcName).Run()
		c.compose(2*time.Minute, "down", "-v", "--remove-orphans")
	})

	// Quick start: every node becomes healthy (the healthcheck is the seed's wget of /health).
	c.compose(5*time.Minute, "up", "-d", "--wait")
	for _, n := range nodes {
		if status, body, err := httpDo(http.MethodGet, "http://127.0.0.1:"+n.admin+"/health", ""); err != nil || status != http.StatusOK {
			t.Fatalf("%s /health: %d %s %v", n.name, status, body, err)
		}
	}

	// A service in a container on the compose network, registered through node 2.
	run(t, time.Minute, root, nil, "docker", "run", "-d", "--rm", "--network", project+"_default", "--name", svcName, svcImage)
	until(t, time.Minute, "register the service on restate-2", func() error {
		status, body, err := httpDo(http.MethodPost, "http://127.0.0.1:"+nodes[1].admin+"/deployments", `{"uri":"http://`+svcName+`:9080"}`)
		if err != nil {
			return err
		}
		if status != http.StatusCreated {
			return fmt.Errorf("%d %s", status, body)
		}
		return nil
	})
	// Called through every node's ingress.
	for i, n := range nodes {
		add(t, n.ingress, 1, i+1)
	}

	// The cluster as the seed's README shows it.
	status, body, err := httpDo(http.MethodGet, "http://127.0.0.1:"+nodes[0].admin+"/cluster", "")
	if err != nil || status != http.StatusOK || strings.Count(body, `"alive":true`) != 3 {
		t.Fatalf("/cluster: %d %v\n%s", status, err, body)
	}
	for _, port := range []string{nodes[0].admin, nodes[0].node} {
		status, body, err := httpDo(http.MethodGet, "http://127.0.0.1:"+port+"/metrics", "")
		if err != nil || status != http.StatusOK || !strings.Contains(body, "# TYPE") {
			t.Fatalf("/metrics on %s: %d %v %.200s", port, status, err, body)
		}
	}
	if out := c.compose(time.Minute, "exec", "-T", "restate-1", "restatectl", "status"); strings.Count(out, "ALIVE") != 3 {
		t.Fatalf("restatectl status in restate-1 does not show three live nodes:\n%s", out)
	}

	// Failover: with restate-2 stopped, the other two keep serving.
	c.compose(2*time.Minute, "stop", "restate-2")
	add(t, nodes[0].ingress, 1, 4)
	add(t, nodes[2].ingress, 1, 5)
	c.compose(5*time.Minute, "start", "--wait", "restate-2")
	add(t, nodes[1].ingress, 1, 6)

	// Data recovery as the README tells it: a node whose directory is wiped rebuilds from its
	// peers and the snapshots, under its old id.
	c.compose(2*time.Minute, "stop", "restate-2")
	c.compose(2*time.Minute, "run", "--rm", "--no-deps", "--user", "0", "--entrypoint", "sh", "restate-2", "-c", "rm -rf /restate-data/restate-2")
	c.compose(5*time.Minute, "start", "--wait", "restate-2")
	add(t, nodes[1].ingress, 1, 7)

	// Snapshots land in the bucket.
	c.compose(2*time.Minute, "exec", "-T", "restate-1", "restatectl", "snapshots", "create")
	if out := c.compose(time.Minute, "exec", "-T", "minio", "find", "/data/buckets/restate/snapshots", "-name", "latest.json"); strings.Count(out, "latest.json") == 0 {
		t.Fatalf("no snapshot in the bucket after restatectl snapshots create:\n%s", out)
	}

	// Down and up again (volumes kept): nothing is lost. The service container leaves the
	// compose network first, so that down can remove it.
	run(t, time.Minute, root, nil, "docker", "rm", "-f", svcName)
	c.compose(3*time.Minute, "down")
	c.compose(5*time.Minute, "up", "-d", "--wait")
	run(t, time.Minute, root, nil, "docker", "run", "-d", "--rm", "--network", project+"_default", "--name", svcName, svcImage)
	add(t, nodes[1].ingress, 0, 7)
	add(t, nodes[0].ingress, 1, 8)
}
