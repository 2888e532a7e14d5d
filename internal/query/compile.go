package query

import (
	"regexp"
	"strconv"
	"strings"
)

// cexpr is a compiled expression: its static type and how to evaluate it on a row.
type cexpr struct {
	typ   Type
	eval  func(Row) (Value, error)
	konst *Value // set when the expression is a constant
}

func columnAt(i int, t Type) *cexpr {
	return &cexpr{typ: t, eval: func(r Row) (Value, error) { return r[i], nil }}
}

func constant(v Value) *cexpr {
	return &cexpr{typ: v.Type(), eval: func(Row) (Value, error) { return v, nil }, konst: &v}
}

// scope is what an expression can refer to: the columns of the rows it is evaluated on, and
// slots holding precomputed expressions (group keys, aggregates, window functions).
type scope struct {
	fields  []field
	slots   map[string]int // canonical expression → column
	grouped bool           // rows are groups: other columns are out of reach
	base    *scope         // the FROM scope, which canonical keys refer to
	env     *env
	x       *execution
}

// resolve finds the column a reference names.
func (sc *scope) resolve(ref *ColumnRef) (int, error) {
	match := -1
	for i, f := range sc.fields {
		if f.name == "" || f.name != ref.Name || ref.Qual != "" && f.qual != ref.Qual {
			continue
		}
		if match >= 0 {
			return 0, queryErrorf("ambiguous reference to column %q: qualify it with a table name or alias", ref.Name)
		}
		match = i
	}
	if match >= 0 {
		return match, nil
	}
	if sc.grouped && sc.base != nil && sc.base != sc {
		if _, err := sc.base.resolve(ref); err == nil {
			return 0, queryErrorf("column %q must appear in the GROUP BY clause or be used in an aggregate function", exprName(ref))
		}
		return sc.base.resolve(ref)
	}
	if ref.Qual != "" {
		known := false
		for _, f := range sc.fields {
			if f.qual == ref.Qual {
				known = true
				break
			}
		}
		if !known {
			return 0, queryErrorf("unknown table or alias %q in %s", ref.Qual, exprName(ref))
		}
	}
	return 0, queryErrorf("unknown column %q; valid columns are: %s", exprName(ref), sc.columnList())
}

