// Command restate-bench drives closed-loop load through a Restate server's
// ingress against the services in internal/benchsvc and prints throughput,
// latency percentiles and the server's CPU cost per invocation.
//
// Typical use against a local server:
//
//	restate-bench -register -workload noop -c 64 -d 20s -server-pid $(pgrep -n restate-server)
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/restatego/restate/internal/benchsvc"
)

type options struct {
	ingress, admin      string
	workload            string
	concurrency         int
	duration            time.Duration
	requests            uint64
	warmup              time.Duration
	keys                int
	sleepMs             int64
	serverPids          []int
	register            bool
	serveOnly           bool
	serviceAddr         string
	serviceURI          string
	jsonOut             bool
	h2c                 bool
	timeout             time.Duration
	readyTimeout        time.Duration
	maxPrintedErrors    int
	skipCounterCheck    bool
	counterCheckTimeout time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var serverPid int
	var serverPids string
	fs := flag.NewFlagSet("restate-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.ingress, "ingress", "http://127.0.0.1:8080", "ingress base URL")
	fs.StringVar(&o.admin, "admin", "http://127.0.0.1:9070", "admin API base URL (used by -register)")
	fs.StringVar(&o.workload, "workload", "noop", "noop | counter | sleep | run")
	fs.IntVar(&o.concurrency, "c", 64, "concurrent clients, each with one request in flight")
	fs.DurationVar(&o.duration, "d", 20*time.Second, "measured window length (ignored when -n is set)")
	fs.Uint64Var(&o.requests, "n", 0, "measure exactly this many requests after warm-up instead of a duration")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before the measured window; not counted")
	fs.IntVar(&o.keys, "keys", 256, "number of virtual object keys for the counter workload")
	fs.Int64Var(&o.sleepMs, "sleep-ms", 100, "timer length for the sleep workload")
	fs.IntVar(&serverPid, "server-pid", 0, "server process whose CPU time is measured over the window")
	fs.StringVar(&serverPids, "server-pids", "", "comma-separated server pids (cluster); CPU times are summed")
	fs.BoolVar(&o.register, "register", false, "serve the bench services on -service-addr and register them at -admin")
	fs.BoolVar(&o.serveOnly, "serve", false, "only serve the bench services (and register with -register) until interrupted")
	fs.StringVar(&o.serviceAddr, "service-addr", "127.0.0.1:9080", "listen address of the embedded bench services")
	fs.StringVar(&o.serviceURI, "service-uri", "", "deployment URI to register (default http://<bound service address>)")
	fs.BoolVar(&o.jsonOut, "json", false, "print the result as JSON instead of one text line")
	fs.BoolVar(&o.h2c, "h2c", false, "talk HTTP/2 without TLS to the ingress instead of HTTP/1.1")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "per-request timeout")
	fs.DurationVar(&o.readyTimeout, "ready-timeout", 30*time.Second, "how long to wait for the services to become invokable")
	fs.IntVar(&o.maxPrintedErrors, "print-errors", 5, "print at most this many request errors to stderr")
	fs.BoolVar(&o.skipCounterCheck, "no-counter-check", false, "skip comparing counter totals with successful Adds")
	fs.DurationVar(&o.counterCheckTimeout, "counter-check-timeout", 30*time.Second, "time limit for reading all counters")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if serverPid > 0 {
		o.serverPids = append(o.serverPids, serverPid)
	}
	for _, s := range strings.Split(serverPids, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		pid, err := strconv.Atoi(s)
		if err != nil || pid <= 0 {
			return o, fmt.Errorf("-server-pids: %q is not a process id", s)
		}
		o.serverPids = append(o.serverPids, pid)
	}
	if o.concurrency < 1 {
		return o, fmt.Errorf("-c must be at least 1, got %d", o.concurrency)
	}
	if o.requests == 0 && o.duration <= 0 {
		return o, fmt.Errorf("-d must be positive when -n is not set, got %s", o.duration)
	}
	o.ingress = strings.TrimRight(o.ingress, "/")
	o.admin = strings.TrimRight(o.admin, "/")
	return o, nil
}

