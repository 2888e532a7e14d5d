package e2e

import (
	"fmt"
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

// TestNearlyFullDiskRefusesNewWorkAndRecovers runs a node on a small tmpfs, fills the file
// system below min-free-disk-space and checks that new work gets a 503 naming the problem
// while reads (SQL, admin listings, invocation output) keep answering; once space is freed the
// node accepts work again and nothing acknowledged before is lost. It needs root (mount).
func TestNearlyFullDiskRefusesNewWorkAndRecovers(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test mounts a tmpfs and needs root; CI must run it")
		}
		t.Skip("needs root to mount a small tmpfs")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", mnt).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount tmpfs: %v %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })

	s := startServer(t, "RESTATE_BASE_DIR="+filepath.Join(mnt, "data"), "RESTATE_MIN_FREE_DISK_SPACE=96 MiB")
	ep := startEndpoint(t, true)
	s.Register(t, ep.URL)
	for i := 0; i < 20; i++ {
		if r := s.Call(t, "/Counter/full/Add", 1); r.Status != http.StatusOK {
			t.Fatalf("add %d: %d %s", i, r.Status, r.Body)
		}
	}
	r := s.Call(t, "/Counter/full/Get/send", nil, "idempotency-key", "before-full")
	if r.Status != http.StatusAccepted {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	id, _ := r.JSON(t)["invocationId"].(string)

	// Leave 48 MiB free.
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	ballast := filepath.Join(mnt, "ballast")
	f, err := os.Create(ballast)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for written := int64(0); written < free-48<<20; written += int64(len(chunk)) {
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()

	acked := 20 // the guard measures twice a second: adds may still go through until it does
	eventually(t, 5*time.Second, func() error {
		r := s.Call(t, "/Counter/full/Add", 1)
		if r.Status == http.StatusOK {
			acked++
		}
		if r.Status != http.StatusServiceUnavailable {
			return fmt.Errorf("add with a nearly full disk: %d %s", r.Status, r.Body)
		}
		if !strings.Contains(string(r.Body), "nearly full") || !strings.Contains(string(r.Body), "min-free-disk-space") {
			return fmt.Errorf("503 without a reason: %s", r.Body)
		}
		return nil
	})
	if r := s.AdminDo(t, http.MethodPost, "/deployments", []byte(`{"uri":"`+ep.URL+`","force":true}`)); r.Status != http.StatusServiceUnavailable {
		t.Errorf("registration with a nearly full disk: %d %s", r.Status, r.Body)
	}
	// Reads go on.
	if r := s.AdminDo(t, http.MethodGet, "/deployments", nil); r.Status != http.StatusOK {
		t.Errorf("admin listing: %d %s", r.Status, r.Body)
	}
	q := s.AdminDo(t, http.MethodPost, "/query", []byte(`{"query":"SELECT count(*) AS n FROM sys_invocation"}`))
	if q.Status != http.StatusOK {
		t.Errorf("SQL: %d %s", q.Status, q.Body)
	}
	if r := s.IngressDo(t, http.MethodGet, "/restate/invocation/"+id+"/output", nil); r.Status != http.StatusOK || strings.TrimSpace(string(r.Body)) != "20" {
		t.Errorf("output of an earlier invocation: %d %s", r.Status, r.Body)
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	var got th.Response
	eventually(t, 5*time.Second, func() error {
		got = s.Call(t, "/Counter/full/Add", 1)
		if got.Status != http.StatusOK {
			return fmt.Errorf("add after freeing space: %d %s", got.Status, got.Body)
		}
		return nil
	})
	if want := fmt.Sprint(acked + 1); strings.TrimSpace(string(got.Body)) != want {
		t.Fatalf("counter after recovery = %s, want %s (every acknowledged add and this one)", got.Body, want)
	}
}
