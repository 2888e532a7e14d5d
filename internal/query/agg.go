package query

import (
	"maps"
	"sort"
	"strings"
	"unsafe"
)

var aggregateNames = map[string]bool{
	"count": true, "sum": true, "min": true, "max": true, "avg": true, "mean": true,
	"first_value": true, "last_value": true, "bool_and": true, "bool_or": true,
	"string_agg": true, "any_value": true,
}

var windowOnlyNames = map[string]bool{"row_number": true, "rank": true, "dense_rank": true}

func isAggregate(name string) bool { return aggregateNames[name] }

// walkExpr visits e and its sub-expressions, not entering subqueries. visit returns false to
// skip a node's children.
func walkExpr(e Expr, visit func(Expr) bool) {
	if e == nil || !visit(e) {
		return
	}
	switch e := e.(type) {
	case *Unary:
		walkExpr(e.X, visit)
	case *Binary:
		walkExpr(e.L, visit)
		walkExpr(e.R, visit)
	case *IsNull:
		walkExpr(e.X, visit)
	case *IsBool:
		walkExpr(e.X, visit)
	case *InList:
		walkExpr(e.X, visit)
		for _, x := range e.List {
			walkExpr(x, visit)
		}
	case *InSubquery:
		walkExpr(e.X, visit)
	case *Like:
		walkExpr(e.X, visit)
		walkExpr(e.Pattern, visit)
	case *Between:
		walkExpr(e.X, visit)
		walkExpr(e.Lo, visit)
		walkExpr(e.Hi, visit)
	case *Call:
		for _, a := range e.Args {
			walkExpr(a, visit)
		}
		for _, o := range e.OrderBy {
			walkExpr(o.Expr, visit)
		}
		if e.Over != nil {
			for _, p := range e.Over.PartitionBy {
				walkExpr(p, visit)
			}
			for _, o := range e.Over.OrderBy {
				walkExpr(o.Expr, visit)
			}
		}
	case *Cast:
		walkExpr(e.X, visit)
	case *Case:
		walkExpr(e.Operand, visit)
		for _, w := range e.Whens {
			walkExpr(w.Cond, visit)
			walkExpr(w.Result, visit)
		}
		walkExpr(e.Else, visit)
	}
}

func hasAggregate(e Expr) bool {
	found := false
	walkExpr(e, func(n Expr) bool {
		if c, ok := n.(*Call); ok && c.Over == nil && isAggregate(c.Name) {
			found = true
		}
		return !found
	})
	return found
}

func hasWindow(e Expr) bool {
	return len(collectWindows(e, nil)) > 0
}

func collectWindows(e Expr, into []*Call) []*Call {
	walkExpr(e, func(n Expr) bool {
		if c, ok := n.(*Call); ok && c.Over != nil {
			into = append(into, c)
			return false
		}
		return true
	})
	return into
}

// accumulator folds the rows of one group into an aggregate value.
type accumulator interface {
	add(args []Value, order []Value) error
	result() Value
}

// growing is an accumulator whose memory grows with its input (count DISTINCT, string_agg):
// size approximates what it holds, for the query's memory budget.
type growing interface{ size() int64 }

// addAccounted adds a row to an accumulator, accounting what it grew by.
func (x *execution) addAccounted(a accumulator, args, order []Value) error {
	g, ok := a.(growing)
	if !ok {
		return a.add(args, order)
	}
	before := g.size()
	if err := a.add(args, order); err != nil {
		return err
	}
	return x.hold(g.size() - before)
}

// aggSpec is a compiled aggregate call.
type aggSpec struct {
	call  *Call
	args  []*cexpr
	order []*cexpr
	typ   Type
}

