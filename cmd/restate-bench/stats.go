package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// latencySummary holds order statistics of the measured request latencies.
type latencySummary struct {
	p50, p90, p99, max time.Duration
}

// summarize sorts samples in place and returns nearest-rank percentiles: the
// p-th percentile is the smallest sample with at least p% of samples at or
// below it.
func summarize(samples []time.Duration) latencySummary {
	if len(samples) == 0 {
		return latencySummary{}
	}
	slices.Sort(samples)
	return latencySummary{
		p50: percentile(samples, 50),
		p90: percentile(samples, 90),
		p99: percentile(samples, 99),
		max: samples[len(samples)-1],
	}
}

// percentile expects sorted, non-empty samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Result is one benchmark run; it is also the -json output.
type Result struct {
	Workload    string  `json:"workload"`
	Concurrency int     `json:"concurrency"`
	OK          uint64  `json:"ok"`
	Errors      uint64  `json:"errors"`
	WindowSec   float64 `json:"window_sec"`
	Throughput  float64 `json:"throughput_rps"`
	P50Ms       float64 `json:"p50_ms"`
	P90Ms       float64 `json:"p90_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	// Server CPU figures are present only when server pids were given.
	ServerCPUMsPerInv *float64 `json:"server_cpu_ms_per_inv,omitempty"`
	ServerCores       *float64 `json:"server_cores,omitempty"`
	// BenchCores is this process's CPU use, embedded services included.
	BenchCores float64 `json:"bench_cores"`
	// HostBusyCores and HostCores describe the whole machine in the window,
	// to tell a saturated box from an idle one.
	HostBusyCores float64 `json:"host_busy_cores"`
	HostCores     float64 `json:"host_cores"`
	// CounterCheck is set for the counter workload: "ok", or what mismatched.
	CounterCheck string `json:"counter_check,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Line renders the result as the single human-readable output line.
func (r Result) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "workload=%s c=%d ok=%d err=%d window=%.2fs throughput=%.1f req/s p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms",
		r.Workload, r.Concurrency, r.OK, r.Errors, r.WindowSec, r.Throughput, r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs)
	if r.ServerCPUMsPerInv != nil {
		fmt.Fprintf(&b, " server_cpu=%.3fms/inv server_cores=%.2f", *r.ServerCPUMsPerInv, *r.ServerCores)
	} else {
		b.WriteString(" server_cpu=n/a")
	}
	fmt.Fprintf(&b, " bench_cores=%.2f host_busy=%.2f/%.0f cores", r.BenchCores, r.HostBusyCores, r.HostCores)
	if r.CounterCheck != "" {
		fmt.Fprintf(&b, " counter_check=%s", r.CounterCheck)
	}
	return b.String()
}
