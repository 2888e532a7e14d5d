package main

import (
	"bytes"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/restatego/restate/internal/benchsvc"
)

// workload describes the ingress request a client sends repeatedly and how
// to tell a correct answer from a wrong one. A 2xx with a wrong body counts
// as an error: a server that answers fast but wrongly must not look good.
type workload struct {
	name string
	// next returns the ingress path (starting with '/') and JSON body of the
	// next request; it is called concurrently.
	next func() (path string, body []byte)
	// check validates the response body of a 2xx answer.
	check func(reqBody, respBody []byte) error
}

const noopPayload = `"restate-bench"`

func newWorkload(name string, keys int, sleepMs int64) (workload, error) {
	switch name {
	case "noop":
		body := []byte(noopPayload)
		return workload{
			name: name,
			next: func() (string, []byte) { return "/" + benchsvc.ServiceName + "/Noop", body },
			check: func(req, resp []byte) error {
				if !bytes.Equal(req, resp) {
					return fmt.Errorf("Noop answered %q, want its input %q", truncate(resp), req)
				}
				return nil
			},
		}, nil
	case "counter":
		if keys < 1 {
			return workload{}, fmt.Errorf("-keys must be at least 1, got %d", keys)
		}
		var seq atomic.Uint64
		body := []byte("1")
		return workload{
			name: name,
			next: func() (string, []byte) {
				// Round-robin over keys so every key sees the same load.
				k := (seq.Add(1) - 1) % uint64(keys)
				return counterPath(int(k), "Add"), body
			},
			check: func(_, resp []byte) error {
				n, err := strconv.ParseInt(string(bytes.TrimSpace(resp)), 10, 64)
				if err != nil || n < 1 {
					return fmt.Errorf("Add answered %q, want a positive count", truncate(resp))
				}
				return nil
			},
		}, nil
	case "sleep":
		if sleepMs < 0 {
			return workload{}, fmt.Errorf("-sleep-ms must not be negative, got %d", sleepMs)
		}
		body := []byte(strconv.FormatInt(sleepMs, 10))
		return workload{
			name: name,
			next: func() (string, []byte) { return "/" + benchsvc.ServiceName + "/Sleep", body },
			check: func(req, resp []byte) error {
				if !bytes.Equal(bytes.TrimSpace(resp), req) {
					return fmt.Errorf("Sleep answered %q, want %s", truncate(resp), req)
				}
				return nil
			},
		}, nil
	case "run":
		body := []byte(noopPayload)
		want := []byte(strconv.Quote(benchsvc.RunOnceResult))
		return workload{
			name: name,
			next: func() (string, []byte) { return "/" + benchsvc.ServiceName + "/RunOnce", body },
			check: func(_, resp []byte) error {
				if !bytes.Equal(bytes.TrimSpace(resp), want) {
					return fmt.Errorf("RunOnce answered %q, want %s", truncate(resp), want)
				}
				return nil
			},
		}, nil
	}
	return workload{}, fmt.Errorf("unknown workload %q (want noop, counter, sleep or run)", name)
}

func counterPath(key int, handler string) string {
	return fmt.Sprintf("/%s/k%d/%s", benchsvc.CounterName, key, handler)
}

// truncate keeps error messages about unexpected bodies readable.
func truncate(b []byte) string {
	const limit = 200
	if len(b) > limit {
		return string(b[:limit]) + "..."
	}
	return string(b)
}
