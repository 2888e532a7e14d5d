package query

import (
	"math"
	"sort"
	"strings"
)

// colEquality is "qual.name = value" or "qual.name IN (values)" found among the top-level AND
// terms of a WHERE clause: a hint a table can use to avoid a full scan.
type colEquality struct {
	qual, name string
	values     []Value
}

// equalities extracts the column-equals-constant terms of a WHERE clause.
func equalities(where Expr) []colEquality {
	var out []colEquality
	var walk func(e Expr)
	walk = func(e Expr) {
		switch e := e.(type) {
		case *Binary:
			switch e.Op {
			case "and":
				walk(e.L)
				walk(e.R)
			case "=":
				ref, lit := e.L, e.R
				if _, ok := ref.(*ColumnRef); !ok {
					ref, lit = lit, ref
				}
				c, ok1 := ref.(*ColumnRef)
				l, ok2 := lit.(*Literal)
				if ok1 && ok2 && !l.Val.IsNull() {
					out = append(out, colEquality{qual: c.Qual, name: c.Name, values: []Value{l.Val}})
				}
			}
		case *InList:
			c, ok := e.X.(*ColumnRef)
			if !ok || e.Not || len(e.List) == 0 {
				return
			}
			vals := make([]Value, 0, len(e.List))
			for _, it := range e.List {
				l, ok := it.(*Literal)
				if !ok {
					return
				}
				if !l.Val.IsNull() {
					vals = append(vals, l.Val)
				}
			}
			out = append(out, colEquality{qual: c.Qual, name: c.Name, values: vals})
		}
	}
	if where != nil {
		walk(where)
	}
	return out
}

// from evaluates a FROM clause.
func (x *execution) from(item FromItem, ev *env, eqs []colEquality) ([]field, []Row, error) {
	switch it := item.(type) {
	case *TableRef:
		return x.scanRef(it, ev, eqs, true, nil, -1)
	case *DerivedTable:
		res, err := x.runQuery(it.Query, ev)
		if err != nil {
			return nil, nil, err
		}
		fields := res.fields
		if it.Alias != "" {
			fields = requalify(fields, it.Alias)
		}
		return fields, res.rows, nil
	case *Join:
		return x.join(it, ev, eqs)
	}
	return nil, nil, queryErrorf("unsupported FROM item %T", item)
}

func requalify(fields []field, qual string) []field {
	out := make([]field, len(fields))
	for i, f := range fields {
		out[i] = field{qual: qual, name: f.name, typ: f.typ}
	}
	return out
}

// lookupTable finds a table by (optional) schema and name.
func (x *execution) lookupTable(ref *TableRef) (Table, error) {
	switch ref.Schema {
	case "", "public", "datafusion":
		if t, ok := x.engine.tables[ref.Name]; ok {
			return t, nil
		}
	case "information_schema":
		if t, ok := x.engine.info[ref.Name]; ok {
			return t, nil
		}
	}
	name := ref.Name
	if ref.Schema != "" {
		name = ref.Schema + "." + ref.Name
	}
	known := make([]string, 0, len(x.engine.tables))
	for n := range x.engine.tables {
		known = append(known, n)
	}
	sort.Strings(known)
	return nil, queryErrorf("unknown table %q; known tables are: %s (and information_schema.tables, information_schema.columns)", name, strings.Join(known, ", "))
}

