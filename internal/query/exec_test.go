package query

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

// countingTable records how it was scanned.
type countingTable struct {
	StaticTable
	scans    atomic.Int32
	filtered atomic.Int32
	lastEq   []Equality
	emitted  atomic.Int32
}

func (t *countingTable) Scan(ctx context.Context, emit func(Row) bool) error {
	t.scans.Add(1)
	return t.StaticTable.Scan(ctx, func(r Row) bool { t.emitted.Add(1); return emit(r) })
}

func (t *countingTable) ScanFiltered(ctx context.Context, filters []Equality, emit func(Row) bool) error {
	t.filtered.Add(1)
	t.lastEq = filters
	ids, ok := Lookup(filters, "id")
	if !ok {
		return t.Scan(ctx, emit)
	}
	for _, r := range t.Rows {
		if MatchesAny(r[0], ids) {
			t.emitted.Add(1)
			if !emit(r) {
				return nil
			}
		}
	}
	return nil
}

func testTables() []Table {
	inv := &countingTable{StaticTable: StaticTable{TableName: "inv", Cols: []Column{
		{"id", TypeString}, {"svc", TypeString}, {"status", TypeString}, {"created", TypeTimestamp},
		{"retries", TypeUInt64}, {"size", TypeUInt32}, {"dep", TypeString},
	}, Rows: []Row{
		{String("i1"), String("A"), String("running"), Timestamp(3000), Uint(0), Uint32(2), String("d1")},
		{String("i2"), String("A"), String("completed"), Timestamp(1000), Uint(4), Uint32(5), String("d2")},
		{String("i3"), String("B"), String("pending"), Timestamp(2000), Null, Uint32(1), Null},
		{String("i4"), String("B"), String("running"), Timestamp(4000), Uint(1), Uint32(3), String("gone")},
	}}}
	dep := &StaticTable{TableName: "dep", Cols: []Column{{"id", TypeString}, {"created", TypeTimestamp}}, Rows: []Row{
		{String("d1"), Timestamp(10)}, {String("d2"), Timestamp(20)},
	}}
	kv := &StaticTable{TableName: "kv", Cols: []Column{{"k", TypeString}, {"v", TypeBytes}, {"f", TypeFloat64}, {"ok", TypeBool}}, Rows: []Row{
		{String("a"), Bytes([]byte{1, 2}), Float(1.5), Bool(true)},
		{String("b"), Null, Float(-2), Bool(false)},
	}}
	return []Table{inv, dep, kv}
}

// run executes sql and renders the rows as "v1|v2;..." for compact assertions.
func run(t *testing.T, e *Engine, sql string) string {
	t.Helper()
	res, err := e.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var rows []string
	for _, r := range res.Rows {
		parts := make([]string, len(r))
		for i, v := range r {
			parts[i] = v.String()
		}
		rows = append(rows, strings.Join(parts, "|"))
	}
	return strings.Join(rows, ";")
}