func (sc *scope) columnList() string {
	var names []string
	for _, f := range sc.fields {
		if f.name == "" {
			continue
		}
		if f.qual != "" {
			names = append(names, f.qual+"."+f.name)
		} else {
			names = append(names, f.name)
		}
	}
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

// qualifiedName renders a column reference with the qualifier it resolves to, for naming
// output columns like DataFusion ("count(sys_invocation.id)").
func (sc *scope) qualifiedName(ref *ColumnRef) string {
	if i, err := sc.resolve(ref); err == nil && sc.fields[i].qual != "" {
		return sc.fields[i].qual + "." + sc.fields[i].name
	}
	return exprName(ref)
}

// canon is the identity of an expression within a query: column references are replaced by
// the column they resolve to, so "status" and "inv.status" are the same expression.
func canon(e Expr, base *scope) string {
	return exprNameWith(e, func(ref *ColumnRef) string {
		if base != nil {
			if i, err := base.resolve(ref); err == nil {
				return "#" + strconv.Itoa(i)
			}
		}
		return "?" + ref.Qual + "." + ref.Name
	})
}

func (x *execution) compile(e Expr, sc *scope) (*cexpr, error) {
	if len(sc.slots) > 0 {
		if i, ok := sc.slots[canon(e, sc.base)]; ok {
			return columnAt(i, sc.fields[i].typ), nil
		}
	}
	switch e := e.(type) {
	case *ColumnRef:
		i, err := sc.resolve(e)
		if err != nil {
			return nil, err
		}
		return columnAt(i, sc.fields[i].typ), nil
	case *Literal:
		return constant(e.Val), nil
	case *Unary:
		return x.compileUnary(e, sc)
	case *Binary:
		return x.compileBinary(e, sc)
	case *IsNull:
		c, err := x.compile(e.X, sc)
		if err != nil {
			return nil, err
		}
		return &cexpr{typ: TypeBool, eval: func(r Row) (Value, error) {
			v, err := c.eval(r)
			return Bool(v.IsNull() != e.Not), err
		}}, nil
	case *IsBool:
		c, err := x.compile(e.X, sc)
		if err != nil {
			return nil, err
		}
		if err := expectBool(c, "IS TRUE/FALSE"); err != nil {
			return nil, err
		}
		return &cexpr{typ: TypeBool, eval: func(r Row) (Value, error) {
			v, err := c.eval(r)
			is := !v.IsNull() && v.AsBool() == e.Value
			return Bool(is != e.Not), err
		}}, nil
	case *InList:
		return x.compileInList(e, sc)
	case *InSubquery:
		return x.compileInSubquery(e, sc)
	case *Like:
		return x.compileLike(e, sc)
	case *Between:
		lo := &Binary{Op: ">=", L: e.X, R: e.Lo}
		hi := &Binary{Op: "<=", L: e.X, R: e.Hi}
		var both Expr = &Binary{Op: "and", L: lo, R: hi}
		if e.Not {
			both = &Unary{Op: "not", X: both}
		}
		return x.compile(both, sc)
	case *Call:
		if e.Over != nil {
			return nil, queryErrorf("window function %s is not allowed here", e.Name)
		}
		if isAggregate(e.Name) {
			return nil, queryErrorf("aggregate function %s is not allowed here", e.Name)
		}
		return x.compileCall(e, sc)
	case *Cast:
		c, err := x.compile(e.X, sc)
		if err != nil {
			return nil, err
		}
		to, try := e.To, e.Try
		out := &cexpr{typ: to, eval: func(r Row) (Value, error) {
			v, err := c.eval(r)
			if err != nil {
				return Null, err
			}
			cv, err := castValue(v, to)
			if err != nil && try {
				return Null, nil
			}
			return cv, err
		}}
		return foldConstant(out, c), nil
	case *Case:
		return x.compileCase(e, sc)
	case *ScalarSubquery:
		res, err := x.runSubquery(e.Query, sc)
		if err != nil {
			return nil, err
		}
		switch len(res.rows) {
		case 0:
			return &cexpr{typ: res.fields[0].typ, eval: func(Row) (Value, error) { return Null, nil }}, nil
		case 1:
			v := res.rows[0][0]
			return &cexpr{typ: res.fields[0].typ, eval: func(Row) (Value, error) { return v, nil }}, nil
		}
		return nil, queryErrorf("scalar subquery returned %d rows; it must return at most one", len(res.rows))
	case *Exists:
		q := *e.Query
		q.Limit = &Literal{Val: Int(1), Raw: "1"}
		res, err := x.runQuery(&q, sc.env)
		if err != nil {
			return nil, err
		}
		return constant(Bool((len(res.rows) > 0) != e.Not)), nil
	}
	return nil, queryErrorf("unsupported expression %s", exprName(e))
}

// foldConstant evaluates out once when its input is a constant, so that errors in constant
// expressions surface at planning and per-row work disappears.
func foldConstant(out *cexpr, inputs ...*cexpr) *cexpr {
	for _, in := range inputs {
		if in.konst == nil {
			return out
		}
	}
	v, err := out.eval(nil)
	if err != nil {
		return out
	}
	c := constant(v)
	if v.IsNull() {
		c.typ = out.typ
	}
	return c
}

func (x *execution) runSubquery(q *Query, sc *scope) (*result, error) {
	res, err := x.runQuery(q, sc.env)
	if err != nil {
		return nil, err
	}
	if len(res.fields) != 1 {
		return nil, queryErrorf("subquery must return exactly one column, it returns %d", len(res.fields))
	}
	return res, nil
}

func (x *execution) compileUnary(e *Unary, sc *scope) (*cexpr, error) {
	c, err := x.compile(e.X, sc)
	if err != nil {
		return nil, err
	}
	if e.Op == "not" {
		if err := expectBool(c, "NOT"); err != nil {
			return nil, err
		}
		return foldConstant(&cexpr{typ: TypeBool, eval: func(r Row) (Value, error) {
			v, err := c.eval(r)
			if err != nil || v.IsNull() {
				return Null, err
			}
			return Bool(!v.AsBool()), nil
		}}, c), nil
	}
	if !c.typ.numeric() && c.typ != TypeNull && c.typ != TypeDuration {
		return nil, queryErrorf("cannot negate a value of type %s", c.typ)
	}
	typ := c.typ
	if typ == TypeUInt64 || typ == TypeUInt32 {
		typ = TypeInt64
	}
	return foldConstant(&cexpr{typ: typ, eval: func(r Row) (Value, error) {
		v, err := c.eval(r)
		if err != nil || v.IsNull() {
			return Null, err
		}
		switch v.Type() {
		case TypeFloat64:
			return Float(-v.f), nil
		case TypeDuration:
			return Value{t: TypeDuration, i: -v.i}, nil
		}
		return Int(-v.AsInt()), nil
	}}, c), nil
}

func (x *execution) compileBinary(e *Binary, sc *scope) (*cexpr, error) {
	l, err := x.compile(e.L, sc)
	if err != nil {
		return nil, err
	}
	r, err := x.compile(e.R, sc)
	if err != nil {
		return nil, err
	}
	switch e.Op {
	case "and", "or":
		if err := expectBool(l, strings.ToUpper(e.Op)); err != nil {
			return nil, err
		}
		if err := expectBool(r, strings.ToUpper(e.Op)); err != nil {
			return nil, err
		}
		isAnd := e.Op == "and"
		return foldConstant(&cexpr{typ: TypeBool, eval: func(row Row) (Value, error) {
			a, err := l.eval(row)
			if err != nil {
				return Null, err
			}
			// Short-circuit: FALSE AND x, TRUE OR x.
			if !a.IsNull() && a.AsBool() != isAnd {
				return a, nil
			}
			b, err := r.eval(row)
			if err != nil {
				return Null, err
			}
			if !b.IsNull() && b.AsBool() != isAnd {
				return b, nil
			}
			if a.IsNull() || b.IsNull() {
				return Null, nil
			}
			return Bool(isAnd), nil
		}}, l, r), nil
	case "=", "!=", "<", "<=", ">", ">=", "is distinct from", "is not distinct from":
		return compileComparison(e.Op, l, r)
	case "||":
		return foldConstant(&cexpr{typ: TypeString, eval: func(row Row) (Value, error) {
			a, err := l.eval(row)
			if err != nil {
				return Null, err
			}
			b, err := r.eval(row)
			if err != nil || a.IsNull() || b.IsNull() {
				return Null, err
			}
			return String(a.String() + b.String()), nil
		}}, l, r), nil
	case "+", "-", "*", "/", "%":
		return compileArithmetic(e.Op, l, r)
	}
	return nil, queryErrorf("unsupported operator %s", e.Op)
}

// coerceConstant converts a constant text operand to the type of the other side, as DataFusion
// does when comparing a typed column with a string literal.
func coerceConstant(c *cexpr, to Type) (*cexpr, error) {
	if c.konst == nil || c.typ != TypeString || to == TypeString || to == TypeNull {
		return c, nil
	}
	v, ok := coerceString(c.konst.s, to)
	if !ok {
		return nil, queryErrorf("cannot compare a %s value with '%s': it does not convert to %s", to, c.konst.s, to)
	}
	return constant(v), nil
}

func comparable(a, b Type) bool {
	if a == b || a == TypeNull || b == TypeNull || a == TypeString || b == TypeString {
		return true
	}
	if a.numeric() && b.numeric() {
		return true
	}
	return a == TypeTimestamp && b.integer() || b == TypeTimestamp && a.integer()
}

func compileComparison(op string, l, r *cexpr) (*cexpr, error) {
	var err error
	if l, err = coerceConstant(l, r.typ); err != nil {
		return nil, err
	}
	if r, err = coerceConstant(r, l.typ); err != nil {
		return nil, err
	}
	if !comparable(l.typ, r.typ) {
		return nil, queryErrorf("cannot compare %s with %s", l.typ, r.typ)
	}
	return foldConstant(&cexpr{typ: TypeBool, eval: func(row Row) (Value, error) {
		a, err := l.eval(row)
		if err != nil {
			return Null, err
		}
		b, err := r.eval(row)
		if err != nil {
			return Null, err
		}
		if op == "is distinct from" || op == "is not distinct from" {
			same := a.IsNull() && b.IsNull() || !a.IsNull() && !b.IsNull() && equalValues(a, b)
			return Bool(same == (op == "is not distinct from")), nil
		}
		if a.IsNull() || b.IsNull() {
			return Null, nil
		}
		c, ok := compareValues(a, b)
		if !ok {
			return Null, queryErrorf("cannot compare %s value %q with %s value %q", a.Type(), a.String(), b.Type(), b.String())
		}
		switch op {
		case "=":
			return Bool(c == 0), nil
		case "!=":
			return Bool(c != 0), nil
		case "<":
			return Bool(c < 0), nil
		case "<=":
			return Bool(c <= 0), nil
		case ">":
			return Bool(c > 0), nil
		}
		return Bool(c >= 0), nil
	}}, l, r), nil
}

func compileArithmetic(op string, l, r *cexpr) (*cexpr, error) {
	var typ Type
	lt, rt := l.typ, r.typ
	switch {
	case lt == TypeNull || rt == TypeNull:
		typ = max(lt, rt)
		if !typ.numeric() && typ != TypeTimestamp && typ != TypeDuration {
			typ = TypeInt64
		}
	case lt == TypeTimestamp && rt == TypeTimestamp && op == "-":
		typ = TypeDuration
	case lt == TypeTimestamp && rt == TypeDuration && (op == "+" || op == "-"),
		lt == TypeDuration && rt == TypeTimestamp && op == "+":
		typ = TypeTimestamp
	case lt == TypeDuration && rt == TypeDuration && (op == "+" || op == "-"):
		typ = TypeDuration
	case lt.numeric() && rt.numeric():
		switch {
		case lt == TypeFloat64 || rt == TypeFloat64:
			typ = TypeFloat64
		case (lt == TypeUInt64 || lt == TypeUInt32) && (rt == TypeUInt64 || rt == TypeUInt32):
			typ = TypeUInt64
		default:
			typ = TypeInt64
		}
	default:
		return nil, queryErrorf("cannot apply %s to %s and %s", op, lt, rt)
	}
	return foldConstant(&cexpr{typ: typ, eval: func(row Row) (Value, error) {
		a, err := l.eval(row)
		if err != nil {
			return Null, err
		}
		b, err := r.eval(row)
		if err != nil || a.IsNull() || b.IsNull() {
			return Null, err
		}
		return arith(op, typ, a, b)
	}}, l, r), nil
}

func arith(op string, typ Type, a, b Value) (Value, error) {
	switch typ {
	case TypeFloat64:
		x, y := a.asFloat(), b.asFloat()
		switch op {
		case "+":
			return Float(x + y), nil
		case "-":
			return Float(x - y), nil
		case "*":
			return Float(x * y), nil
		case "/":
			if y == 0 {
				return Null, queryErrorf("division by zero")
			}
			return Float(x / y), nil
		}
		if y == 0 {
			return Null, queryErrorf("division by zero")
		}
		return Float(x - y*float64(int64(x/y))), nil
	case TypeUInt64:
		x, y := uint64(a.AsInt()), uint64(b.AsInt())
		if a.t == TypeUInt64 {
			x = a.u
		}
		if b.t == TypeUInt64 {
			y = b.u
		}
		switch op {
		case "+":
			return Uint(x + y), nil
		case "-":
			return Uint(x - y), nil
		case "*":
			return Uint(x * y), nil
		}
		if y == 0 {
			return Null, queryErrorf("division by zero")
		}
		if op == "/" {
			return Uint(x / y), nil
		}
		return Uint(x % y), nil
	}
	x, y := a.AsInt(), b.AsInt()
	var v int64
	switch op {
	case "+":
		v = x + y
	case "-":
		v = x - y
	case "*":
		v = x * y
	case "/", "%":
		if y == 0 {
			return Null, queryErrorf("division by zero")
		}
		if op == "/" {
			v = x / y
		} else {
			v = x % y
		}
	}
	return Value{t: typ, i: v}, nil
}

func (x *execution) compileInList(e *InList, sc *scope) (*cexpr, error) {
	c, err := x.compile(e.X, sc)
	if err != nil {
		return nil, err
	}
	items := make([]*cexpr, len(e.List))
	for i, it := range e.List {
		ic, err := x.compile(it, sc)
		if err != nil {
			return nil, err
		}
		if items[i], err = coerceConstant(ic, c.typ); err != nil {
			return nil, err
		}
		if !comparable(c.typ, items[i].typ) {
			return nil, queryErrorf("cannot compare %s with %s in IN list", c.typ, items[i].typ)
		}
	}
	not := e.Not
	return &cexpr{typ: TypeBool, eval: func(r Row) (Value, error) {
		v, err := c.eval(r)
		if err != nil || v.IsNull() {
			return Null, err
		}
		sawNull := false
		for _, it := range items {
			w, err := it.eval(r)
			if err != nil {
				return Null, err
			}
			if w.IsNull() {
				sawNull = true
				continue
			}
			if equalValues(v, w) {
				return Bool(!not), nil
			}
		}
		if sawNull {
			return Null, nil
		}
		return Bool(not), nil
	}}, nil
}

func (x *execution) compileInSubquery(e *InSubquery, sc *scope) (*cexpr, error) {
	c, err := x.compile(e.X, sc)
	if err != nil {
		return nil, err
	}
	res, err := x.runSubquery(e.Query, sc)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(res.rows))
	hasNull := false
	for _, row := range res.rows {
		v := row[0]
		if v.IsNull() {
			hasNull = true
			continue
		}
		if v.Type() == TypeString && c.typ != TypeString {
			if cv, ok := coerceString(v.s, c.typ); ok {
				v = cv
			}
		}
		set[string(groupKey(nil, v))] = true
	}
	not := e.Not
	return &cexpr{typ: TypeBool, eval: func(r Row) (Value, error) {
		v, err := c.eval(r)
		if err != nil || v.IsNull() {
			return Null, err
		}
		if set[string(groupKey(nil, v))] {
			return Bool(!not), nil
		}
		if hasNull {
			return Null, nil
		}
		return Bool(not), nil
	}}, nil
}

