package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSummarizeNearestRank(t *testing.T) {
	var samples []time.Duration
	for i := 100; i >= 1; i-- { // reversed: summarize must sort
		samples = append(samples, time.Duration(i)*time.Millisecond)
	}
	got := summarize(samples)
	want := latencySummary{p50: 50 * time.Millisecond, p90: 90 * time.Millisecond, p99: 99 * time.Millisecond, max: 100 * time.Millisecond}
	if got != want {
		t.Fatalf("summarize(1..100ms) = %+v, want %+v", got, want)
	}
	if one := summarize([]time.Duration{7}); one.p50 != 7 || one.p99 != 7 || one.max != 7 {
		t.Fatalf("single sample summary = %+v, want all 7", one)
	}
	if empty := summarize(nil); empty != (latencySummary{}) {
		t.Fatalf("empty summary = %+v, want zero", empty)
	}
	// With 10 samples p99 is the largest, p90 the 9th.
	ten := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if s := summarize(ten); s.p90 != 9 || s.p99 != 10 || s.p50 != 5 {
		t.Fatalf("summary of 1..10 = %+v, want p50=5 p90=9 p99=10", s)
	}
}

// fakeProc writes files under a directory laid out like /proc.
func fakeProc(t *testing.T, files map[string]string) procFS {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := newProcFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// procStatLine is a /proc/<pid>/stat line with the given command name and
// utime/stime ticks (fields 14 and 15).
func procStatLine(pid int, comm string, utime, stime int) string {
	return fmt.Sprintf("%d (%s) S 1 %d %d 0 -1 4194560 100 0 0 0 %d %d 0 0 20 0 40 0 100 1000 50 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
		pid, comm, pid, pid, utime, stime)
}

func TestProcessesCPUFromFakeProc(t *testing.T) {
	// Command names may contain spaces and parentheses; ticks are 1/100 s.
	p := fakeProc(t, map[string]string{
		"4242/stat": procStatLine(4242, "restate (srv) x", 1234, 567),
		"7/stat":    procStatLine(7, "b", 100, 0),
		"9/stat":    "9 (x S 1 2",
	})
	got, err := p.processesCPU([]int{4242, 7})
	if err != nil {
		t.Fatal(err)
	}
	if want := 19010 * time.Millisecond; got != want {
		t.Fatalf("processesCPU = %s, want %s", got, want)
	}
	for _, bad := range []int{9, 10} {
		if _, err := p.processesCPU([]int{bad}); err == nil || !strings.Contains(err.Error(), fmt.Sprint("pid ", bad)) {
			t.Errorf("processesCPU(%d) = %v, want an error naming the pid", bad, err)
		}
	}
}

func TestHostCPUFromFakeProc(t *testing.T) {
	p := fakeProc(t, map[string]string{
		"stat": "cpu  100 5 50 1000 20 3 2 1 40 0\ncpu0 50 2 25 500 10 1 1 0 20 0\nbtime 1700000000\n",
	})
	got, err := p.hostCPU()
	if err != nil {
		t.Fatal(err)
	}
	// busy = user+nice+system+irq+softirq+steal; guest columns excluded.
	ticks := func(n int) time.Duration { return time.Duration(n) * 10 * time.Millisecond }
	if want := (hostCPU{busy: ticks(100 + 5 + 50 + 3 + 2 + 1), total: ticks(100 + 5 + 50 + 1000 + 20 + 3 + 2 + 1)}); got != want {
		t.Fatalf("hostCPU = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"", "intr 1 2 3 4 5\n", "cpu 1 2 x 4 5\n"} {
		if _, err := fakeProc(t, map[string]string{"stat": bad}).hostCPU(); err == nil {
			t.Errorf("hostCPU of %q succeeded, want error", bad)
		}
	}
	if _, err := fakeProc(t, nil).hostCPU(); err == nil {
		t.Error("hostCPU without a stat file succeeded")
	}
}

func TestProcessesCPUReadsOwnProcess(t *testing.T) {
	pid := selfPid(t)
	// Burn CPU until the kernel has counted at least a few ticks of it (wall
	// time alone is not enough on a loaded machine).
	start, deadline := selfCPU(), time.Now().Add(10*time.Second)
	for selfCPU()-start < 50*time.Millisecond && time.Now().Before(deadline) {
	}
	d, err := processesCPU([]int{pid, pid})
	if err != nil {
		t.Fatal(err)
	}
	single, _ := processesCPU([]int{pid})
	if d <= 0 || d < single {
		t.Fatalf("CPU of pid listed twice = %s, single = %s; want positive and summed", d, single)
	}
	if _, err := processesCPU([]int{1 << 30}); err == nil {
		t.Fatal("processesCPU of a nonexistent pid succeeded")
	}
}

func selfPid(t *testing.T) int {
	t.Helper()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system:", err)
	}
	return os.Getpid()
}

func TestCounterWorkloadCyclesKeys(t *testing.T) {
	wl, err := newWorkload("counter", 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for range 6 {
		p, body := wl.next()
		if string(body) != "1" {
			t.Fatalf("counter body %q, want 1", body)
		}
		paths = append(paths, p)
	}
	want := "/BenchCounter/k0/Add /BenchCounter/k1/Add /BenchCounter/k2/Add /BenchCounter/k0/Add /BenchCounter/k1/Add /BenchCounter/k2/Add"
	if got := strings.Join(paths, " "); got != want {
		t.Fatalf("paths %s, want %s", got, want)
	}
	if _, err := newWorkload("counter", 0, 0); err == nil {
		t.Fatal("counter with 0 keys accepted")
	}
	if _, err := newWorkload("bogus", 1, 0); err == nil {
		t.Fatal("unknown workload accepted")
	}
}

func TestWorkloadChecksRejectWrongAnswers(t *testing.T) {
	cases := []struct {
		name      string
		good, bad string
	}{
		{"noop", noopPayload, `"other"`},
		{"counter", "17", "-3"},
		{"sleep", "100", "99"},
		{"run", `"ran"`, `"nope"`},
	}
	for _, c := range cases {
		wl, err := newWorkload(c.name, 4, 100)
		if err != nil {
			t.Fatal(err)
		}
		_, body := wl.next()
		if err := wl.check(body, []byte(c.good)); err != nil {
			t.Errorf("%s: good answer %s rejected: %v", c.name, c.good, err)
		}
		if err := wl.check(body, []byte(c.bad)); err == nil {
			t.Errorf("%s: wrong answer %s accepted", c.name, c.bad)
		}
	}
}

func TestParseFlagsMergesServerPids(t *testing.T) {
	o, err := parseFlags([]string{"-server-pid", "10", "-server-pids", "11, 12", "-ingress", "http://x:1/"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(o.serverPids) != "[10 11 12]" || o.ingress != "http://x:1" {
		t.Fatalf("pids %v ingress %q", o.serverPids, o.ingress)
	}
	for _, bad := range [][]string{{"-server-pids", "1,x"}, {"-c", "0"}, {"-d", "0s"}, {"extra"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%v) succeeded, want error", bad)
		}
	}
}

// echoIngress answers Noop like the real service; fail decides per request
// (numbered from 1) whether to answer 503 instead.
func echoIngress(t *testing.T, delay time.Duration, fail func(n int64, sinceStart time.Duration) bool) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var count atomic.Int64
	start := time.Now()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := count.Add(1)
		body, _ := io.ReadAll(r.Body)
		time.Sleep(delay)
		if fail != nil && fail(n, time.Since(start)) {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &count
}

func TestRunLoadDurationWindowExcludesWarmup(t *testing.T) {
	// Every request fails during the first 300ms; the 500ms warm-up must
	// swallow those failures entirely.
	srv, served := echoIngress(t, 2*time.Millisecond, func(_ int64, since time.Duration) bool {
		return since < 300*time.Millisecond
	})
	wl, _ := newWorkload("noop", 1, 0)
	var reported atomic.Int64
	var starts, ends int
	res := runLoad(context.Background(), newHTTPClient(4, 5*time.Second, false), loadConfig{
		ingress:       srv.URL,
		workload:      wl,
		concurrency:   4,
		duration:      400 * time.Millisecond,
		warmup:        500 * time.Millisecond,
		reportError:   func(error) { reported.Add(1) },
		onWindowStart: func() { starts++ },
		onWindowEnd:   func() { ends++ },
	})
	if res.errors != 0 {
		t.Fatalf("warm-up failures leaked into the window: %d errors", res.errors)
	}
	if reported.Load() == 0 {
		t.Fatal("warm-up failures were not reported at all")
	}
	if res.ok == 0 || uint64(len(res.latencies)) != res.ok {
		t.Fatalf("ok=%d latencies=%d, want equal and positive", res.ok, len(res.latencies))
	}
	if res.window < 400*time.Millisecond || res.window > 600*time.Millisecond {
		t.Fatalf("window %s, want about 400ms", res.window)
	}
	if res.ok >= uint64(served.Load()) || res.totalOK <= res.ok {
		t.Fatalf("window ok=%d, all ok=%d, served=%d: warm-up successes must be outside the window", res.ok, res.totalOK, served.Load())
	}
	if starts != 1 || ends != 1 {
		t.Fatalf("window callbacks start=%d end=%d, want 1 each", starts, ends)
	}
	for _, l := range res.latencies {
		if l < 2*time.Millisecond {
			t.Fatalf("latency %s below the server's 2ms delay", l)
		}
	}
}

func TestRunLoadRequestModeCountsExactlyN(t *testing.T) {
	// Every 5th request fails; all N measured requests must be accounted for.
	srv, _ := echoIngress(t, 0, func(n int64, _ time.Duration) bool { return n%5 == 0 })
	wl, _ := newWorkload("noop", 1, 0)
	for _, warmup := range []time.Duration{0, 50 * time.Millisecond} {
		res := runLoad(context.Background(), newHTTPClient(8, 5*time.Second, false), loadConfig{
			ingress:     srv.URL,
			workload:    wl,
			concurrency: 8,
			requests:    200,
			warmup:      warmup,
		})
		if res.ok+res.errors != 200 {
			t.Fatalf("warmup %s: ok %d + errors %d != 200", warmup, res.ok, res.errors)
		}
		if res.errors < 30 || res.errors > 50 {
			t.Fatalf("warmup %s: %d errors, want about 40 (every 5th)", warmup, res.errors)
		}
	}
}

func TestRunLoadCountsWrongBodiesAsErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `"not the input"`)
	}))
	defer srv.Close()
	wl, _ := newWorkload("noop", 1, 0)
	res := runLoad(context.Background(), newHTTPClient(2, 5*time.Second, false), loadConfig{
		ingress: srv.URL, workload: wl, concurrency: 2, requests: 20,
	})
	if res.ok != 0 || res.errors != 20 {
		t.Fatalf("ok=%d errors=%d, want 0 and 20", res.ok, res.errors)
	}
}

