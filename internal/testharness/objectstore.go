package testharness

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Test-only credentials of the throwaway gateway; never real secrets.
const (
	ObjectStoreAccessKey = "snapshottestkey"
	ObjectStoreSecretKey = "snapshottestsecret0123456789"
	ObjectStoreRegion    = "us-east-1"
)

// ObjectStore is a real S3 server (versitygw over a directory) for one test. It can be stopped
// and started again on the same address and data, to play an outage.
type ObjectStore struct {
	t        *testing.T
	bin      string
	Addr     string // host:port
	Endpoint string // http://host:port
	root     string
	// Client is an S3 client with the gateway's root credentials, for setting up buckets and
	// inspecting or damaging what the server under test wrote.
	Client *minio.Client

	mu   sync.Mutex
	cmd  *exec.Cmd
	logs *bytes.Buffer
	stop context.CancelFunc
}

// StartObjectStore runs versitygw for the test, or skips the test when the binary is not
// available ($VERSITYGW or versitygw on PATH). Building it takes minutes, so .ci/run installs
// it ahead of the test run instead of the test doing so.
func StartObjectStore(t *testing.T) *ObjectStore {
	t.Helper()
	bin := os.Getenv("VERSITYGW")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("versitygw"); err != nil {
			t.Skip("versitygw not installed (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
		}
	}
	s := &ObjectStore{t: t, bin: bin, Addr: FreePort(t), root: t.TempDir()}
	s.Endpoint = "http://" + s.Addr
	for _, d := range []string{"meta", "data"} {
		if err := os.MkdirAll(filepath.Join(s.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c, err := minio.New(s.Addr, &minio.Options{
		Creds:  credentials.NewStaticV4(ObjectStoreAccessKey, ObjectStoreSecretKey, ""),
		Region: ObjectStoreRegion, BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Client = c
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start runs the gateway (again) and waits until it accepts connections.
func (s *ObjectStore) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, s.bin, "--port", s.Addr, "posix", "--sidecar", filepath.Join(s.root, "meta"), filepath.Join(s.root, "data"))
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+ObjectStoreAccessKey, "ROOT_SECRET_KEY="+ObjectStoreSecretKey)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		cancel()
		s.t.Fatal(err)
	}
	s.cmd, s.logs, s.stop = cmd, logs, cancel
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("versitygw did not start on %s: %s", s.Addr, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop kills the gateway; its data stays for a later Start.
func (s *ObjectStore) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a paused process cannot exit
	s.stop()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Pause freezes the gateway (SIGSTOP): connections are accepted by the kernel but nothing
// answers, like an object store that hangs. Resume lets it continue.
func (s *ObjectStore) Pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGSTOP)
	}
}

// Resume continues a paused gateway.
func (s *ObjectStore) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
	}
}

// MakeBucket creates a bucket.
func (s *ObjectStore) MakeBucket(name string) {
	s.t.Helper()
	if err := s.Client.MakeBucket(context.Background(), name, minio.MakeBucketOptions{Region: ObjectStoreRegion}); err != nil {
		s.t.Fatalf("make bucket %s: %v", name, err)
	}
}

// Keys lists the object keys under prefix in bucket.
func (s *ObjectStore) Keys(bucket, prefix string) []string {
	s.t.Helper()
	var out []string
	for o := range s.Client.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			s.t.Fatalf("list %s/%s: %v", bucket, prefix, o.Err)
		}
		out = append(out, o.Key)
	}
	return out
}

// Get reads an object.
func (s *ObjectStore) Get(bucket, key string) []byte {
	s.t.Helper()
	o, err := s.Client.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		s.t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	defer o.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(o); err != nil {
		s.t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	return b.Bytes()
}

// Put writes an object.
func (s *ObjectStore) Put(bucket, key string, data []byte) {
	s.t.Helper()
	if _, err := s.Client.PutObject(context.Background(), bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		s.t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
}

// ServerEnv is the environment that points a restate-server's snapshots at bucket/prefix.
func (s *ObjectStore) ServerEnv(bucket, prefix string) []string {
	return []string{
		"RESTATE_WORKER__SNAPSHOTS__DESTINATION=s3://" + bucket + "/" + prefix,
		"RESTATE_WORKER__SNAPSHOTS__AWS_ENDPOINT_URL=" + s.Endpoint,
		"RESTATE_WORKER__SNAPSHOTS__AWS_REGION=" + ObjectStoreRegion,
		"RESTATE_WORKER__SNAPSHOTS__AWS_ACCESS_KEY_ID=" + ObjectStoreAccessKey,
		"RESTATE_WORKER__SNAPSHOTS__AWS_SECRET_ACCESS_KEY=" + ObjectStoreSecretKey,
		"RESTATE_WORKER__SNAPSHOTS__AWS_ALLOW_HTTP=true",
	}
}