func (x *execution) compileAggregate(c *Call, sc *scope) (*aggSpec, error) {
	spec := &aggSpec{call: c}
	for _, a := range c.Args {
		if hasAggregate(a) {
			return nil, queryErrorf("aggregate function calls cannot be nested: %s", exprName(c))
		}
		ac, err := x.compile(a, sc)
		if err != nil {
			return nil, err
		}
		spec.args = append(spec.args, ac)
	}
	for _, o := range c.OrderBy {
		oc, err := x.compile(o.Expr, sc)
		if err != nil {
			return nil, err
		}
		spec.order = append(spec.order, oc)
	}
	nargs := len(spec.args)
	want := func(n int) error {
		if nargs != n {
			return queryErrorf("%s takes %d argument(s), got %d", c.Name, n, nargs)
		}
		return nil
	}
	switch c.Name {
	case "count":
		if !c.Star && nargs == 0 {
			return nil, queryErrorf("count needs an argument or *")
		}
		spec.typ = TypeInt64
	case "sum":
		if err := want(1); err != nil {
			return nil, err
		}
		switch t := spec.args[0].typ; {
		case t == TypeFloat64:
			spec.typ = TypeFloat64
		case t == TypeUInt64 || t == TypeUInt32:
			spec.typ = TypeUInt64
		case t == TypeInt64 || t == TypeNull:
			spec.typ = TypeInt64
		case t == TypeDuration:
			spec.typ = TypeDuration
		default:
			return nil, queryErrorf("sum needs a number, got %s", t)
		}
	case "avg", "mean":
		if err := want(1); err != nil {
			return nil, err
		}
		if t := spec.args[0].typ; !t.numeric() && t != TypeNull {
			return nil, queryErrorf("%s needs a number, got %s", c.Name, t)
		}
		spec.typ = TypeFloat64
	case "min", "max", "first_value", "last_value", "any_value":
		if err := want(1); err != nil {
			return nil, err
		}
		spec.typ = spec.args[0].typ
	case "bool_and", "bool_or":
		if err := want(1); err != nil {
			return nil, err
		}
		spec.typ = TypeBool
	case "string_agg":
		if err := want(2); err != nil {
			return nil, err
		}
		spec.typ = TypeString
	case "row_number", "rank", "dense_rank":
		if err := want(0); err != nil {
			return nil, err
		}
		spec.typ = TypeUInt64
	default:
		return nil, queryErrorf("unknown aggregate function %s", c.Name)
	}
	if c.Star && c.Name != "count" {
		return nil, queryErrorf("%s(*) is not supported", c.Name)
	}
	return spec, nil
}

func (s *aggSpec) newAccumulator() accumulator {
	c := s.call
	switch c.Name {
	case "count":
		if c.Distinct {
			return &countDistinct{seen: map[string]bool{}}
		}
		return &countAcc{star: c.Star}
	case "sum":
		return &sumAcc{typ: s.typ}
	case "avg", "mean":
		return &avgAcc{}
	case "min":
		return &extremeAcc{want: -1}
	case "max":
		return &extremeAcc{want: 1}
	case "first_value", "any_value":
		return &pickAcc{items: c.OrderBy, first: true}
	case "last_value":
		return &pickAcc{items: c.OrderBy}
	case "bool_and":
		return &boolAcc{and: true}
	case "bool_or":
		return &boolAcc{}
	case "string_agg":
		return &stringAgg{}
	}
	return &countAcc{star: true} // row_number and friends are computed by the window code
}

// evalArgs evaluates an aggregate's arguments and ordering keys on one input row.
func (s *aggSpec) evalArgs(r Row) (args, order []Value, err error) {
	args = make([]Value, len(s.args))
	for i, a := range s.args {
		if args[i], err = a.eval(r); err != nil {
			return nil, nil, err
		}
	}
	if len(s.order) > 0 {
		order = make([]Value, len(s.order))
		for i, o := range s.order {
			if order[i], err = o.eval(r); err != nil {
				return nil, nil, err
			}
		}
	}
	return args, order, nil
}

type countAcc struct {
	star bool
	n    int64
}

func (a *countAcc) add(args, _ []Value) error {
	if a.star || len(args) > 0 && !args[0].IsNull() {
		a.n++
	}
	return nil
}
func (a *countAcc) result() Value { return Int(a.n) }

type countDistinct struct {
	seen  map[string]bool
	bytes int64
}

func (a *countDistinct) add(args, _ []Value) error {
	for _, v := range args {
		if v.IsNull() {
			return nil
		}
	}
	k := rowKey(args)
	if !a.seen[k] {
		a.seen[k] = true
		a.bytes += int64(len(k)) + mapEntryBytes
	}
	return nil
}
func (a *countDistinct) size() int64   { return a.bytes }
func (a *countDistinct) result() Value { return Int(int64(len(a.seen))) }