// fakeRestate imitates the parts of a Restate server the tool talks to:
// deployment registration and the bench services behind the ingress.
// loseEvery > 0 drops every n-th counter update while still answering 200.
type fakeRestate struct {
	mu         sync.Mutex
	counters   map[string]int64
	adds       int
	loseEvery  int
	registered []map[string]any
}

func (f *fakeRestate) admin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/deployments" {
		http.NotFound(w, r)
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	f.mu.Lock()
	f.registered = append(f.registered, body)
	f.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, `{"id":"dp_fake","services":[]}`)
}

func (f *fakeRestate) ingress(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case len(parts) == 2 && parts[0] == "BenchService" && parts[1] == "Noop":
		w.Write(body)
	case len(parts) == 3 && parts[0] == "BenchCounter" && parts[2] == "Add":
		delta, err := strconv.ParseInt(string(body), 10, 64)
		if err != nil {
			http.Error(w, "bad input", 400)
			return
		}
		f.adds++
		if f.loseEvery == 0 || f.adds%f.loseEvery != 0 {
			f.counters[parts[1]] += delta
		}
		fmt.Fprint(w, f.counters[parts[1]]+1) // always positive, like a real count
	case len(parts) == 3 && parts[0] == "BenchCounter" && parts[2] == "Get":
		if r.Header.Get("Content-Type") != "" {
			http.Error(w, "Get takes no input", 400)
			return
		}
		fmt.Fprint(w, f.counters[parts[1]])
	default:
		http.NotFound(w, r)
	}
}

