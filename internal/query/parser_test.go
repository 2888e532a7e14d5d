package query

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAcceptsCLIQueries(t *testing.T) {
	queries := []string{
		"SELECT id, status FROM sys_invocation WHERE id = 'inv_1'",
		"select service_key, service_name, value_utf8 from state where key = 'counter'",
		"SELECT index, entry_type FROM sys_journal WHERE id = 'x' ORDER BY index DESC LIMIT 100",
		`SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'sys_invocation' AND column_name IN ('a', 'b')`,
		"SELECT COUNT(1) FROM (SELECT * FROM sys_invocation inv LIMIT 50000) WHERE status != 'completed'",
		"SELECT target_service_name, 'pending' as status, COUNT(1) as n, FIRST_VALUE(id ORDER BY created_at ASC) as oldest FROM sys_invocation_status WHERE status == 'inboxed' AND target_service_name IN ('A','B') GROUP BY target_service_name",
		"WITH invocations as (SELECT inv.id FROM sys_invocation inv ORDER BY inv.created_at DESC, inv.id LIMIT 5) SELECT inv.*, dp.id IS NOT NULL as e FROM sys_deployment dp RIGHT JOIN invocations inv ON dp.id = inv.pinned_deployment_id",
		"SELECT *, COUNT(*) OVER() AS full_count, row_number() over () as row, max(row) over () from t",
		"SELECT x FROM t WHERE inv.target_service_name IN (select name from sys_service where ty = 'virtual_object') AND (a IS NOT NULL AND b NOT IN (select id from d))",
		"SELECT CAST(NULL as STRING) AS a, CAST(1 as INT UNSIGNED) AS v, CAST(NULL as TIMESTAMP) AS t, x::bigint FROM t;",
		`SELECT "Quoted Col", t."x" FROM "my table" AS t WHERE a LIKE 'x%' AND b NOT ILIKE '%y' AND c BETWEEN 1 AND 2`,
		"SELECT CASE WHEN a > 1 THEN 'big' ELSE 'small' END, CASE a WHEN 1 THEN 'one' END FROM t -- comment",
		"SELECT a FROM t /* block */ UNION ALL SELECT b FROM u EXCEPT SELECT c FROM v ORDER BY 1 LIMIT 3 OFFSET 1",
		"SELECT -1, +2, 1.5e3, 18446744073709551615, NOT a, a || 'b', a % 2 FROM t",
		"SHOW TABLES", "DESCRIBE sys_invocation", "SHOW COLUMNS FROM state",
		"SELECT a FROM t ORDER BY a DESC NULLS LAST, b ASC NULLS FIRST",
		"SELECT EXISTS (SELECT 1), NOT EXISTS (SELECT 1 FROM t), (SELECT max(a) FROM t)",
		"SELECT a FROM t1 JOIN t2 ON t1.x = t2.y LEFT OUTER JOIN t3 ON t3.z = t1.x CROSS JOIN t4, t5",
	}
	for _, q := range queries {
		if _, err := Parse(q); err != nil {
			t.Errorf("Parse(%q): %v", q, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		query string
		pos   int // 1-based position the error names
		want  string
	}{
		{"SELEC id FROM t", 1, "expected SELECT"},
		{"SELECT id FROM", 15, "table name"},
		{"SELECT id FROM t WHERE", 23, "expected an expression"},
		{"SELECT 'abc FROM t", 8, "unterminated string"},
		{"SELECT a FROM t WHERE a IN (1, 2", 33, "expected ')'"},
		{"SELECT a FROM t t2 t3", 20, "expected end of query"},
		{"SELECT a FROM t\nWHERE a = #", 27, "unexpected character"},
		{"SELECT CAST(a AS widget) FROM t", 18, "unsupported type"},
		{"SELECT a FROM t ORDER BY a NULLS MIDDLE", 34, "FIRST or LAST"},
		{"SELECT a FROM t WHERE b IS 3", 28, "after IS"},
		{"SELECT \"\" FROM t", 8, "empty quoted identifier"},
		{"WITH RECURSIVE x AS (SELECT 1) SELECT * FROM x", 6, "recursive"},
		{"SELECT " + strings.Repeat("(", 500) + "1" + strings.Repeat(")", 500), 0, "nested too deeply"},
	}
	for _, c := range cases {
		_, err := Parse(c.query)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want a syntax error", c.query, err)
			continue
		}
		if !strings.Contains(se.Error(), c.want) || c.pos > 0 && se.Pos != c.pos {
			t.Errorf("Parse(%q) error %q, want position %d and %q", c.query, se.Error(), c.pos, c.want)
		}
	}
}

func TestSyntaxErrorLineAndColumn(t *testing.T) {
	_, err := Parse("SELECT a\nFROM t\nWHERE a = = 1")
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 3 || se.Column != 11 {
		t.Fatalf("error = %v, want line 3 column 11", err)
	}
}

func TestParseStructure(t *testing.T) {
	q, err := Parse("SELECT a AS x, t.* FROM tab t LEFT JOIN u ON u.k = t.k WHERE a = 1 OR NOT b AND c GROUP BY a HAVING count(*) > 1 ORDER BY x DESC LIMIT 10 OFFSET 5")
	if err != nil {
		t.Fatal(err)
	}
	s := q.Body.(*Select)
	if len(s.Items) != 2 || s.Items[0].Alias != "x" || !s.Items[1].Star || s.Items[1].StarQual != "t" {
		t.Fatalf("items = %+v", s.Items)
	}
	j, ok := s.From.(*Join)
	if !ok || j.Kind != "left" || j.Left.(*TableRef).Alias != "t" {
		t.Fatalf("from = %+v", s.From)
	}
	// AND binds tighter than OR, NOT tighter than AND.
	or, ok := s.Where.(*Binary)
	if !ok || or.Op != "or" {
		t.Fatalf("where = %s", exprName(s.Where))
	}
	if and, ok := or.R.(*Binary); !ok || and.Op != "and" {
		t.Fatalf("right of OR = %s", exprName(or.R))
	} else if _, ok := and.L.(*Unary); !ok {
		t.Fatalf("NOT b should be the left of AND: %s", exprName(and))
	}
	if len(q.OrderBy) != 1 || !q.OrderBy[0].Desc || q.Limit == nil || q.Offset == nil {
		t.Fatalf("order/limit = %+v %v %v", q.OrderBy, q.Limit, q.Offset)
	}
}

func TestKeywordsAreCaseInsensitive(t *testing.T) {
	q, err := Parse("sElEcT ID fRoM Sys_Invocation wHeRe Id = 'X'")
	if err != nil {
		t.Fatal(err)
	}
	s := q.Body.(*Select)
	if s.From.(*TableRef).Name != "sys_invocation" || s.Items[0].Expr.(*ColumnRef).Name != "id" {
		t.Fatalf("unquoted identifiers must fold to lower case: %+v", s)
	}
	if lit := s.Where.(*Binary).R.(*Literal); lit.Val.Str() != "X" {
		t.Fatalf("string literals keep their case: %q", lit.Val.Str())
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"SELECT id, status FROM sys_invocation WHERE id = 'inv_1'",
		"WITH a AS (SELECT 1) SELECT * FROM a LEFT JOIN b ON a.x = b.y ORDER BY 1 DESC LIMIT 2",
		"SELECT count(*) OVER (PARTITION BY a ORDER BY b), first_value(x ORDER BY y) FROM t GROUP BY a",
		"SELECT CAST(x AS INT UNSIGNED), x::text, 'it''s', \"q\"\"id\" FROM t WHERE a NOT IN (SELECT 1)",
		"SHOW TABLES", "/* c */ SELECT -- d\n 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		q, err := Parse(sql)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse returned a non-syntax error: %v", err)
			}
			return
		}
		// Whatever parses must also plan and run without panicking.
		_, _ = NewEngine(testTables()...).Query(t.Context(), sql)
		_ = q
	})
}