type sumAcc struct {
	typ Type
	any bool
	i   int64
	u   uint64
	f   float64
}

func (a *sumAcc) add(args, _ []Value) error {
	v := args[0]
	if v.IsNull() {
		return nil
	}
	a.any = true
	switch a.typ {
	case TypeFloat64:
		a.f += v.asFloat()
	case TypeUInt64:
		if v.t == TypeUInt64 {
			a.u += v.u
		} else {
			a.u += uint64(v.AsInt())
		}
	default:
		a.i += v.AsInt()
	}
	return nil
}

func (a *sumAcc) result() Value {
	if !a.any {
		return Null
	}
	switch a.typ {
	case TypeFloat64:
		return Float(a.f)
	case TypeUInt64:
		return Uint(a.u)
	case TypeDuration:
		return Value{t: TypeDuration, i: a.i}
	}
	return Int(a.i)
}

type avgAcc struct {
	n   int64
	sum float64
}

func (a *avgAcc) add(args, _ []Value) error {
	if !args[0].IsNull() {
		a.n++
		a.sum += args[0].asFloat()
	}
	return nil
}

func (a *avgAcc) result() Value {
	if a.n == 0 {
		return Null
	}
	return Float(a.sum / float64(a.n))
}

type extremeAcc struct {
	want int
	best Value
}

func (a *extremeAcc) add(args, _ []Value) error {
	v := args[0]
	if v.IsNull() {
		return nil
	}
	if a.best.IsNull() {
		a.best = v
		return nil
	}
	c, ok := compareValues(v, a.best)
	if !ok {
		return queryErrorf("cannot compare %s with %s", v.Type(), a.best.Type())
	}
	if c == a.want {
		a.best = v
	}
	return nil
}
func (a *extremeAcc) result() Value { return a.best }

// pickAcc implements FIRST_VALUE and LAST_VALUE, ordered by the call's ORDER BY when it has
// one and by arrival otherwise.
type pickAcc struct {
	items []OrderItem
	first bool
	seen  bool
	val   Value
	keys  []Value
}

func (a *pickAcc) add(args, order []Value) error {
	if !a.seen {
		a.seen, a.val, a.keys = true, args[0], order
		return nil
	}
	if len(a.items) == 0 {
		if !a.first {
			a.val = args[0]
		}
		return nil
	}
	c := compareKeys(order, a.keys, a.items)
	if a.first && c < 0 || !a.first && c >= 0 {
		a.val, a.keys = args[0], order
	}
	return nil
}
func (a *pickAcc) result() Value { return a.val }

type boolAcc struct {
	and      bool
	any      bool
	decision bool
}

func (a *boolAcc) add(args, _ []Value) error {
	v := args[0]
	if v.IsNull() {
		return nil
	}
	if !a.any {
		a.any, a.decision = true, v.AsBool()
		return nil
	}
	if a.and {
		a.decision = a.decision && v.AsBool()
	} else {
		a.decision = a.decision || v.AsBool()
	}
	return nil
}

func (a *boolAcc) result() Value {
	if !a.any {
		return Null
	}
	return Bool(a.decision)
}

type stringAgg struct {
	parts []string
	sep   string
	bytes int64
}

func (a *stringAgg) size() int64 { return a.bytes }

func (a *stringAgg) add(args, _ []Value) error {
	if args[0].IsNull() {
		return nil
	}
	part := args[0].String()
	a.bytes += int64(len(part)) + 16
	a.parts = append(a.parts, part)
	if !args[1].IsNull() {
		a.sep = args[1].String()
	}
	return nil
}

func (a *stringAgg) result() Value {
	if len(a.parts) == 0 {
		return Null
	}
	return String(strings.Join(a.parts, a.sep))
}