// likeRegexp translates a LIKE pattern ('%' any run, '_' one character, '\' escapes).
func likeRegexp(pattern string, caseInsensitive bool) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("(?s)")
	if caseInsensitive {
		b.WriteString("(?i)")
	}
	b.WriteByte('^')
	escaped := false
	for _, r := range pattern {
		switch {
		case escaped:
			b.WriteString(regexp.QuoteMeta(string(r)))
			escaped = false
		case r == '\\':
			escaped = true
		case r == '%':
			b.WriteString(".*")
		case r == '_':
			b.WriteByte('.')
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	if escaped {
		b.WriteString(`\\`)
	}
	b.WriteByte('$')
	return regexp.Compile(b.String())
}

func (x *execution) compileLike(e *Like, sc *scope) (*cexpr, error) {
	c, err := x.compile(e.X, sc)
	if err != nil {
		return nil, err
	}
	p, err := x.compile(e.Pattern, sc)
	if err != nil {
		return nil, err
	}
	if c.typ != TypeString && c.typ != TypeNull {
		return nil, queryErrorf("LIKE needs a text value, got %s", c.typ)
	}
	var fixed *regexp.Regexp
	if p.konst != nil && !p.konst.IsNull() {
		if fixed, err = likeRegexp(p.konst.String(), e.CaseInsensitive); err != nil {
			return nil, queryErrorf("invalid LIKE pattern: %v", err)
		}
	}
	not, ci := e.Not, e.CaseInsensitive
	return &cexpr{typ: TypeBool, eval: func(r Row) (Value, error) {
		v, err := c.eval(r)
		if err != nil || v.IsNull() {
			return Null, err
		}
		re := fixed
		if re == nil {
			pv, err := p.eval(r)
			if err != nil || pv.IsNull() {
				return Null, err
			}
			if re, err = likeRegexp(pv.String(), ci); err != nil {
				return Null, queryErrorf("invalid LIKE pattern: %v", err)
			}
		}
		return Bool(re.MatchString(v.String()) != not), nil
	}}, nil
}

func (x *execution) compileCase(e *Case, sc *scope) (*cexpr, error) {
	var operand *cexpr
	var err error
	if e.Operand != nil {
		if operand, err = x.compile(e.Operand, sc); err != nil {
			return nil, err
		}
	}
	conds := make([]*cexpr, len(e.Whens))
	results := make([]*cexpr, len(e.Whens))
	typ := TypeNull
	for i, w := range e.Whens {
		if operand != nil {
			wc, err := x.compile(w.Cond, sc)
			if err != nil {
				return nil, err
			}
			if conds[i], err = compileComparison("=", operand, wc); err != nil {
				return nil, err
			}
		} else {
			if conds[i], err = x.compile(w.Cond, sc); err != nil {
				return nil, err
			}
			if err := expectBool(conds[i], "CASE WHEN"); err != nil {
				return nil, err
			}
		}
		if results[i], err = x.compile(w.Result, sc); err != nil {
			return nil, err
		}
		if typ == TypeNull {
			typ = results[i].typ
		}
	}
	var els *cexpr
	if e.Else != nil {
		if els, err = x.compile(e.Else, sc); err != nil {
			return nil, err
		}
		if typ == TypeNull {
			typ = els.typ
		}
	}
	return &cexpr{typ: typ, eval: func(r Row) (Value, error) {
		for i, c := range conds {
			v, err := c.eval(r)
			if err != nil {
				return Null, err
			}
			if v.AsBool() {
				return results[i].eval(r)
			}
		}
		if els != nil {
			return els.eval(r)
		}
		return Null, nil
	}}, nil
}
