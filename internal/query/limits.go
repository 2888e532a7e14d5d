package query

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
	"unsafe"
)

// The engine materializes every intermediate result, so a query's memory is the rows it holds.
// Left alone, one cross join of a few small tables can take the process's whole memory: each
// query therefore draws what it holds from a pool shared by all running queries (Restate's
// admin.query-engine.memory-size plays the same role for DataFusion), stops when the pool is
// empty, and stops when its context ends: the client went away or the timeout passed.

// Limits bound the queries of one engine.
type Limits struct {
	// MemoryBytes is the size of the pool the running queries share, in approximate bytes
	// held (rows, sort keys, groups, hash tables); 0 means unbounded.
	MemoryBytes int64
	// Timeout bounds one query's run time; 0 means no bound.
	Timeout time.Duration
}

// Defaults of the settings admin.query-engine.memory-size and admin.query-engine.query-timeout.
// The pool holds every invocation row of a server with tens of thousands of invocations (what
// `restate invocations list` reads) while the process stays far below a gigabyte; a CLI query
// takes milliseconds, so a minute only stops the runaway ones.
const (
	DefaultMemoryBytes = 256 << 20
	DefaultTimeout     = time.Minute
)

// DefaultLimits are the limits of the settings' defaults.
var DefaultLimits = Limits{MemoryBytes: DefaultMemoryBytes, Timeout: DefaultTimeout}

// Approximate sizes of what a query holds: a Value, a Row's slice header, a map entry.
const (
	valueBytes    = int64(unsafe.Sizeof(Value{}))
	rowBytes      = int64(unsafe.Sizeof(Row(nil)))
	mapEntryBytes = 48
)

// memoryPool is the budget all queries of an engine draw from.
type memoryPool struct {
	limit int64 // 0: unbounded
	used  atomic.Int64
}

// poolChunk is how much a query takes from the pool at a time, so that the shared counter is
// touched once per chunk rather than once per row.
const poolChunk = 1 << 20

// reservation is one query's share of the pool.
type reservation struct {
	pool     *memoryPool
	held     int64 // bytes the query holds (approximately)
	reserved int64 // bytes taken from the pool, >= held
}

func (r *reservation) grow(n int64) error {
	r.held += n
	if r.held <= r.reserved || r.pool.limit <= 0 {
		return nil
	}
	take := max(r.held-r.reserved, min(poolChunk, r.pool.limit/16))
	if used := r.pool.used.Add(take); used > r.pool.limit {
		r.pool.used.Add(-take)
		others := used - take - r.reserved
		return &ResourcesExhaustedError{Limit: r.pool.limit, Held: r.reserved, Others: others}
	}
	r.reserved += take
	memoryHeld.Add(float64(take))
	return nil
}

func (r *reservation) release() {
	r.pool.used.Add(-r.reserved)
	memoryHeld.Sub(float64(r.reserved))
	r.reserved, r.held = 0, 0
}

// ResourcesExhaustedError stops a query that would hold more than the memory pool has left.
type ResourcesExhaustedError struct {
	Limit  int64 // the pool's size
	Held   int64 // what this query held when it was stopped
	Others int64 // what the other running queries held then
}

func (e *ResourcesExhaustedError) Error() string {
	msg := fmt.Sprintf("Resources exhausted: the query needs more than the %s of memory that SQL queries may hold (admin.query-engine.memory-size); it held %s when stopped",
		formatBytes(e.Limit), formatBytes(e.Held))
	if e.Others > 0 {
		msg += fmt.Sprintf(" and other running queries %s", formatBytes(e.Others))
	}
	return msg + ". Narrow it with a WHERE clause or a LIMIT, avoid cross joins, or raise the setting"
}

// HTTPStatus is what Restate answers for a query that ran out of memory.
func (e *ResourcesExhaustedError) HTTPStatus() int { return http.StatusInternalServerError }

// TimeoutError stops a query that ran longer than admin.query-engine.query-timeout.
type TimeoutError struct{ Timeout time.Duration }

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("the query ran longer than %s (admin.query-engine.query-timeout) and was stopped; narrow it with a WHERE clause or a LIMIT, or raise the setting", e.Timeout)
}

// HTTPStatus is 504: the answer did not come in time, as a gateway says for a deadline.
func (e *TimeoutError) HTTPStatus() int { return http.StatusGatewayTimeout }

// Is lets callers test for a timeout with errors.Is(err, context.DeadlineExceeded).
func (e *TimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// checkEvery is how many row steps pass between two looks at the context: often enough to
// stop within milliseconds, rarely enough to cost nothing measurable.
const checkEvery = 1024

// step is called once per row in every loop over rows; it reports the context's end.
func (x *execution) step() error {
	x.steps++
	if x.steps%checkEvery != 0 {
		return nil
	}
	return x.ctx.Err()
}

// hold accounts n more bytes held by the query, and reports the context's end like step.
func (x *execution) hold(n int64) error {
	if err := x.mem.grow(n); err != nil {
		return err
	}
	return x.step()
}

// holdRow accounts one row the query keeps.
func (x *execution) holdRow(r Row) error { return x.hold(sizeOfRow(r)) }

// sizeOfRow approximates the memory of a row: its header, its values and their text.
func sizeOfRow(r Row) int64 {
	n := rowBytes + int64(len(r))*valueBytes
	for i := range r {
		n += int64(len(r[i].s))
	}
	return n
}

// sizeOfValues approximates the memory of a slice of values.
func sizeOfValues(vs []Value) int64 { return sizeOfRow(vs) }

// sortCancel makes a sort's comparison function stop cheaply once the query's context ends:
// every comparison after that reports "not less", so the sort finishes at once and the caller
// returns the context's error.
type sortCancel struct {
	x     *execution
	n     int
	ended bool
}

func (s *sortCancel) stopped() bool {
	if s.ended {
		return true
	}
	s.n++
	if s.n%checkEvery == 0 && s.x.ctx.Err() != nil {
		s.ended = true
	}
	return s.ended
}

func (s *sortCancel) err() error {
	if s.ended {
		return s.x.ctx.Err()
	}
	return nil
}

// errQueryTimeout is the cause of a query context that ended at its timeout.
var errQueryTimeout = errors.New("query timeout")

// queryContext applies the engine's timeout to ctx.
func (e *Engine) queryContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if e.limits.Timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, e.limits.Timeout, errQueryTimeout)
}

// explain turns the error of a query whose context ended at its timeout into a TimeoutError.
func (e *Engine) explain(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && errors.Is(context.Cause(ctx), errQueryTimeout) {
		return &TimeoutError{Timeout: e.limits.Timeout}
	}
	return err
}