func runAgainstFake(t *testing.T, fake *fakeRestate, extra ...string) (Result, error) {
	t.Helper()
	ingress := httptest.NewServer(http.HandlerFunc(fake.ingress))
	defer ingress.Close()
	admin := httptest.NewServer(http.HandlerFunc(fake.admin))
	defer admin.Close()
	args := append([]string{
		"-ingress", ingress.URL, "-admin", admin.URL, "-workload", "counter", "-keys", "7",
		"-c", "4", "-n", "300", "-warmup", "50ms", "-json",
		"-server-pid", strconv.Itoa(selfPid(t)),
	}, extra...)
	o, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	runErr := run(context.Background(), o, &out, io.Discard)
	var res Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("decoding -json output %q: %v", out.String(), err)
	}
	return res, runErr
}

func TestRunCounterCheckPassesOnCorrectServer(t *testing.T) {
	fake := &fakeRestate{counters: map[string]int64{"k0": 1000}}
	res, err := runAgainstFake(t, fake, "-register", "-service-addr", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if res.CounterCheck != "ok" || res.OK != 300 || res.Errors != 0 {
		t.Fatalf("result %+v, want counter_check=ok ok=300", res)
	}
	if res.ServerCPUMsPerInv == nil || res.ServerCores == nil || *res.ServerCores < 0 {
		t.Fatalf("server CPU fields missing with -server-pid: %+v", res)
	}
	if len(fake.registered) != 1 || fake.registered[0]["force"] != true ||
		!strings.HasPrefix(fake.registered[0]["uri"].(string), "http://127.0.0.1:") {
		t.Fatalf("registration bodies %v, want one {uri: http://127.0.0.1:<port>, force: true}", fake.registered)
	}
}

func TestRunCounterCheckCatchesLostUpdates(t *testing.T) {
	fake := &fakeRestate{counters: map[string]int64{}, loseEvery: 50}
	res, err := runAgainstFake(t, fake)
	if err == nil || !strings.Contains(err.Error(), "lost or applied twice") {
		t.Fatalf("run error = %v, want lost-update failure", err)
	}
	if !strings.HasPrefix(res.CounterCheck, "mismatch") {
		t.Fatalf("counter_check = %q, want mismatch", res.CounterCheck)
	}
}

func TestResultLine(t *testing.T) {
	cpu, cores := 0.25, 1.5
	r := Result{Workload: "noop", Concurrency: 64, OK: 1000, Errors: 2, WindowSec: 20, Throughput: 50,
		P50Ms: 1, P90Ms: 2, P99Ms: 3, MaxMs: 4, ServerCPUMsPerInv: &cpu, ServerCores: &cores,
		BenchCores: 0.5, HostBusyCores: 1.9, HostCores: 2}
	want := "workload=noop c=64 ok=1000 err=2 window=20.00s throughput=50.0 req/s p50=1.00ms p90=2.00ms p99=3.00ms max=4.00ms server_cpu=0.250ms/inv server_cores=1.50 bench_cores=0.50 host_busy=1.90/2 cores"
	if got := r.Line(); got != want {
		t.Fatalf("line\n got %s\nwant %s", got, want)
	}
}
