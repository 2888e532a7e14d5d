package query

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unsafe"
)

// QueryError is a query that parses but cannot run: an unknown table or column, a type
// mismatch, a misplaced aggregate.
type QueryError struct{ Message string }

func (e *QueryError) Error() string { return e.Message }

func queryErrorf(format string, args ...any) error {
	return &QueryError{Message: fmt.Sprintf(format, args...)}
}

// IsUserError reports whether err is the query's fault (syntax or planning) rather than the
// server's.
func IsUserError(err error) bool {
	var se *SyntaxError
	var qe *QueryError
	return errors.As(err, &se) || errors.As(err, &qe)
}

// field is one column of an intermediate result. Hidden fields (window results) have no name.
type field struct {
	qual string
	name string
	typ  Type
}

// Result is a query's answer.
type Result struct {
	Columns []Column
	Rows    []Row
}

type result struct {
	fields []field
	rows   []Row
}

func (r *result) public() *Result {
	cols := make([]Column, len(r.fields))
	for i, f := range r.fields {
		cols[i] = Column{Name: f.name, Type: f.typ}
	}
	return &Result{Columns: cols, Rows: r.rows}
}

// Engine runs SQL over a set of tables.
type Engine struct {
	tables map[string]Table
	info   map[string]Table
	limits Limits
	pool   *memoryPool
}

// NewEngine returns an engine over tables with DefaultLimits. Table names are matched
// case-sensitively after lower-casing unquoted identifiers, as DataFusion does.
func NewEngine(tables ...Table) *Engine {
	return NewEngineWithLimits(DefaultLimits, tables...)
}

// NewEngineWithLimits returns an engine over tables whose queries share limits.MemoryBytes
// and each run at most limits.Timeout.
func NewEngineWithLimits(limits Limits, tables ...Table) *Engine {
	e := &Engine{tables: make(map[string]Table, len(tables)), limits: limits, pool: &memoryPool{limit: limits.MemoryBytes}}
	for _, t := range tables {
		e.tables[t.Name()] = t
	}
	e.info = informationSchema(tables)
	return e
}

// Query parses and runs one SQL statement. It stops with a *ResourcesExhaustedError when the
// query would hold more memory than the pool has left, with a *TimeoutError after the
// engine's timeout, and with ctx's error when ctx ends first.
func (e *Engine) Query(ctx context.Context, sql string) (*Result, error) {
	var out *Result
	err := e.QueryThen(ctx, sql, func(res *Result) error {
		out = res
		return nil
	})
	return out, err
}

// QueryThen runs one SQL statement like Query and hands its result to use while the query
// still holds its share of the memory pool: encoding a large answer takes memory too, and
// the queries running meanwhile should not count on it.
func (e *Engine) QueryThen(ctx context.Context, sql string, use func(*Result) error) error {
	q, err := Parse(sql)
	if err != nil {
		return err
	}
	ctx, cancel := e.queryContext(ctx)
	defer cancel()
	x := &execution{ctx: ctx, engine: e, mem: &reservation{pool: e.pool}}
	queriesRunning.Inc()
	defer func() {
		x.mem.release()
		queriesRunning.Dec()
	}()
	res, err := x.runQuery(q, nil)
	if err == nil {
		// A scan that stopped at the context's end may not say so.
		err = ctx.Err()
	}
	if err != nil {
		err = e.explain(ctx, err)
		countStopped(err)
		return err
	}
	return use(res.public())
}

// execution is the state of one running statement.
type execution struct {
	ctx    context.Context
	engine *Engine
	mem    *reservation
	steps  uint64
}

// env holds the CTEs visible at a point of the query.
type env struct {
	ctes   map[string]*result
	parent *env
}

func (v *env) cte(name string) *result {
	for ; v != nil; v = v.parent {
		if r, ok := v.ctes[name]; ok {
			return r
		}
	}
	return nil
}