func TestExecutor(t *testing.T) {
	e := NewEngine(testTables()...)
	cases := []struct{ sql, want string }{
		{"SELECT id FROM inv WHERE status = 'running' ORDER BY id", "i1;i4"},
		{"SELECT id FROM inv WHERE status <> 'running' AND svc = 'A'", "i2"},
		{"SELECT id FROM inv WHERE status == 'pending' OR retries > 3 ORDER BY id", "i2;i3"},
		{"SELECT id FROM inv WHERE NOT (svc = 'A') ORDER BY id DESC", "i4;i3"},
		{"SELECT id FROM inv WHERE retries IS NULL", "i3"},
		{"SELECT id FROM inv WHERE retries IS NOT NULL AND retries >= 1 ORDER BY id", "i2;i4"},
		{"SELECT id FROM inv WHERE id IN ('i2', 'i4', 'zz') ORDER BY id", "i2;i4"},
		{"SELECT id FROM inv WHERE id NOT IN ('i2', 'i4') ORDER BY id", "i1;i3"},
		{"SELECT id FROM inv WHERE status LIKE 'run%' AND id NOT LIKE '%4'", "i1"},
		{"SELECT id FROM inv WHERE status ILIKE 'RUN_ING' ORDER BY 1", "i1;i4"},
		{"SELECT id FROM inv WHERE size BETWEEN 2 AND 3 ORDER BY id", "i1;i4"},
		{"SELECT id FROM inv WHERE created > '1970-01-01T00:00:02.5Z' ORDER BY created", "i1;i4"},
		{"SELECT id AS x, svc FROM inv ORDER BY x LIMIT 2 OFFSET 1", "i2|A;i3|B"},
		{"SELECT COUNT(*), COUNT(retries), COUNT(DISTINCT svc), SUM(retries), MIN(created), MAX(id) FROM inv",
			"4|3|2|5|1970-01-01T00:00:01Z|i4"},
		{"SELECT svc, COUNT(id) AS n, SUM(size) FROM inv GROUP BY svc ORDER BY n DESC, svc", "A|2|7;B|2|4"},
		{"SELECT svc, FIRST_VALUE(id ORDER BY created ASC), LAST_VALUE(id ORDER BY created) FROM inv GROUP BY svc ORDER BY svc", "A|i2|i1;B|i3|i4"},
		{"SELECT svc, COUNT(*) FROM inv GROUP BY svc HAVING COUNT(*) > 1 ORDER BY COUNT(*) DESC, svc", "A|2;B|2"},
		{"SELECT svc, status, COUNT(1) FROM inv WHERE svc IN ('B') GROUP BY svc, status ORDER BY status", "B|pending|1;B|running|1"},
		{"SELECT COUNT(*) FROM inv WHERE id = 'nope'", "0"},
		{"SELECT MAX(id) FROM inv WHERE id = 'nope'", "NULL"},
		{"SELECT 'pending' AS s, 0 AS n, id FROM inv WHERE id = 'i3'", "pending|0|i3"},
		{"SELECT DISTINCT svc FROM inv ORDER BY svc DESC", "B;A"},
		{"SELECT inv.id, dep.created FROM inv JOIN dep ON dep.id = inv.dep ORDER BY inv.id", "i1|1970-01-01T00:00:00.010Z;i2|1970-01-01T00:00:00.020Z"},
		{"SELECT i.id, d.id IS NOT NULL FROM inv i LEFT JOIN dep d ON d.id = i.dep ORDER BY i.id", "i1|true;i2|true;i3|false;i4|false"},
		{"SELECT i.id FROM dep d RIGHT JOIN inv i ON d.id = i.dep WHERE d.id IS NULL ORDER BY i.id", "i3;i4"},
		{"SELECT COUNT(*) FROM inv CROSS JOIN dep", "8"},
		{"WITH r AS (SELECT id, created FROM inv WHERE status = 'running') SELECT r.id FROM r ORDER BY r.created DESC", "i4;i1"},
		{"WITH a AS (SELECT id FROM inv), b AS (SELECT id FROM a WHERE id > 'i2') SELECT COUNT(*) FROM b", "2"},
		{"SELECT COUNT(1) FROM (SELECT * FROM inv x LIMIT 3) WHERE x.svc = 'A'", "2"},
		{"SELECT q.n FROM (SELECT COUNT(*) AS n FROM inv) AS q", "4"},
		{"SELECT id FROM inv WHERE dep IN (SELECT id FROM dep) ORDER BY id", "i1;i2"},
		{"SELECT id FROM inv WHERE dep IS NOT NULL AND dep NOT IN (SELECT id FROM dep)", "i4"},
		{"SELECT id, row_number() OVER (ORDER BY created) AS rn, COUNT(*) OVER () AS total FROM inv ORDER BY id", "i1|3|4;i2|1|4;i3|2|4;i4|4|4"},
		{"SELECT id, SUM(size) OVER (PARTITION BY svc) FROM inv ORDER BY id", "i1|7;i2|7;i3|4;i4|4"},
		{"SELECT id, rank() OVER (PARTITION BY svc ORDER BY status) FROM inv ORDER BY id", "i1|2;i2|1;i3|1;i4|2"},
		{"SELECT svc, COUNT(*) OVER () FROM inv GROUP BY svc ORDER BY svc", "A|2;B|2"},
		{"SELECT CASE WHEN size > 2 THEN 'big' ELSE 'small' END, CASE svc WHEN 'A' THEN 1 END FROM inv WHERE id IN ('i1','i3') ORDER BY id", "small|1;small|NULL"},
		{"SELECT CAST(size AS STRING) || '!', CAST('42' AS BIGINT) + 1, size * 2, size / 2, 7 % 4, -size FROM inv WHERE id = 'i2'", "5!|43|10|2|3|-5"},
		{"SELECT lower(svc), upper(id), length(status), coalesce(retries, 99), concat(id, '-', svc), substr(status, 2, 3) FROM inv WHERE id = 'i3'", "b|I3|7|99|i3-B|end"},
		{"SELECT k, v, f, ok FROM kv ORDER BY f", "b|NULL|-2|false;a|0102|1.5|true"},
		{"SELECT id FROM inv ORDER BY retries NULLS FIRST, id", "i3;i1;i4;i2"},
		{"SELECT id FROM inv ORDER BY retries DESC", "i3;i2;i4;i1"},
		{"SELECT svc FROM inv UNION SELECT id FROM dep ORDER BY 1", "A;B;d1;d2"},
		{"SELECT svc FROM inv UNION ALL SELECT svc FROM inv", "A;A;B;B;A;A;B;B"},
		{"SELECT id FROM inv EXCEPT SELECT id FROM inv WHERE svc = 'A' ORDER BY id", "i3;i4"},
		{"SELECT 1 + 1, 'x', NULL IS NULL, EXISTS (SELECT 1 FROM inv WHERE id = 'i9')", "2|x|true|false"},
		{"SELECT (SELECT MAX(created) FROM inv) = created FROM inv WHERE id = 'i4'", "true"},
		{"SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name", "dep;inv;kv"},
		{"SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'inv' AND column_name IN ('id', 'svc', 'nope')", "2"},
		{"SHOW COLUMNS FROM kv", "k|Utf8|YES;v|Binary|YES;f|Float64|YES;ok|Boolean|YES"},
		{"SELECT \"id\" FROM \"inv\" WHERE \"svc\" = 'B' ORDER BY \"id\";", "i3;i4"},
		{"SELECT id FROM inv WHERE retries = '4'", "i2"},
	}
	for _, c := range cases {
		if got := run(t, e, c.sql); got != c.want {
			t.Errorf("%s\n got %s\nwant %s", c.sql, got, c.want)
		}
	}
}