// scanRef reads a table or CTE. only says the table is alone in its FROM clause, so
// unqualified columns of eqs are its own. When where is set (a single-table query) rows are
// filtered while scanning, and the scan stops after stop matching rows (stop < 0: no limit).
func (x *execution) scanRef(ref *TableRef, ev *env, eqs []colEquality, only bool, where Expr, stop int) ([]field, []Row, error) {
	qual := ref.Name
	if ref.Alias != "" {
		qual = ref.Alias
	}
	var fields []field
	var source func(emit func(Row) bool) error
	if cte := ev.cte(ref.Name); ref.Schema == "" && cte != nil {
		fields = requalify(cte.fields, qual)
		source = func(emit func(Row) bool) error {
			for _, r := range cte.rows {
				if !emit(r) {
					break
				}
			}
			return nil
		}
	} else {
		t, err := x.lookupTable(ref)
		if err != nil {
			return nil, nil, err
		}
		cols := t.Columns()
		fields = make([]field, len(cols))
		for i, c := range cols {
			fields[i] = field{qual: qual, name: c.Name, typ: c.Type}
		}
		filters := pushdown(fields, qual, eqs, only)
		fs, filtered := t.(FilteredScanner)
		source = func(emit func(Row) bool) error {
			check := func(r Row) bool {
				if len(r) != len(cols) {
					panic("query: table " + t.Name() + " returned a row that does not match its columns")
				}
				return emit(r)
			}
			if filtered && len(filters) > 0 {
				return fs.ScanFiltered(x.ctx, filters, check)
			}
			return t.Scan(x.ctx, check)
		}
	}
	sc := &scope{fields: fields, env: ev, x: x}
	sc.base = sc
	var pred *cexpr
	if where != nil {
		var err error
		if pred, err = x.compile(where, sc); err != nil {
			return nil, nil, err
		}
		if err := expectBool(pred, "WHERE"); err != nil {
			return nil, nil, err
		}
	}
	// A CTE's rows are held already; a table's rows are new to the query.
	size := sizeOfRow
	if cte := ev.cte(ref.Name); ref.Schema == "" && cte != nil {
		size = func(Row) int64 { return rowBytes }
	}
	var rows []Row
	var evalErr error
	err := source(func(r Row) bool {
		if evalErr = x.step(); evalErr != nil {
			return false
		}
		if pred != nil {
			v, err := pred.eval(r)
			if err != nil {
				evalErr = err
				return false
			}
			if !v.AsBool() {
				return true
			}
		}
		if evalErr = x.hold(size(r)); evalErr != nil {
			return false
		}
		rows = append(rows, r)
		return stop < 0 || len(rows) < stop
	})
	if evalErr != nil {
		return nil, nil, evalErr
	}
	if err != nil {
		return nil, nil, err
	}
	if err := x.ctx.Err(); err != nil {
		return nil, nil, err
	}
	return fields, rows, nil
}

// pushdown picks the equalities that restrict this table: qualified with its name or alias,
// or unqualified when the table is the only one in the FROM clause.
func pushdown(fields []field, qual string, eqs []colEquality, only bool) []Equality {
	var out []Equality
	for _, eq := range eqs {
		if eq.qual != qual && !(eq.qual == "" && only) {
			continue
		}
		for _, f := range fields {
			if f.name == eq.name {
				out = append(out, Equality{Column: eq.name, Values: eq.values})
				break
			}
		}
	}
	return out
}