func (x *execution) runQuery(q *Query, outer *env) (*result, error) {
	if err := x.ctx.Err(); err != nil {
		return nil, err
	}
	ev := outer
	if len(q.With) > 0 {
		ev = &env{ctes: map[string]*result{}, parent: outer}
		for _, c := range q.With {
			if _, dup := ev.ctes[c.Name]; dup {
				return nil, queryErrorf("WITH query name %q specified more than once", c.Name)
			}
			r, err := x.runQuery(c.Query, ev)
			if err != nil {
				return nil, err
			}
			ev.ctes[c.Name] = r
		}
	}
	limit, offset, err := x.limits(q)
	if err != nil {
		return nil, err
	}
	if s, ok := q.Body.(*Select); ok {
		return x.runSelect(s, ev, q.OrderBy, limit, offset)
	}
	res, err := x.runSetExpr(q.Body, ev)
	if err != nil {
		return nil, err
	}
	if len(q.OrderBy) > 0 {
		sc := &scope{fields: res.fields, env: ev, x: x}
		sc.base = sc
		keys := make([]*cexpr, len(q.OrderBy))
		for i, o := range q.OrderBy {
			if keys[i], err = x.outputOrderKey(o.Expr, res.fields, sc); err != nil {
				return nil, err
			}
		}
		if err := x.sortRows(res.rows, keys, q.OrderBy); err != nil {
			return nil, err
		}
	}
	res.rows = applyLimit(res.rows, limit, offset)
	return res, nil
}

// limits evaluates LIMIT and OFFSET; limit is -1 when absent.
func (x *execution) limits(q *Query) (limit, offset int, err error) {
	limit = -1
	eval := func(e Expr, what string) (int, error) {
		c, err := x.compile(e, &scope{x: x})
		if err != nil {
			return 0, err
		}
		v, err := c.eval(nil)
		if err != nil {
			return 0, err
		}
		if v.IsNull() {
			return -1, nil
		}
		if !v.Type().integer() || v.AsInt() < 0 {
			return 0, queryErrorf("%s must be a non-negative integer, got %s", what, v)
		}
		return int(min(v.AsInt(), 1<<31)), nil
	}
	if q.Limit != nil {
		if limit, err = eval(q.Limit, "LIMIT"); err != nil {
			return 0, 0, err
		}
	}
	if q.Offset != nil {
		if offset, err = eval(q.Offset, "OFFSET"); err != nil {
			return 0, 0, err
		}
		offset = max(offset, 0)
	}
	return limit, offset, nil
}

func applyLimit(rows []Row, limit, offset int) []Row {
	if offset >= len(rows) {
		return rows[:0]
	}
	rows = rows[offset:]
	if limit >= 0 && limit < len(rows) {
		rows = rows[:limit]
	}
	return rows
}

func (x *execution) runSetExpr(s SetExpr, ev *env) (*result, error) {
	switch s := s.(type) {
	case *Select:
		return x.runSelect(s, ev, nil, -1, 0)
	case *Query:
		return x.runQuery(s, ev)
	case *SetOp:
		l, err := x.runSetExpr(s.L, ev)
		if err != nil {
			return nil, err
		}
		r, err := x.runSetExpr(s.R, ev)
		if err != nil {
			return nil, err
		}
		if len(l.fields) != len(r.fields) {
			return nil, queryErrorf("%s queries must have the same number of columns (%d and %d)", strings.ToUpper(s.Op), len(l.fields), len(r.fields))
		}
		fields := make([]field, len(l.fields))
		for i, f := range l.fields {
			fields[i] = field{name: f.name, typ: f.typ}
			if f.typ == TypeNull {
				fields[i].typ = r.fields[i].typ
			}
		}
		rows, err := x.combineRows(s.Op, s.All, l.rows, r.rows)
		if err != nil {
			return nil, err
		}
		return &result{fields: fields, rows: rows}, nil
	}
	return nil, queryErrorf("unsupported query body %T", s)
}

func rowKey(r Row) string {
	var b []byte
	for _, v := range r {
		b = groupKey(b, v)
		b = append(b, 0xff)
	}
	return string(b)
}