func TestOutputColumns(t *testing.T) {
	e := NewEngine(testTables()...)
	res, err := e.Query(context.Background(), "SELECT svc, COUNT(*), COUNT(id), SUM(retries), MIN(created), 1 AS one, CAST(NULL AS STRING) AS s FROM inv GROUP BY svc")
	if err != nil {
		t.Fatal(err)
	}
	want := []Column{{"svc", TypeString}, {"count(*)", TypeInt64}, {"count(inv.id)", TypeInt64}, {"sum(inv.retries)", TypeUInt64},
		{"min(inv.created)", TypeTimestamp}, {"one", TypeInt64}, {"s", TypeString}}
	if len(res.Columns) != len(want) {
		t.Fatalf("columns = %+v", res.Columns)
	}
	for i, c := range want {
		if res.Columns[i] != c {
			t.Errorf("column %d = %+v, want %+v", i, res.Columns[i], c)
		}
	}
}

func TestQueryErrors(t *testing.T) {
	e := NewEngine(testTables()...)
	cases := []struct{ sql, want string }{
		{"SELECT id FROM nope", `unknown table "nope"`},
		{"SELECT nope FROM inv", `unknown column "nope"`},
		{"SELECT x.id FROM inv", `unknown table or alias "x"`},
		{"SELECT id FROM inv JOIN dep ON inv.dep = dep.id", `ambiguous reference to column "id"`},
		{"SELECT svc, id FROM inv GROUP BY svc", `column "id" must appear in the GROUP BY clause`},
		{"SELECT id FROM inv WHERE COUNT(*) > 1", "aggregate function count is not allowed here"},
		{"SELECT id FROM inv WHERE size", "WHERE clause must be a boolean expression"},
		{"SELECT id FROM inv WHERE size = 'abc'", "does not convert to UInt32"},
		{"SELECT nosuch(id) FROM inv", "unknown function nosuch"},
		{"SELECT id FROM inv ORDER BY 9", "ORDER BY position 9 is not in select list"},
		{"SELECT id FROM inv LIMIT -1", "LIMIT must be a non-negative integer"},
		{"SELECT id FROM inv WHERE id IN (SELECT id, svc FROM inv)", "subquery must return exactly one column"},
		{"SELECT (SELECT id FROM inv)", "scalar subquery returned 4 rows"},
		{"SELECT 1/0", "division by zero"},
		{"SELECT CAST('x' AS INT)", `cannot cast Utf8 value "x" to Int64`},
		{"SELECT id FROM inv UNION SELECT id, svc FROM inv", "same number of columns"},
		{"SELECT DISTINCT svc FROM inv ORDER BY id", "ORDER BY expressions must appear in the select list"},
		{"SELECT row_number() FROM inv", "row_number needs an OVER clause"},
	}
	for _, c := range cases {
		_, err := e.Query(context.Background(), c.sql)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.sql, err, c.want)
			continue
		}
		var qe *QueryError
		if !errors.As(err, &qe) || !IsUserError(err) {
			t.Errorf("%s: %T is not a user error", c.sql, err)
		}
	}
}