func (x *execution) join(j *Join, ev *env, eqs []colEquality) ([]field, []Row, error) {
	lf, lrows, err := x.fromChild(j.Left, ev, eqs)
	if err != nil {
		return nil, nil, err
	}
	rf, rrows, err := x.fromChild(j.Right, ev, eqs)
	if err != nil {
		return nil, nil, err
	}
	fields := append(append([]field{}, lf...), rf...)
	nl, nr := len(lf), len(rf)
	concat := func(l, r Row) Row {
		out := make(Row, 0, nl+nr)
		if l == nil {
			l = make(Row, nl)
		}
		if r == nil {
			r = make(Row, nr)
		}
		return append(append(out, l...), r...)
	}
	// Each joined row is new: its header and values (the text is shared with the inputs).
	joined := rowBytes + int64(nl+nr)*valueBytes
	if j.Kind == "cross" {
		// Account the whole product before allocating room for it: a product too large fails
		// here at once.
		n := int64(len(lrows)) * int64(len(rrows))
		if largest := math.MaxInt64 / (rowBytes + joined); len(lrows) != 0 && (n/int64(len(lrows)) != int64(len(rrows)) || n > largest) {
			n = largest
		}
		if err := x.hold(n * rowBytes); err != nil {
			return nil, nil, err
		}
		out := make([]Row, 0, n)
		for _, l := range lrows {
			for _, r := range rrows {
				if err := x.hold(joined); err != nil {
					return nil, nil, err
				}
				out = append(out, concat(l, r))
			}
		}
		return fields, out, nil
	}
	sc := &scope{fields: fields, env: ev, x: x}
	sc.base = sc
	on, err := x.compile(j.On, sc)
	if err != nil {
		return nil, nil, err
	}
	if err := expectBool(on, "JOIN ON"); err != nil {
		return nil, nil, err
	}
	// Hash the right side on the column pairs ON compares for equality.
	var lkeys, rkeys []int
	for _, term := range conjuncts(j.On) {
		b, ok := term.(*Binary)
		if !ok || b.Op != "=" {
			continue
		}
		a, ok1 := b.L.(*ColumnRef)
		c, ok2 := b.R.(*ColumnRef)
		if !ok1 || !ok2 {
			continue
		}
		ai, err1 := sc.resolve(a)
		ci, err2 := sc.resolve(c)
		if err1 != nil || err2 != nil {
			continue
		}
		switch {
		case ai < nl && ci >= nl:
			lkeys, rkeys = append(lkeys, ai), append(rkeys, ci-nl)
		case ci < nl && ai >= nl:
			lkeys, rkeys = append(lkeys, ci), append(rkeys, ai-nl)
		}
	}
	key := func(r Row, idx []int) (string, bool) {
		var b []byte
		for _, i := range idx {
			if r[i].IsNull() {
				return "", false
			}
			b = groupKey(b, r[i])
			b = append(b, 0xff)
		}
		return string(b), true
	}
	candidates := func(l Row) []int {
		all := make([]int, len(rrows))
		for i := range all {
			all[i] = i
		}
		return all
	}
	if len(lkeys) > 0 {
		index := map[string][]int{}
		for i, r := range rrows {
			if k, ok := key(r, rkeys); ok {
				if err := x.hold(int64(len(k)) + mapEntryBytes); err != nil {
					return nil, nil, err
				}
				index[k] = append(index[k], i)
			}
		}
		candidates = func(l Row) []int {
			k, ok := key(l, lkeys)
			if !ok {
				return nil
			}
			return index[k]
		}
	}
	var out []Row
	rightMatched := make([]bool, len(rrows))
	for _, l := range lrows {
		matched := false
		if err := x.step(); err != nil {
			return nil, nil, err
		}
		for _, ri := range candidates(l) {
			if err := x.step(); err != nil {
				return nil, nil, err
			}
			row := concat(l, rrows[ri])
			v, err := on.eval(row)
			if err != nil {
				return nil, nil, err
			}
			if v.AsBool() {
				if err := x.hold(joined + rowBytes); err != nil {
					return nil, nil, err
				}
				out = append(out, row)
				matched = true
				rightMatched[ri] = true
			}
		}
		if !matched && (j.Kind == "left" || j.Kind == "full") {
			if err := x.hold(joined + rowBytes); err != nil {
				return nil, nil, err
			}
			out = append(out, concat(l, nil))
		}
	}
	if j.Kind == "right" || j.Kind == "full" {
		for i, r := range rrows {
			if !rightMatched[i] {
				if err := x.hold(joined + rowBytes); err != nil {
					return nil, nil, err
				}
				out = append(out, concat(nil, r))
			}
		}
	}
	return fields, out, nil
}

func (x *execution) fromChild(item FromItem, ev *env, eqs []colEquality) ([]field, []Row, error) {
	if ref, ok := item.(*TableRef); ok {
		return x.scanRef(ref, ev, eqs, false, nil, -1)
	}
	return x.from(item, ev, eqs)
}

func conjuncts(e Expr) []Expr {
	if b, ok := e.(*Binary); ok && b.Op == "and" {
		return append(conjuncts(b.L), conjuncts(b.R)...)
	}
	return []Expr{e}
}