func (x *execution) combineRows(op string, all bool, l, r []Row) ([]Row, error) {
	switch op {
	case "union":
		if err := x.hold(int64(len(l)+len(r)) * rowBytes); err != nil {
			return nil, err
		}
		out := append(slices.Clone(l), r...)
		if all {
			return out, nil
		}
		return x.distinctRows(out)
	case "except", "intersect":
		counts := map[string]int{}
		for _, row := range r {
			k := rowKey(row)
			if err := x.hold(int64(len(k)) + mapEntryBytes); err != nil {
				return nil, err
			}
			counts[k]++
		}
		var out []Row
		seen := map[string]bool{}
		for _, row := range l {
			k := rowKey(row)
			if err := x.hold(int64(len(k)) + mapEntryBytes + rowBytes); err != nil {
				return nil, err
			}
			inRight := counts[k] > 0
			if all && inRight {
				counts[k]--
			}
			if inRight != (op == "intersect") {
				continue
			}
			if !all {
				if seen[k] {
					continue
				}
				seen[k] = true
			}
			out = append(out, row)
		}
		return out, nil
	}
	return l, nil
}

func (x *execution) distinctRows(rows []Row) ([]Row, error) {
	seen := make(map[string]bool, len(rows))
	out := rows[:0:0]
	for _, r := range rows {
		k := rowKey(r)
		if err := x.step(); err != nil {
			return nil, err
		}
		if !seen[k] {
			if err := x.hold(int64(len(k)) + mapEntryBytes + rowBytes); err != nil {
				return nil, err
			}
			seen[k] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// runSelect runs one SELECT block, with the ORDER BY and LIMIT of the query around it: ORDER BY
// may use columns the select list does not return.
func (x *execution) runSelect(s *Select, ev *env, orderBy []OrderItem, limit, offset int) (*result, error) {
	base := &scope{env: ev, x: x}
	base.base = base
	var rows []Row
	if s.From == nil {
		rows = []Row{{}}
	} else {
		var err error
		fast := s.Where != nil || limit >= 0
		if ref, ok := s.From.(*TableRef); ok && fast && x.simpleSelect(s, orderBy) {
			// One table, no grouping or ordering: filter while scanning and stop at the limit.
			stop := -1
			if limit >= 0 {
				stop = limit + offset
			}
			base.fields, rows, err = x.scanRef(ref, ev, equalities(s.Where), true, s.Where, stop)
		} else {
			base.fields, rows, err = x.from(s.From, ev, equalities(s.Where))
			if err == nil && s.Where != nil {
				rows, err = x.filter(rows, s.Where, base)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return x.finishSelect(s, base, rows, orderBy, limit, offset)
}

// simpleSelect reports whether the select can filter and limit during the scan.
func (x *execution) simpleSelect(s *Select, orderBy []OrderItem) bool {
	if s.Distinct || len(s.GroupBy) > 0 || s.Having != nil || len(orderBy) > 0 {
		return false
	}
	for _, it := range s.Items {
		if it.Expr != nil && (hasAggregate(it.Expr) || hasWindow(it.Expr)) {
			return false
		}
	}
	return true
}

func (x *execution) filter(rows []Row, where Expr, sc *scope) ([]Row, error) {
	pred, err := x.compile(where, sc)
	if err != nil {
		return nil, err
	}
	if err := expectBool(pred, "WHERE"); err != nil {
		return nil, err
	}
	out := rows[:0]
	for _, r := range rows {
		if err := x.step(); err != nil {
			return nil, err
		}
		v, err := pred.eval(r)
		if err != nil {
			return nil, err
		}
		if v.AsBool() {
			out = append(out, r)
		}
	}
	return out, nil
}

func expectBool(c *cexpr, clause string) error {
	if c.typ != TypeBool && c.typ != TypeNull {
		return queryErrorf("%s clause must be a boolean expression, not %s", clause, c.typ)
	}
	return nil
}

func (x *execution) finishSelect(s *Select, base *scope, rows []Row, orderBy []OrderItem, limit, offset int) (*result, error) {
	// Aggregation.
	cur := base
	grouped := len(s.GroupBy) > 0 || s.Having != nil
	for _, it := range s.Items {
		if it.Expr != nil && hasAggregate(it.Expr) {
			grouped = true
		}
	}
	for _, o := range orderBy {
		if hasAggregate(o.Expr) {
			grouped = true
		}
	}
	var err error
	if grouped {
		exprs := make([]Expr, 0, len(s.Items)+len(orderBy)+1)
		for _, it := range s.Items {
			if it.Star {
				return nil, queryErrorf("SELECT * is not allowed with GROUP BY or aggregate functions")
			}
			exprs = append(exprs, it.Expr)
		}
		if s.Having != nil {
			exprs = append(exprs, s.Having)
		}
		for _, o := range orderBy {
			exprs = append(exprs, o.Expr)
		}
		if cur, rows, err = x.aggregate(base, rows, s.GroupBy, exprs); err != nil {
			return nil, err
		}
		if s.Having != nil {
			if rows, err = x.filter(rows, s.Having, cur); err != nil {
				return nil, err
			}
		}
	}

	// Window functions.
	var windows []*Call
	for _, it := range s.Items {
		if it.Expr != nil {
			windows = collectWindows(it.Expr, windows)
		}
	}
	for _, o := range orderBy {
		windows = collectWindows(o.Expr, windows)
	}
	if len(windows) > 0 {
		if cur, rows, err = x.window(cur, rows, windows); err != nil {
			return nil, err
		}
	}

	// Projection.
	var outFields []field
	var proj []*cexpr
	// identity: the select list is the input row as it is (SELECT * of one table, t.*), so
	// the input rows are the output rows, without a copy of every value.
	identity := true
	for _, it := range s.Items {
		if it.Star {
			n := 0
			for i, f := range base.fields {
				if f.name == "" || it.StarQual != "" && f.qual != it.StarQual {
					continue
				}
				identity = identity && i == len(proj)
				outFields = append(outFields, f)
				proj = append(proj, columnAt(i, f.typ))
				n++
			}
			if n == 0 && it.StarQual != "" {
				return nil, queryErrorf("invalid qualifier %s in %s.*: no table or alias is named %s", it.StarQual, it.StarQual, it.StarQual)
			}
			continue
		}
		identity = false
		c, err := x.compile(it.Expr, cur)
		if err != nil {
			return nil, err
		}
		f := field{name: it.Alias, typ: c.typ}
		if f.name == "" {
			if ref, ok := it.Expr.(*ColumnRef); ok {
				if i, err := cur.resolve(ref); err == nil {
					f.qual, f.name = cur.fields[i].qual, cur.fields[i].name
				}
			}
			if f.name == "" {
				f.name = exprNameWith(it.Expr, base.qualifiedName)
			}
		}
		outFields = append(outFields, f)
		proj = append(proj, c)
	}
	out, err := x.project(rows, proj, identity && len(proj) == len(cur.fields))
	if err != nil {
		return nil, err
	}
	if s.Distinct {
		if len(orderBy) > 0 {
			// Ordering must come from the output columns once duplicates are gone.
			for _, o := range orderBy {
				if _, err := x.outputOrderKey(o.Expr, outFields, nil); err != nil {
					return nil, queryErrorf("for SELECT DISTINCT, ORDER BY expressions must appear in the select list")
				}
			}
		}
		if out, err = x.distinctRows(out); err != nil {
			return nil, err
		}
		rows = out
	}

	// Ordering.
	if len(orderBy) > 0 {
		keys := make([]*cexpr, len(orderBy))
		onOutput := make([]bool, len(orderBy))
		for i, o := range orderBy {
			c, err := x.outputOrderKey(o.Expr, outFields, nil)
			if err == nil {
				keys[i], onOutput[i] = c, true
				continue
			}
			if lit, ok := o.Expr.(*Literal); ok && lit.Val.Type().integer() {
				return nil, err
			}
			if s.Distinct {
				return nil, queryErrorf("for SELECT DISTINCT, ORDER BY expressions must appear in the select list")
			}
			if keys[i], err = x.compile(o.Expr, cur); err != nil {
				return nil, err
			}
		}
		if err := x.sortPairs(out, rows, keys, onOutput, orderBy); err != nil {
			return nil, err
		}
	}
	return &result{fields: outFields, rows: applyLimit(out, limit, offset)}, nil
}

// project evaluates the select list on every row; identity says the list is the row itself.
func (x *execution) project(rows []Row, proj []*cexpr, identity bool) ([]Row, error) {
	if identity {
		return rows, nil
	}
	if err := x.hold(int64(len(rows)) * rowBytes); err != nil {
		return nil, err
	}
	out := make([]Row, len(rows))
	for i, r := range rows {
		o := make(Row, len(proj))
		for j, c := range proj {
			var err error
			if o[j], err = c.eval(r); err != nil {
				return nil, err
			}
		}
		// The values' text is mostly the input's, shared: count the row and its values.
		if err := x.hold(rowBytes + int64(len(o))*valueBytes); err != nil {
			return nil, err
		}
		out[i] = o
	}
	return out, nil
}

// outputOrderKey resolves an ORDER BY term against the select list: a column position, or the
// name or alias of an output column. Anything else returns an error (and is then compiled
// against the input when fallback is nil).
func (x *execution) outputOrderKey(e Expr, fields []field, fallback *scope) (*cexpr, error) {
	if lit, ok := e.(*Literal); ok && lit.Val.Type().integer() {
		n := lit.Val.AsInt()
		if n < 1 || int(n) > len(fields) {
			return nil, queryErrorf("ORDER BY position %d is not in select list (valid positions: 1 to %d)", n, len(fields))
		}
		return columnAt(int(n-1), fields[n-1].typ), nil
	}
	if ref, ok := e.(*ColumnRef); ok {
		match := -1
		for i, f := range fields {
			if f.name == ref.Name && (ref.Qual == "" || f.qual == ref.Qual) {
				if match >= 0 && ref.Qual == "" && fields[match].qual != f.qual {
					break // ambiguous by name: let the input decide
				}
				if match < 0 {
					match = i
				}
			}
		}
		if match >= 0 {
			return columnAt(match, fields[match].typ), nil
		}
	}
	if fallback != nil {
		return x.compile(e, fallback)
	}
	return nil, queryErrorf("not an output column")
}

// sortPairs orders output rows; keys marked onOutput read the output row, the others the
// input row at the same position.
func (x *execution) sortPairs(out, in []Row, keys []*cexpr, onOutput []bool, items []OrderItem) error {
	type pair struct {
		out  Row
		keys []Value
	}
	if err := x.hold(int64(len(out)) * int64(unsafe.Sizeof(pair{}))); err != nil {
		return err
	}
	pairs := make([]pair, len(out))
	for i := range out {
		ks := make([]Value, len(keys))
		for j, k := range keys {
			src := in[i]
			if onOutput[j] {
				src = out[i]
			}
			v, err := k.eval(src)
			if err != nil {
				return err
			}
			ks[j] = v
		}
		if err := x.hold(sizeOfValues(ks)); err != nil {
			return err
		}
		pairs[i] = pair{out: out[i], keys: ks}
	}
	cancel := &sortCancel{x: x}
	sort.SliceStable(pairs, func(a, b int) bool {
		return !cancel.stopped() && compareKeys(pairs[a].keys, pairs[b].keys, items) < 0
	})
	if err := cancel.err(); err != nil {
		return err
	}
	for i := range pairs {
		out[i] = pairs[i].out
	}
	return nil
}

// sortRows orders rows by keys evaluated on the rows themselves.
func (x *execution) sortRows(rows []Row, keys []*cexpr, items []OrderItem) error {
	on := make([]bool, len(keys))
	for i := range on {
		on[i] = true
	}
	return x.sortPairs(rows, rows, keys, on, items)
}

// compareKeys orders two rows of sort keys. NULLs sort last ascending and first descending
// unless NULLS FIRST/LAST says otherwise.
func compareKeys(a, b []Value, items []OrderItem) int {
	for i := range a {
		c := compareForSort(a[i], b[i], items[i])
		if c != 0 {
			return c
		}
	}
	return 0
}

func compareForSort(a, b Value, o OrderItem) int {
	nullsFirst := o.Desc
	if o.NullsFirst != nil {
		nullsFirst = *o.NullsFirst
	}
	switch {
	case a.IsNull() && b.IsNull():
		return 0
	case a.IsNull():
		if nullsFirst {
			return -1
		}
		return 1
	case b.IsNull():
		if nullsFirst {
			return 1
		}
		return -1
	}
	c, ok := compareValues(a, b)
	if !ok {
		c = strings.Compare(a.String(), b.String())
	}
	if o.Desc {
		return -c
	}
	return c
}