// aggregate groups rows and computes the aggregate calls found in exprs. The returned scope
// exposes the group keys as columns and the aggregates as slots.
func (x *execution) aggregate(base *scope, rows []Row, groupBy []Expr, exprs []Expr) (*scope, []Row, error) {
	out := &scope{slots: map[string]int{}, grouped: true, base: base, env: base.env, x: x}
	groupFns := make([]*cexpr, len(groupBy))
	for i, g := range groupBy {
		if hasAggregate(g) {
			return nil, nil, queryErrorf("aggregate functions are not allowed in GROUP BY")
		}
		c, err := x.compile(g, base)
		if err != nil {
			return nil, nil, err
		}
		groupFns[i] = c
		f := field{name: exprNameWith(g, base.qualifiedName), typ: c.typ}
		if ref, ok := g.(*ColumnRef); ok {
			if j, err := base.resolve(ref); err == nil {
				f.qual, f.name = base.fields[j].qual, base.fields[j].name
			}
		}
		out.slots[canon(g, base)] = len(out.fields)
		out.fields = append(out.fields, f)
	}
	var specs []*aggSpec
	for _, e := range exprs {
		var err error
		walkExpr(e, func(n Expr) bool {
			c, ok := n.(*Call)
			if !ok || err != nil {
				return err == nil
			}
			if c.Over != nil {
				// A window function's arguments may themselves aggregate.
				return true
			}
			if !isAggregate(c.Name) {
				return true
			}
			key := canon(c, base)
			if _, done := out.slots[key]; done {
				return false
			}
			spec, cerr := x.compileAggregate(c, base)
			if cerr != nil {
				err = cerr
				return false
			}
			out.slots[key] = len(out.fields)
			out.fields = append(out.fields, field{typ: spec.typ})
			specs = append(specs, spec)
			return false
		})
		if err != nil {
			return nil, nil, err
		}
	}
	type group struct {
		keys []Value
		accs []accumulator
	}
	newGroup := func(keys []Value) *group {
		g := &group{keys: keys, accs: make([]accumulator, len(specs))}
		for i, s := range specs {
			g.accs[i] = s.newAccumulator()
		}
		return g
	}
	index := map[string]*group{}
	var order []*group
	groupBytes := int64(unsafe.Sizeof(group{})) + mapEntryBytes + int64(len(specs))*32
	for _, r := range rows {
		if err := x.step(); err != nil {
			return nil, nil, err
		}
		keys := make([]Value, len(groupFns))
		for i, g := range groupFns {
			v, err := g.eval(r)
			if err != nil {
				return nil, nil, err
			}
			keys[i] = v
		}
		k := rowKey(keys)
		g := index[k]
		if g == nil {
			if err := x.hold(groupBytes + int64(len(k)) + sizeOfValues(keys)); err != nil {
				return nil, nil, err
			}
			g = newGroup(keys)
			index[k] = g
			order = append(order, g)
		}
		for i, s := range specs {
			args, ord, err := s.evalArgs(r)
			if err != nil {
				return nil, nil, err
			}
			if s.call.Distinct && s.call.Name != "count" {
				return nil, nil, queryErrorf("DISTINCT is only supported in count")
			}
			if err := x.addAccounted(g.accs[i], args, ord); err != nil {
				return nil, nil, err
			}
		}
	}
	if len(groupBy) == 0 && len(order) == 0 {
		order = append(order, newGroup(nil))
	}
	outRows := make([]Row, len(order))
	for i, g := range order {
		row := make(Row, 0, len(out.fields))
		row = append(row, g.keys...)
		for _, a := range g.accs {
			row = append(row, a.result())
		}
		if err := x.holdRow(row); err != nil {
			return nil, nil, err
		}
		outRows[i] = row
	}
	return out, outRows, nil
}

