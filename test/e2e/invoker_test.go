package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	restate "github.com/restatedev/sdk-go"
	"github.com/restatedev/sdk-go/server"

	th "github.com/restatego/restate/internal/testharness"
	"github.com/restatego/restate/internal/testservices"
)

// sqlRows runs a SQL query on the admin API and returns its rows.
func sqlRows(t *testing.T, s *th.Server, q string) []map[string]any {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"query": q})
	r := do(t, "POST", "http://"+s.Admin+"/query", b, "accept", "application/json")
	if r.Status != 200 {
		t.Fatalf("query %q: %d %s", q, r.Status, r.Body)
	}
	var out struct {
		Rows []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("query answer: %v: %s", err, r.Body)
	}
	return out.Rows
}

// retryCounts sums sys_invocation.retry_count over the given invocations.
func retryCounts(t *testing.T, s *th.Server, ids []string) int {
	t.Helper()
	q := "SELECT id, retry_count FROM sys_invocation WHERE id IN ('" + strings.Join(ids, "','") + "')"
	total := 0
	for _, row := range sqlRows(t, s, q) {
		n, _ := row["retry_count"].(float64)
		total += int(n)
	}
	return total
}

// TestForceRemovedDeploymentRetriesAtBackoff: invocations that are backing off when their
// deployment is force-removed keep retrying at the backoff of the default retry policy, not
// in a hot loop.
func TestForceRemovedDeploymentRetriesAtBackoff(t *testing.T) {
	const interval = 250 * time.Millisecond
	s := startServer(t,
		"RESTATE_DEFAULT_RETRY_POLICY__INITIAL_INTERVAL=250ms",
		"RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL=250ms",
		"RESTATE_DEFAULT_RETRY_POLICY__EXPONENTIATION_FACTOR=1",
		"RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS=100000",
	)
	ep := startEndpoint(t, true)
	s.Register(t, ep.URL)

	var ids []string
	for i := range 3 {
		r := s.Call(t, "/Failing/FailTimes/send", testservices.FailTimesRequest{Key: fmt.Sprintf("gone-%d", i), Times: 1 << 30})
		if r.Status != http.StatusAccepted {
			t.Fatalf("send: %d %s", r.Status, r.Body)
		}
		ids = append(ids, r.JSON(t)["invocationId"].(string))
	}
	eventually(t, 10*time.Second, func() error {
		rows := sqlRows(t, s, "SELECT id FROM sys_invocation WHERE retry_count >= 1 AND id IN ('"+strings.Join(ids, "','")+"')")
		if len(rows) != len(ids) {
			return fmt.Errorf("%d of %d invocations failed once", len(rows), len(ids))
		}
		return nil
	})

	r := s.AdminDo(t, "GET", "/deployments", nil)
	deps, _ := r.JSON(t)["deployments"].([]any)
	if len(deps) != 1 {
		t.Fatalf("deployments: %s", r.Body)
	}
	depID := deps[0].(map[string]any)["id"].(string)
	if r := s.AdminDo(t, "DELETE", "/deployments/"+depID+"?force=true", nil); r.Status/100 != 2 {
		t.Fatalf("delete deployment: %d %s", r.Status, r.Body)
	}

	// Watch the retry counts for a few seconds: at one attempt per interval each, the sum may
	// grow by about len(ids) * window/interval. A hot loop blows through that at once.
	const window = 3 * time.Second
	allowed := len(ids) * (int(window/interval) + 3)
	base := retryCounts(t, s, ids)
	start := time.Now()
	var grown int
	for time.Since(start) < window {
		grown = retryCounts(t, s, ids) - base
		if grown > allowed {
			t.Fatalf("retry_count grew by %d within %s after the deployment was removed; at the backoff it may grow by at most %d", grown, time.Since(start).Round(time.Millisecond), allowed)
		}
		time.Sleep(100 * time.Millisecond) // polling interval of the measurement window
	}
	if grown < len(ids) {
		t.Fatalf("retry_count grew by only %d in %s: the invocations stopped retrying", grown, window)
	}
	t.Logf("retry_count grew by %d in %s for %d invocations (interval %s)", grown, window, len(ids), interval)

	// The failure names the missing deployment.
	rows := sqlRows(t, s, "SELECT last_failure FROM sys_invocation WHERE id = '"+ids[0]+"'")
	if len(rows) != 1 || !strings.Contains(fmt.Sprint(rows[0]["last_failure"]), "not registered") &&
		!strings.Contains(fmt.Sprint(rows[0]["last_failure"]), "gone") {
		t.Fatalf("last_failure: %v", rows)
	}
}

// streamTracker is a deployment wrapper that records, per invocation id, that an attempt's
// request arrived and when its request context ended (the stream was closed or reset).
type streamTracker struct {
	next http.Handler
	// silent are services whose invocations never get an answer, not even headers.
	silent map[string]bool

	mu     sync.Mutex
	opened map[string]int
	ended  map[string]int
}

func (st *streamTracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	inv := r.Header.Get("x-restate-invocation-id")
	if inv == "" || !strings.HasPrefix(r.URL.Path, "/invoke/") {
		st.next.ServeHTTP(w, r)
		return
	}
	st.mu.Lock()
	st.opened[inv]++
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		st.ended[inv]++
		st.mu.Unlock()
	}()
	service := strings.Split(strings.TrimPrefix(r.URL.Path, "/invoke/"), "/")[0]
	if st.silent[service] {
		<-r.Context().Done()
		return
	}
	done := make(chan struct{})
	go func() { st.next.ServeHTTP(w, r); close(done) }()
	<-r.Context().Done()
	<-done
}

