package workload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Targets hands out ingress base URLs round-robin, so load reaches every node and a client
// whose attempt fails moves on to the next node.
type Targets struct {
	urls atomic.Pointer[[]string] // replaced whole by Set while clients run
	next atomic.Uint64
}

// NewTargets spreads requests over urls (base URLs such as "http://127.0.0.1:8080").
func NewTargets(urls ...string) *Targets {
	t := &Targets{}
	t.Set(urls...)
	return t
}

// Set replaces the URLs; clients running on t move to them with their next attempt.
func (t *Targets) Set(urls ...string) {
	if len(urls) == 0 {
		panic("workload: Targets needs at least one URL")
	}
	list := append([]string(nil), urls...)
	t.urls.Store(&list)
}

// Next returns the next URL in turn.
func (t *Targets) Next() string {
	urls := *t.urls.Load()
	return urls[(t.next.Add(1)-1)%uint64(len(urls))]
}

// count is how many URLs there are.
func (t *Targets) count() int { return len(*t.urls.Load()) }

// Outcome classifies a finished operation by what the client can know about it.
type Outcome int

const (
	// Failed means no attempt ever reached a server (every connection was refused), so the
	// operation certainly did not happen.
	Failed Outcome = iota
	// Maybe means some attempt reached a server but none was acknowledged: the operation may
	// or may not have happened, at most once thanks to its idempotency key.
	Maybe
	// Acked means a server answered 200: the operation happened.
	Acked
)

func (o Outcome) String() string {
	switch o {
	case Failed:
		return "failed"
	case Maybe:
		return "maybe"
	case Acked:
		return "acked"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Caller sends ingress requests with retries. Every retry of one operation carries the same
// idempotency key, so retrying after an ambiguous failure cannot execute it twice.
type Caller struct {
	Targets *Targets
	// AttemptTimeout bounds one HTTP attempt (default 5s); a paused node never answers.
	AttemptTimeout time.Duration
	// OpTimeout bounds all attempts of one operation (default 30s).
	OpTimeout time.Duration
	// Timeline, when set, records every acknowledged request.
	Timeline *Timeline
	// HTTP defaults to a client with keep-alive and no overall timeout.
	HTTP *http.Client
}

var defaultHTTP = &http.Client{Transport: &http.Transport{
	MaxIdleConnsPerHost: 64,
	DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
}}

// Result is the outcome of Caller.Call.
type Result struct {
	Outcome Outcome
	// Body is the 200 response body when Outcome is Acked.
	Body []byte
	// Attempts counts HTTP attempts; LastErr describes the last failed one.
	Attempts int
	LastErr  error
}

// Call POSTs body as JSON to path (such as "/Ledger/k1/Append") until a server answers 200,
// OpTimeout passes or ctx ends; a nil body sends an empty request. idempotencyKey, when not empty, goes into the idempotency-key header of
// every attempt. timelineKey names the success in the Timeline.
func (c *Caller) Call(ctx context.Context, path string, body any, idempotencyKey, timelineKey string) Result {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return Result{Outcome: Failed, LastErr: fmt.Errorf("encoding request for %s: %w", path, err)}
		}
	}
	attemptTimeout, opTimeout := c.AttemptTimeout, c.OpTimeout
	if attemptTimeout == 0 {
		attemptTimeout = 5 * time.Second
	}
	if opTimeout == 0 {
		opTimeout = 30 * time.Second
	}
	deadline := time.Now().Add(opTimeout)
	res := Result{Outcome: Failed}
	backoff := 20 * time.Millisecond
	lastFailed := ""
	for {
		res.Attempts++
		base := c.Targets.Next()
		if base == lastFailed && c.Targets.count() > 1 {
			// Do not wait on the same dead or paused node twice in a row.
			base = c.Targets.Next()
		}
		status, respBody, err := c.attempt(ctx, base+path, payload, idempotencyKey, min(attemptTimeout, time.Until(deadline)))
		lastFailed = base
		switch {
		case err == nil && status == http.StatusOK:
			if c.Timeline != nil {
				c.Timeline.Success(timelineKey, time.Now())
			}
			res.Outcome, res.Body, res.LastErr = Acked, respBody, nil
			return res
		case err != nil && isDialError(err):
			res.LastErr = err
		case err != nil:
			res.Outcome, res.LastErr = Maybe, err
		default:
			res.Outcome, res.LastErr = Maybe, fmt.Errorf("%s: %d %.200s", path, status, respBody)
		}
		if time.Until(deadline) <= backoff {
			return res
		}
		select {
		case <-ctx.Done():
			return res
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

func (c *Caller) attempt(ctx context.Context, url string, payload []byte, idempotencyKey string, timeout time.Duration) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, err
	}
	if payload != nil {
		req.Header.Set("content-type", "application/json")
	}
	if idempotencyKey != "" {
		req.Header.Set("idempotency-key", idempotencyKey)
	}
	client := c.HTTP
	if client == nil {
		client = defaultHTTP
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("reading response of %s: %w", url, err)
	}
	return resp.StatusCode, body, nil
}

// isDialError reports whether err happened while connecting, before any byte of the request
// was sent, so the server cannot have seen it.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
