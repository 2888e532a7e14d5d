package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxResponseBody bounds how much of an answer is read; bench answers are
// tiny, anything bigger is an error page.
const maxResponseBody = 1 << 20

// newHTTPClient returns a client that keeps one connection per concurrent
// worker alive, so the benchmark measures invocations rather than TCP
// handshakes.
func newHTTPClient(concurrency int, timeout time.Duration, h2c bool) *http.Client {
	idle := concurrency*2 + 16
	transport := &http.Transport{
		Proxy: nil, // never route benchmark traffic through an environment proxy
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	if h2c {
		var protocols http.Protocols
		protocols.SetUnencryptedHTTP2(true)
		transport.Protocols = &protocols
	}
	return &http.Client{Transport: transport, Timeout: timeout}
}

// doRequest sends one request and returns the response body if the status
// is 2xx; otherwise an error naming the status and the start of the body.
func doRequest(ctx context.Context, client *http.Client, url string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building request to %s: %w", url, err)
	}
	// Handlers without input (BenchCounter/Get) must not receive a
	// content type, or the ingress rejects the call as malformed input.
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return nil, fmt.Errorf("reading answer from %s: %w", url, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("%s: status %d: %s", url, resp.StatusCode, strings.TrimSpace(truncate(respBody)))
	}
	return respBody, nil
}

// loadConfig describes one measured run.
type loadConfig struct {
	ingress     string
	workload    workload
	concurrency int
	// Exactly one of duration and requests bounds the measured window.
	duration time.Duration
	requests uint64
	warmup   time.Duration
	// onWindowStart and onWindowEnd are called right at the window edges,
	// to sample CPU counters.
	onWindowStart, onWindowEnd func()
	// reportError receives errors as they happen (all phases), so the
	// caller can print the first few.
	reportError func(error)
}

// sample is one completed request. end is measured from the run's start.
type sample struct {
	end      time.Duration
	latency  time.Duration
	ok       bool
	measured bool // request mode: it held a ticket of the measured window
}

// loadResult is what happened inside the measured window.
type loadResult struct {
	window    time.Duration
	ok        uint64
	errors    uint64
	latencies []time.Duration // of ok requests in the window
	// totalOK counts successful requests of all phases (warm-up included);
	// the counter check needs it.
	totalOK uint64
}

// runLoad drives closed-loop load: each of the workers sends a request,
// waits for its answer and sends the next. In duration mode a request
// belongs to the window if it completed inside it; in request mode the
// first N requests started after the warm-up form the window, which ends
// when the last of them completes.
func runLoad(ctx context.Context, client *http.Client, cfg loadConfig) loadResult {
	var (
		stop         atomic.Bool
		measuring    atomic.Bool
		tickets      atomic.Uint64
		wg           sync.WaitGroup
		perWorker    = make([][]sample, cfg.concurrency)
		requestMode  = cfg.requests > 0
		runStart     = time.Now()
		windowStart  time.Duration
		windowEnd    time.Duration
		reportErr    = cfg.reportError
		windowStartF = cfg.onWindowStart
		windowEndF   = cfg.onWindowEnd
	)
	if reportErr == nil {
		reportErr = func(error) {}
	}
	if windowStartF == nil {
		windowStartF = func() {}
	}
	if windowEndF == nil {
		windowEndF = func() {}
	}

	beginWindow := func() {
		windowStartF()
		windowStart = time.Since(runStart)
		measuring.Store(true)
	}
	// Without warm-up, request mode must hand out tickets from the very first
	// request; otherwise the first wave would escape the count.
	earlyWindow := requestMode && cfg.warmup <= 0
	if earlyWindow {
		beginWindow()
	}

	for w := range cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []sample
			defer func() { perWorker[w] = mine }()
			for !stop.Load() && ctx.Err() == nil {
				measured := false
				if requestMode && measuring.Load() {
					if tickets.Add(1) > cfg.requests {
						return
					}
					measured = true
				}
				path, body := cfg.workload.next()
				start := time.Now()
				resp, err := doRequest(ctx, client, cfg.ingress+path, body)
				if err == nil {
					err = cfg.workload.check(body, resp)
				}
				end := time.Now()
				if err != nil {
					if ctx.Err() != nil {
						return // interrupted, not a server failure
					}
					reportErr(err)
				}
				mine = append(mine, sample{
					end:      end.Sub(runStart),
					latency:  end.Sub(start),
					ok:       err == nil,
					measured: measured,
				})
			}
		}()
	}

	if !earlyWindow {
		sleepCtx(ctx, cfg.warmup)
		beginWindow()
	}
	if requestMode {
		wg.Wait()
		windowEnd = time.Since(runStart)
		windowEndF()
	} else {
		sleepCtx(ctx, cfg.duration)
		windowEnd = time.Since(runStart)
		windowEndF()
		// Let in-flight requests finish rather than aborting them: aborted
		// requests would show up as client-side errors that the server did
		// not cause. They complete after windowEnd and are not counted.
		stop.Store(true)
		wg.Wait()
	}

	var res loadResult
	res.window = windowEnd - windowStart
	for _, samples := range perWorker {
		for _, s := range samples {
			if s.ok {
				res.totalOK++
			}
			inWindow := s.measured
			if !requestMode {
				inWindow = s.end >= windowStart && s.end <= windowEnd
			}
			if !inWindow {
				continue
			}
			if s.ok {
				res.ok++
				res.latencies = append(res.latencies, s.latency)
			} else {
				res.errors++
			}
		}
	}
	return res
}

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
