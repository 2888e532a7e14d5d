package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restatego/restate/internal/testservices"
)

// TestKillDuringSleepResumes kills the server with SIGKILL while an invocation sleeps between
// two side effects; after a restart it finishes, and each side effect ran exactly once.
func TestKillDuringSleepResumes(t *testing.T) {
	s := startServer(t)
	ep := startEndpoint(t, true)
	s.Register(t, ep.URL)

	r := s.Call(t, "/Sleeper/RunSleepRun/send", testservices.SleepRequest{Key: "k9", Millis: 1500})
	if r.Status != http.StatusAccepted {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	eventually(t, 10*time.Second, func() error {
		if ep.Recorder.Get("before/k9") != 1 {
			return fmt.Errorf("first side effect not run yet")
		}
		return nil
	})
	s.Kill()
	time.Sleep(200 * time.Millisecond)
	s.Start()
	eventually(t, 20*time.Second, func() error {
		if n := ep.Recorder.Get("after/k9"); n != 1 {
			return fmt.Errorf("second side effect ran %d times", n)
		}
		return nil
	})
	if n := ep.Recorder.Get("before/k9"); n != 1 {
		t.Fatalf("first side effect ran %d times, want 1", n)
	}
}

// TestKillUnderLoadLosesNothing sends invocations from many clients while the server is killed
// with SIGKILL and restarted: every send that was acknowledged with 202 runs afterwards.
func TestKillUnderLoadLosesNothing(t *testing.T) {
	s := startServer(t)
	ep := startEndpoint(t, true)
	s.Register(t, ep.URL)

	var (
		mu    sync.Mutex
		acked []string
		next  atomic.Int64
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	shortClient := &http.Client{Timeout: 5 * time.Second}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				key := fmt.Sprintf("m%d", next.Add(1))
				b, _ := json.Marshal(key)
				resp, err := shortClient.Post("http://"+s.Ingress+"/Marker/Mark/send", "application/json", bytesReader(b))
				if err != nil {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					mu.Lock()
					acked = append(acked, key)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	s.Kill()
	time.Sleep(300 * time.Millisecond)
	s.Start()
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	mu.Lock()
	keys := append([]string{}, acked...)
	mu.Unlock()
	if len(keys) < 50 {
		t.Fatalf("only %d sends were acknowledged; the load did not run", len(keys))
	}
	eventually(t, 30*time.Second, func() error {
		missing := 0
		for _, k := range keys {
			if ep.Recorder.Get("mark/"+k) == 0 {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d acknowledged invocations have not run", missing, len(keys))
		}
		return nil
	})
	t.Logf("%d acknowledged invocations all ran after a SIGKILL mid-load", len(keys))
}

// TestLogTrimmedWithoutSnapshots: a single node without a snapshot repository trims each
// partition's log up to what its store has applied, and a kill -9 right after loses nothing
// (the store, not the trimmed log, carries the state across the restart).
func TestLogTrimmedWithoutSnapshots(t *testing.T) {
	s := startServer(t, "RESTATE_DEFAULT_NUM_PARTITIONS=4", "RESTATE_ADMIN__LOG_TRIM_CHECK_INTERVAL=100ms")
	ep := startEndpoint(t, true)
	s.Register(t, ep.URL)

	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	add := func(round int) {
		for _, k := range keys {
			r := s.Call(t, "/Counter/"+k+"/Add", 1)
			if r.Status != http.StatusOK || string(r.Body) != fmt.Sprint(round) {
				t.Fatalf("round %d add %s: %d %s", round, k, r.Status, r.Body)
			}
		}
	}
	for round := 1; round <= 3; round++ {
		add(round)
	}
	type partitionView struct {
		ID        uint16 `json:"id"`
		Applied   uint64 `json:"applied"`
		TrimPoint uint64 `json:"trim_point"`
	}
	trimmed := func() error {
		var st struct {
			Partitions []partitionView `json:"partitions"`
		}
		r := s.AdminDo(t, http.MethodGet, "/cluster", nil)
		if err := json.Unmarshal(r.Body, &st); err != nil || len(st.Partitions) != 4 {
			return fmt.Errorf("cluster status %d %s: %v", r.Status, r.Body, err)
		}
		for _, p := range st.Partitions {
			if p.TrimPoint == 0 || p.TrimPoint > p.Applied {
				return fmt.Errorf("partition %d: applied %d, trimmed to %d", p.ID, p.Applied, p.TrimPoint)
			}
		}
		return nil
	}
	eventually(t, 10*time.Second, trimmed)

	s.Kill()
	s.Start()
	add(4)
	eventually(t, 10*time.Second, trimmed)
	s.Stop()
	s.Start()
	add(5)
}