// window computes window function calls over rows, appending one hidden column per call.
func (x *execution) window(cur *scope, rows []Row, calls []*Call) (*scope, []Row, error) {
	out := &scope{fields: append([]field{}, cur.fields...), slots: maps.Clone(cur.slots), grouped: cur.grouped, base: cur.base, env: cur.env, x: x}
	if out.slots == nil {
		out.slots = map[string]int{}
	}
	width := len(cur.fields)
	var results [][]Value // per call, per row
	for _, c := range calls {
		key := canon(c, cur.base)
		if _, done := out.slots[key]; done {
			continue
		}
		inner := *c
		inner.Over = nil
		if !isAggregate(c.Name) && !windowOnlyNames[c.Name] {
			return nil, nil, queryErrorf("%s is not a window function", c.Name)
		}
		spec, err := x.compileAggregate(&inner, cur)
		if err != nil {
			return nil, nil, err
		}
		parts := make([]*cexpr, len(c.Over.PartitionBy))
		for i, p := range c.Over.PartitionBy {
			if parts[i], err = x.compile(p, cur); err != nil {
				return nil, nil, err
			}
		}
		orders := make([]*cexpr, len(c.Over.OrderBy))
		for i, o := range c.Over.OrderBy {
			if orders[i], err = x.compile(o.Expr, cur); err != nil {
				return nil, nil, err
			}
		}
		vals, err := x.windowValues(rows, spec, parts, orders, c.Over.OrderBy)
		if err != nil {
			return nil, nil, err
		}
		out.slots[key] = len(out.fields)
		out.fields = append(out.fields, field{typ: spec.typ})
		results = append(results, vals)
	}
	outRows := make([]Row, len(rows))
	for i, r := range rows {
		if err := x.hold(rowBytes + int64(width+len(results))*valueBytes); err != nil {
			return nil, nil, err
		}
		row := make(Row, width, width+len(results))
		copy(row, r)
		for _, vals := range results {
			row = append(row, vals[i])
		}
		outRows[i] = row
	}
	return out, outRows, nil
}

// windowValues evaluates one window call for every row. With an ORDER BY the frame runs from
// the partition start to the current row and its peers (SQL's default frame); without one it
// is the whole partition.
func (x *execution) windowValues(rows []Row, spec *aggSpec, parts, orders []*cexpr, items []OrderItem) ([]Value, error) {
	type entry struct {
		row  int
		keys []Value
	}
	if err := x.hold(int64(len(rows)) * valueBytes); err != nil { // the results
		return nil, err
	}
	partitions := map[string][]entry{}
	var partOrder []string
	for i, r := range rows {
		pk := make([]Value, len(parts))
		for j, p := range parts {
			v, err := p.eval(r)
			if err != nil {
				return nil, err
			}
			pk[j] = v
		}
		ok := make([]Value, len(orders))
		for j, o := range orders {
			v, err := o.eval(r)
			if err != nil {
				return nil, err
			}
			ok[j] = v
		}
		k := rowKey(pk)
		if err := x.hold(int64(unsafe.Sizeof(entry{})) + sizeOfValues(ok) + sizeOfValues(pk)); err != nil {
			return nil, err
		}
		if _, seen := partitions[k]; !seen {
			partOrder = append(partOrder, k)
		}
		partitions[k] = append(partitions[k], entry{row: i, keys: ok})
	}
	out := make([]Value, len(rows))
	for _, k := range partOrder {
		entries := partitions[k]
		if len(items) > 0 {
			cancel := &sortCancel{x: x}
			sort.SliceStable(entries, func(a, b int) bool {
				return !cancel.stopped() && compareKeys(entries[a].keys, entries[b].keys, items) < 0
			})
			if err := cancel.err(); err != nil {
				return nil, err
			}
		}
		acc := spec.newAccumulator()
		rank, dense := 0, 0
		for start := 0; start < len(entries); {
			end := start + 1
			if len(items) == 0 {
				end = len(entries)
			} else {
				for end < len(entries) && compareKeys(entries[start].keys, entries[end].keys, items) == 0 {
					end++
				}
			}
			dense++
			rank = start + 1
			for _, e := range entries[start:end] {
				args, ord, err := spec.evalArgs(rows[e.row])
				if err != nil {
					return nil, err
				}
				if err := x.addAccounted(acc, args, ord); err != nil {
					return nil, err
				}
			}
			for i, e := range entries[start:end] {
				switch spec.call.Name {
				case "row_number":
					out[e.row] = Uint(uint64(start + i + 1))
				case "rank":
					out[e.row] = Uint(uint64(rank))
				case "dense_rank":
					out[e.row] = Uint(uint64(dense))
				default:
					v := acc.result()
					// A running string_agg is a new string per row.
					if err := x.hold(int64(len(v.s))); err != nil {
						return nil, err
					}
					out[e.row] = v
				}
			}
			start = end
		}
	}
	return out, nil
}