func (st *streamTracker) counts(inv string) (opened, ended int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.opened[inv], st.ended[inv]
}

// Blocker holds its invocation in a side effect until the attempt's stream ends.
type Blocker struct{}

func (Blocker) Block(ctx restate.Context, _ string) (string, error) {
	return restate.Run(ctx, func(rc restate.RunContext) (string, error) {
		<-rc.Done()
		return "", rc.Err()
	})
}

// Silent is registered normally, but the tracker never answers its invocations.
type Silent struct{}

func (Silent) Hold(ctx restate.Context, _ string) (string, error) { return "", nil }

func startHoldingDeployment(t *testing.T) (*streamTracker, string) {
	t.Helper()
	h, err := server.NewRestate().Bind(restate.Reflect(Blocker{})).Bind(restate.Reflect(Silent{})).Handler()
	if err != nil {
		t.Fatal(err)
	}
	st := &streamTracker{next: h, silent: map[string]bool{"Silent": true}, opened: map[string]int{}, ended: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: st, Protocols: &protocols}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return st, "http://" + ln.Addr().String()
}

func sendInvocation(t *testing.T, s *th.Server, path string) string {
	t.Helper()
	r := s.Call(t, path, "x")
	if r.Status != http.StatusAccepted {
		t.Fatalf("send %s: %d %s", path, r.Status, r.Body)
	}
	return r.JSON(t)["invocationId"].(string)
}

// holdingServer starts a server with a small shutdown timeout and timeouts long enough that
// nothing but the test ends an attempt.
func holdingServer(t *testing.T) *th.Server {
	return startServer(t,
		"RESTATE_SHUTDOWN_TIMEOUT=3s",
		"RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT=10m",
		"RESTATE_WORKER__INVOKER__ABORT_TIMEOUT=10m",
	)
}

// TestKillAndPauseEndTheStream: killing or pausing a running invocation closes its attempt's
// stream at once, and afterwards SIGTERM still completes within shutdown-timeout.
func TestKillAndPauseEndTheStream(t *testing.T) {
	s := holdingServer(t)
	st, url := startHoldingDeployment(t)
	s.Register(t, url)

	killed := sendInvocation(t, s, "/Blocker/Block/send")
	paused := sendInvocation(t, s, "/Blocker/Block/send")
	for _, inv := range []string{killed, paused} {
		eventually(t, 10*time.Second, func() error {
			if o, _ := st.counts(inv); o == 0 {
				return fmt.Errorf("no attempt of %s reached the deployment", inv)
			}
			return nil
		})
	}

	for _, op := range []struct{ inv, verb string }{{killed, "kill"}, {paused, "pause"}} {
		r := s.AdminDo(t, "PATCH", "/invocations/"+op.inv+"/"+op.verb, nil)
		if r.Status/100 != 2 {
			t.Fatalf("%s: %d %s", op.verb, r.Status, r.Body)
		}
		start := time.Now()
		eventually(t, 2*time.Second, func() error {
			if o, e := st.counts(op.inv); e < o {
				return fmt.Errorf("%d of %d streams of the %s invocation still open", o-e, o, op.verb)
			}
			return nil
		})
		t.Logf("%s closed the stream after %s", op.verb, time.Since(start).Round(time.Millisecond))
	}

	took, exited := s.Terminate(6 * time.Second)
	if !exited {
		t.Fatalf("the server did not exit within 6s of SIGTERM (shutdown-timeout 3s)")
	}
	t.Logf("exited %s after SIGTERM", took.Round(time.Millisecond))
}

// TestShutdownWithHeldStreams: SIGTERM completes within shutdown-timeout while a deployment
// holds streams open, one in a long side effect, one never answering at all, and both streams
// are closed.
func TestShutdownWithHeldStreams(t *testing.T) {
	s := holdingServer(t)
	st, url := startHoldingDeployment(t)
	s.Register(t, url)

	invs := []string{sendInvocation(t, s, "/Blocker/Block/send"), sendInvocation(t, s, "/Silent/Hold/send")}
	for _, inv := range invs {
		eventually(t, 10*time.Second, func() error {
			if o, _ := st.counts(inv); o == 0 {
				return fmt.Errorf("no attempt of %s reached the deployment", inv)
			}
			return nil
		})
	}
	// A caller waiting on the ingress for one of them must not hold the shutdown either.
	go func() {
		req, _ := http.NewRequest("GET", "http://"+s.Ingress+"/restate/invocation/"+invs[0]+"/attach", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()

	took, exited := s.Terminate(6 * time.Second)
	if !exited {
		t.Fatalf("the server did not exit within 6s of SIGTERM (shutdown-timeout 3s)")
	}
	if took > 4*time.Second {
		t.Fatalf("the server took %s to exit; shutdown-timeout is 3s", took)
	}
	if log := s.Log(); !strings.Contains(log, "shutdown complete") {
		t.Fatalf("the server did not finish its shutdown in order:\n%s", log)
	}
	t.Logf("exited %s after SIGTERM", took.Round(time.Millisecond))
}