func main() {
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "restate-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "restate-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	wl, err := newWorkload(o.workload, o.keys, o.sleepMs)
	if err != nil {
		return err
	}
	client := newHTTPClient(o.concurrency, o.timeout, o.h2c)

	if o.register || o.serveOnly {
		svcCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		bound, err := benchsvc.Serve(svcCtx, o.serviceAddr)
		if err != nil {
			return err
		}
		if o.register {
			uri := o.serviceURI
			if uri == "" {
				uri = "http://" + bound
			}
			if err := registerDeployment(ctx, o.admin, uri); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "registered bench services at %s with %s\n", uri, o.admin)
		}
		if o.serveOnly {
			fmt.Fprintf(stderr, "serving bench services on %s until interrupted\n", bound)
			<-ctx.Done()
			return nil
		}
	}

	if err := waitInvokable(ctx, client, o.ingress, o.readyTimeout); err != nil {
		return err
	}

	var counterBefore int64
	if wl.name == "counter" && !o.skipCounterCheck {
		if counterBefore, err = sumCounters(ctx, client, o.ingress, o.keys, o.counterCheckTimeout); err != nil {
			return fmt.Errorf("reading counters before the run: %w", err)
		}
	}

	var (
		printMu sync.Mutex
		printed int
	)
	reportError := func(err error) {
		printMu.Lock()
		defer printMu.Unlock()
		if printed < o.maxPrintedErrors {
			printed++
			fmt.Fprintln(stderr, "request error:", err)
		}
	}

	var (
		cpuErr                 error
		serverCPU0, serverCPU1 time.Duration
		selfCPU0, selfCPU1     time.Duration
		host0, host1           hostCPU
		hostErr0, hostErr1     error
		haveServerCPU          = len(o.serverPids) > 0
		sampleServer           = func(dst *time.Duration) {}
	)
	if haveServerCPU {
		// Fail before loading the server if a pid is wrong.
		if _, err := processesCPU(o.serverPids); err != nil {
			return err
		}
		sampleServer = func(dst *time.Duration) {
			d, err := processesCPU(o.serverPids)
			if err != nil && cpuErr == nil {
				cpuErr = err
			}
			*dst = d
		}
	}
	res := runLoad(ctx, client, loadConfig{
		ingress:     o.ingress,
		workload:    wl,
		concurrency: o.concurrency,
		duration:    o.duration,
		requests:    o.requests,
		warmup:      o.warmup,
		reportError: reportError,
		onWindowStart: func() {
			sampleServer(&serverCPU0)
			selfCPU0 = selfCPU()
			host0, hostErr0 = readHostCPU()
		},
		onWindowEnd: func() {
			sampleServer(&serverCPU1)
			selfCPU1 = selfCPU()
			host1, hostErr1 = readHostCPU()
		},
	})
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if cpuErr != nil {
		return cpuErr
	}

	lat := summarize(res.latencies)
	secs := res.window.Seconds()
	result := Result{
		Workload:    wl.name,
		Concurrency: o.concurrency,
		OK:          res.ok,
		Errors:      res.errors,
		WindowSec:   secs,
		P50Ms:       ms(lat.p50),
		P90Ms:       ms(lat.p90),
		P99Ms:       ms(lat.p99),
		MaxMs:       ms(lat.max),
	}
	if secs > 0 {
		result.Throughput = float64(res.ok) / secs
		result.BenchCores = (selfCPU1 - selfCPU0).Seconds() / secs
		if hostErr0 == nil && hostErr1 == nil {
			result.HostBusyCores = (host1.busy - host0.busy).Seconds() / secs
			result.HostCores = (host1.total - host0.total).Seconds() / secs
		}
		if haveServerCPU {
			cpu := serverCPU1 - serverCPU0
			cores := cpu.Seconds() / secs
			result.ServerCores = &cores
			var perInv float64
			if res.ok > 0 {
				perInv = ms(cpu) / float64(res.ok)
			}
			result.ServerCPUMsPerInv = &perInv
		}
	}

	var checkErr error
	if wl.name == "counter" && !o.skipCounterCheck {
		after, err := sumCounters(ctx, client, o.ingress, o.keys, o.counterCheckTimeout)
		if err != nil {
			return fmt.Errorf("reading counters after the run: %w", err)
		}
		delta := after - counterBefore
		switch {
		case delta == int64(res.totalOK):
			result.CounterCheck = "ok"
		default:
			// Failed requests may still have been applied (e.g. a timeout
			// after the server committed), so only a run without errors
			// proves a lost or duplicated update.
			result.CounterCheck = fmt.Sprintf("mismatch(delta=%d,ok_adds=%d)", delta, res.totalOK)
			if res.errors == 0 {
				checkErr = fmt.Errorf("counter totals grew by %d but %d Adds succeeded: updates were lost or applied twice", delta, res.totalOK)
			}
		}
	}

	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(result); err != nil {
			return fmt.Errorf("writing JSON result: %w", err)
		}
	} else {
		fmt.Fprintln(stdout, result.Line())
	}
	return checkErr
}

// registerDeployment asks the admin API to discover and register the
// deployment at uri, replacing any earlier registration of the same services.
func registerDeployment(ctx context.Context, admin, uri string) error {
	body, err := json.Marshal(map[string]any{"uri": uri, "force": true})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, admin+"/deployments", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building registration request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("registering deployment %s at %s: %w", uri, admin, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("registering deployment %s at %s: status %d: %s", uri, admin, resp.StatusCode, strings.TrimSpace(truncate(answer)))
	}
	return nil
}

// waitInvokable retries a Noop call until it succeeds: a freshly registered
// deployment may take a moment to reach the ingress.
func waitInvokable(ctx context.Context, client *http.Client, ingress string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	url := ingress + "/" + benchsvc.ServiceName + "/Noop"
	// The attempt shares the overall deadline: while the deployment is
	// unreachable the ingress holds the call open and retries it.
	attemptCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for {
		_, err := doRequest(attemptCtx, client, url, []byte(noopPayload))
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("bench services not invokable through %s after %s (are they registered? try -register): %w", ingress, limit, err)
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
}

// sumCounters reads every counter key via the shared Get handler.
func sumCounters(ctx context.Context, client *http.Client, ingress string, keys int, limit time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	const parallel = 8
	var (
		mu       sync.Mutex
		total    int64
		firstErr error
		wg       sync.WaitGroup
		next     = make(chan int)
	)
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				body, err := doRequest(ctx, client, ingress+counterPath(k, "Get"), nil)
				var n int64
				if err == nil {
					n, err = strconv.ParseInt(string(bytes.TrimSpace(body)), 10, 64)
					if err != nil {
						err = fmt.Errorf("counter k%d: Get answered %q, want an integer", k, truncate(body))
					}
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				total += n
				mu.Unlock()
			}
		}()
	}
	for k := range keys {
		next <- k
	}
	close(next)
	wg.Wait()
	return total, firstErr
}
