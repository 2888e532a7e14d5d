package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restatego/restate/internal/partition"
	"github.com/restatego/restate/internal/schema"
)

// The query of the reliability report: three copies of information_schema.columns joined with
// each other, which took a server from 57 MB to 4.4 GB in 18 s.
const tripleCrossJoin = "SELECT * FROM information_schema.columns a, information_schema.columns b, information_schema.columns c"

// realTables are the tables of a server with no partitions: information_schema.columns then
// lists every column of the real tables, as on a fresh server.
func realTables() []Table {
	return EngineTables(Partitions{
		Count: func() uint16 { return 0 },
		Local: func() []*partition.Processor { return nil },
	}, func() *schema.Snapshot { return nil })
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// peakHeap samples the heap while f runs and returns the largest growth over base.
func peakHeap(f func()) (peak uint64) {
	base := heapAlloc()
	done := make(chan struct{})
	var wg sync.WaitGroup
	var top atomic.Uint64
	wg.Go(func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > base && m.HeapAlloc-base > top.Load() {
				top.Store(m.HeapAlloc - base)
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	return top.Load()
}

func TestCrossJoinStopsAtMemoryBudget(t *testing.T) {
	e := NewEngine(realTables()...)
	res, err := e.Query(t.Context(), "SELECT count(*) FROM information_schema.columns")
	if err != nil {
		t.Fatal(err)
	}
	n := res.Rows[0][0].AsInt()
	t.Logf("information_schema.columns has %d rows: the join would make %d", n, n*n*n)

	var qerr error
	start := time.Now()
	peak := peakHeap(func() { _, qerr = e.Query(t.Context(), tripleCrossJoin) })
	took := time.Since(start)
	t.Logf("stopped after %v, heap grew by at most %d MiB", took, peak>>20)

	var re *ResourcesExhaustedError
	if !errors.As(qerr, &re) {
		t.Fatalf("err = %v, want the memory budget's error", qerr)
	}
	if re.Limit != DefaultMemoryBytes || re.HTTPStatus() != http.StatusInternalServerError {
		t.Errorf("limit %d status %d", re.Limit, re.HTTPStatus())
	}
	for _, want := range []string{"Resources exhausted", "admin.query-engine.memory-size", "256 MiB"} {
		if !strings.Contains(qerr.Error(), want) {
			t.Errorf("message %q lacks %q", qerr, want)
		}
	}
	// The budget counts what the query holds, so the heap stays near it: well below the
	// gigabytes the join would take.
	if peak > 2*DefaultMemoryBytes {
		t.Errorf("heap grew by %d MiB, want at most %d MiB", peak>>20, 2*DefaultMemoryBytes>>20)
	}
	if took > 20*time.Second {
		t.Errorf("took %v to stop", took)
	}
	// The pool is whole again: a normal query still runs, and the next one fails the same way.
	if e.pool.used.Load() != 0 {
		t.Errorf("pool still holds %d bytes", e.pool.used.Load())
	}
	if _, err := e.Query(t.Context(), "SELECT table_name FROM information_schema.tables"); err != nil {
		t.Fatal(err)
	}
}

func TestSmallBudgetFailsEarly(t *testing.T) {
	e := NewEngineWithLimits(Limits{MemoryBytes: 1 << 20}, realTables()...)
	start := time.Now()
	_, err := e.Query(t.Context(), "SELECT a.column_name, b.column_name FROM information_schema.columns a CROSS JOIN information_schema.columns b ORDER BY 1, 2")
	var re *ResourcesExhaustedError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "1 MiB") {
		t.Errorf("message %q does not name the 1 MiB budget", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v", took)
	}
	// The same budget is plenty for what the restate CLI asks.
	for _, q := range []string{
		"SELECT table_name, column_name FROM information_schema.columns WHERE table_name = 'sys_invocation'",
		"SELECT * FROM information_schema.columns ORDER BY table_name, ordinal_position",
		"SELECT table_name, count(*) FROM information_schema.columns GROUP BY table_name ORDER BY 2 DESC",
	} {
		if _, err := e.Query(t.Context(), q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

// Every operator that keeps rows draws from the budget: each query here holds far more than
// 64 KiB, and each must stop with the budget's error rather than finish.
func TestEveryOperatorIsAccounted(t *testing.T) {
	e := NewEngineWithLimits(Limits{MemoryBytes: 64 << 10}, realTables()...)
	for _, q := range []string{
		"SELECT * FROM information_schema.columns a JOIN information_schema.columns b ON a.data_type = b.data_type",
		"SELECT * FROM information_schema.columns a LEFT JOIN information_schema.columns b ON a.table_name = b.table_name",
		"SELECT DISTINCT a.column_name, b.column_name FROM information_schema.columns a, information_schema.columns b WHERE a.table_name = 'sys_journal'",
		"SELECT a.column_name || b.column_name AS k, count(*) FROM information_schema.columns a, information_schema.columns b GROUP BY k",
		"SELECT count(DISTINCT a.column_name || b.column_name) FROM information_schema.columns a, information_schema.columns b",
		"SELECT row_number() OVER (ORDER BY a.column_name, b.column_name) FROM information_schema.columns a, information_schema.columns b",
		"SELECT column_name FROM information_schema.columns UNION SELECT column_name || 'x' FROM information_schema.columns UNION SELECT table_name FROM information_schema.columns",
		"WITH c AS (SELECT * FROM information_schema.columns) SELECT * FROM c a, c b",
	} {
		_, err := e.Query(t.Context(), q)
		var re *ResourcesExhaustedError
		if !errors.As(err, &re) {
			t.Errorf("%s: err = %v, want the budget's error", q, err)
		}
		if e.pool.used.Load() != 0 {
			t.Errorf("%s: pool still holds %d bytes after the query", q, e.pool.used.Load())
		}
	}
}

// The pool is shared: queries running at once together stay within it.
func TestPoolIsShared(t *testing.T) {
	e := NewEngineWithLimits(Limits{MemoryBytes: 8 << 20}, realTables()...)
	first := &reservation{pool: e.pool}
	if err := first.grow(7 << 20); err != nil {
		t.Fatal(err)
	}
	_, err := e.Query(t.Context(), "SELECT a.column_name, b.column_name FROM information_schema.columns a, information_schema.columns b")
	var re *ResourcesExhaustedError
	if !errors.As(err, &re) || re.Others < 7<<20 || !strings.Contains(err.Error(), "other running queries") {
		t.Fatalf("err = %v, want the budget's error naming the other query's share", err)
	}
	first.release()
	if _, err := e.Query(t.Context(), "SELECT a.column_name, b.column_name FROM information_schema.columns a, information_schema.columns b WHERE a.table_name = 'sys_service'"); err != nil {
		t.Fatal(err)
	}
}

// endlessTable emits rows forever and never looks at the context: only the engine's own
// checks between rows can stop a query over it.
type endlessTable struct{ emitted atomic.Int64 }

func (t *endlessTable) Name() string      { return "endless" }
func (t *endlessTable) Columns() []Column { return []Column{{"n", TypeInt64}} }
func (t *endlessTable) Scan(ctx context.Context, emit func(Row) bool) error {
	for i := int64(0); ; i++ {
		// Deliberately no look at ctx here: the engine's own checks must stop the scan.
		t.emitted.Add(1)
		if !emit(Row{Int(i % 1000)}) {
			return nil
		}
	}
}

func TestTimeoutStopsQuery(t *testing.T) {
	tbl := &endlessTable{}
	e := NewEngineWithLimits(Limits{Timeout: 200 * time.Millisecond}, tbl)
	start := time.Now()
	_, err := e.Query(t.Context(), "SELECT n, count(*) FROM endless GROUP BY n")
	took := time.Since(start)
	var te *TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if te.HTTPStatus() != http.StatusGatewayTimeout || !strings.Contains(err.Error(), "admin.query-engine.query-timeout") || !strings.Contains(err.Error(), "200ms") {
		t.Errorf("status %d message %q", te.HTTPStatus(), err)
	}
	if took < 200*time.Millisecond || took > 2*time.Second {
		t.Errorf("stopped after %v, want soon after 200ms", took)
	}
}

func TestTimeoutStopsCrossJoinWork(t *testing.T) {
	// Unbounded memory, so only the timeout can stop this one.
	e := NewEngineWithLimits(Limits{Timeout: 300 * time.Millisecond}, realTables()...)
	start := time.Now()
	_, err := e.Query(t.Context(), "SELECT count(*) FROM (SELECT a.column_name FROM information_schema.columns a, information_schema.columns b, information_schema.columns c WHERE a.ordinal_position + b.ordinal_position = c.ordinal_position + 1000)")
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("stopped after %v", took)
	}
}

func TestCancelStopsPromptly(t *testing.T) {
	queries := map[string]string{
		"scan and group": "SELECT n, count(*) FROM endless GROUP BY n",
		"scan and sort":  "SELECT n FROM endless ORDER BY n",
	}
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			tbl := &endlessTable{}
			e := NewEngineWithLimits(Limits{}, tbl)
			ctx, cancel := context.WithCancel(t.Context())
			errc := make(chan error, 1)
			go func() {
				_, err := e.Query(ctx, q)
				errc <- err
			}()
			deadline := time.Now().Add(5 * time.Second)
			for tbl.emitted.Load() < 100_000 && time.Now().Before(deadline) {
				runtime.Gosched()
			}
			cancel()
			cancelled := time.Now()
			select {
			case err := <-errc:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("err = %v", err)
				}
				t.Logf("stopped %v after the cancellation", time.Since(cancelled))
			case <-time.After(2 * time.Second):
				t.Fatal("query still running 2s after its context was cancelled")
			}
		})
	}
}

// The sort itself (not only the loops around it) gives up once the context ends.
func TestCancelStopsSort(t *testing.T) {
	e := NewEngineWithLimits(Limits{}, realTables()...)
	x := &execution{engine: e, mem: &reservation{pool: e.pool}}
	ctx, cancel := context.WithCancel(t.Context())
	x.ctx = ctx
	rows := make([]Row, 200_000)
	for i := range rows {
		rows[i] = Row{Int(int64((i * 7919) % 200_000))}
	}
	key := columnAt(0, TypeInt64)
	cancel()
	start := time.Now()
	err := x.sortRows(rows, []*cexpr{key}, []OrderItem{{}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("cancelled sort took %v", took)
	}
}

func TestHandlerLimitErrors(t *testing.T) {
	cases := []struct {
		name   string
		limits Limits
		tables []Table
		query  string
		status int
		want   string
	}{
		{"memory", Limits{MemoryBytes: 1 << 20}, realTables(), tripleCrossJoin, 500, "query failed: Resources exhausted: the query needs more than the 1 MiB"},
		{"timeout", Limits{Timeout: 100 * time.Millisecond}, []Table{&endlessTable{}}, "SELECT n, count(*) FROM endless GROUP BY n", 504, "query failed: the query ran longer than 100ms (admin.query-engine.query-timeout)"},
	}
	for _, c := range cases {
		h := NewHandler(c.limits, c.tables...)
		req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(`{"query":`+jsonString(c.query)+`}`))
		req.Header.Set("Accept", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body struct{ Message string }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != c.status || !strings.HasPrefix(body.Message, c.want) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, rec.Code, rec.Body, c.status, c.want)
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// The restate CLI's heaviest queries read every invocation: with tens of thousands of them
// they still fit the default budget.
func TestCLIQueriesFitDefaults(t *testing.T) {
	const n = 40_000
	build := newRowBuilder(sysInvocationColumns)
	rows := make([]Row, n)
	for i := range rows {
		b := build()
		b.set("partition_key", Uint(uint64(i%24)))
		b.set("id", String(fmt.Sprintf("inv_1%026d", i)))
		b.set("status", String([]string{"running", "completed", "backing-off", "suspended"}[i%4]))
		b.set("target", String(fmt.Sprintf("Greeter/key-%d/greet", i%500)))
		b.set("target_service_name", String("Greeter"))
		b.set("target_service_key", String(fmt.Sprintf("key-%d", i%500)))
		b.set("target_handler_name", String("greet"))
		b.set("target_service_ty", String("virtual_object"))
		b.set("invoked_by", String("ingress"))
		b.set("created_at", Timestamp(int64(1_700_000_000_000+i)))
		b.set("modified_at", Timestamp(int64(1_700_000_000_000+i)))
		b.set("pinned_deployment_id", String("dp_14LlLp6rEXaZ0dU4mB7yWVb"))
		rows[i] = b.row
	}
	tables := []Table{
		&StaticTable{TableName: "sys_invocation", Cols: sysInvocationColumns, Rows: rows},
		&StaticTable{TableName: "sys_deployment", Cols: sysDeploymentColumns},
	}
	e := NewEngine(tables...)
	if e.limits != DefaultLimits {
		t.Fatalf("NewEngine limits = %+v", e.limits)
	}
	for _, q := range []string{
		// restate invocations list
		"WITH invocations as (SELECT inv.* FROM sys_invocation inv WHERE inv.status != 'completed' ORDER BY inv.created_at DESC, inv.id LIMIT 500) SELECT inv.*, dp.id IS NOT NULL as e FROM sys_deployment dp RIGHT JOIN invocations inv ON dp.id = inv.pinned_deployment_id",
		// its count
		"SELECT COUNT(1) AS total FROM (SELECT * FROM sys_invocation inv LIMIT 50000) WHERE status != 'completed'",
		// restate services status
		"SELECT target_service_name, status, COUNT(1) as n, FIRST_VALUE(id ORDER BY created_at ASC) as oldest FROM sys_invocation GROUP BY target_service_name, status",
		"SELECT * FROM sys_invocation ORDER BY modified_at DESC",
	} {
		if _, err := e.Query(t.Context(), q); err != nil {
			t.Errorf("%.60s...: %v", q, err)
		}
	}
}