func TestEqualityPushdown(t *testing.T) {
	tables := testTables()
	inv := tables[0].(*countingTable)
	e := NewEngine(tables...)
	if got := run(t, e, "SELECT status FROM inv WHERE id = 'i3' AND svc = 'B'"); got != "pending" {
		t.Fatalf("got %s", got)
	}
	if inv.filtered.Load() != 1 || inv.scans.Load() != 0 || inv.emitted.Load() != 1 {
		t.Fatalf("WHERE id = ... must use the filtered scan: filtered=%d scans=%d emitted=%d", inv.filtered.Load(), inv.scans.Load(), inv.emitted.Load())
	}
	if len(inv.lastEq) != 2 || inv.lastEq[0].Column != "id" || inv.lastEq[1].Column != "svc" {
		t.Fatalf("filters = %+v", inv.lastEq)
	}
	// Qualified references reach the aliased table through a join; terms under OR do not.
	run(t, e, "SELECT i.id FROM inv i LEFT JOIN dep d ON d.id = i.dep WHERE i.id IN ('i1', 'i2') AND (i.svc = 'A' OR d.id = 'd1')")
	if ids, ok := Lookup(inv.lastEq, "id"); !ok || len(ids) != 2 || len(inv.lastEq) != 1 {
		t.Fatalf("join filters = %+v", inv.lastEq)
	}
	// A table the table itself cannot narrow is still filtered by the engine.
	if got := run(t, e, "SELECT id FROM inv WHERE svc = 'A' AND id = 'i1'"); got != "i1" {
		t.Fatalf("got %s", got)
	}
}

func TestLimitStopsScan(t *testing.T) {
	tables := testTables()
	inv := tables[0].(*countingTable)
	e := NewEngine(tables...)
	if got := run(t, e, "SELECT id FROM inv WHERE size > 1 LIMIT 2"); got != "i1;i2" {
		t.Fatalf("got %s", got)
	}
	if n := inv.emitted.Load(); n != 2 {
		t.Fatalf("scan emitted %d rows, want it stopped after 2", n)
	}
}

func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := NewEngine(testTables()...).Query(ctx, "SELECT * FROM inv")
	if !errors.Is(err, context.Canceled) || IsUserError(err) {
		t.Fatalf("err = %v", err)
	}
}
