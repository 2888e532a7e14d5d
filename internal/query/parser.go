package query

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// maxDepth bounds nesting so that hostile queries cannot exhaust the stack.
const maxDepth = 200

// reserved words end an expression or FROM item; they cannot be used as bare aliases.
var reserved = map[string]bool{
	"select": true, "from": true, "where": true, "group": true, "order": true, "by": true,
	"limit": true, "offset": true, "having": true, "join": true, "left": true, "right": true,
	"inner": true, "full": true, "outer": true, "cross": true, "on": true, "union": true,
	"except": true, "intersect": true, "and": true, "or": true, "not": true, "as": true,
	"with": true, "is": true, "in": true, "like": true, "ilike": true, "between": true,
	"case": true, "when": true, "then": true, "else": true, "end": true, "null": true,
	"true": true, "false": true, "distinct": true, "all": true, "asc": true, "desc": true,
	"nulls": true, "over": true, "partition": true, "exists": true, "cast": true,
}

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

// Parse reads one SQL statement.
func Parse(sql string) (*Query, error) {
	toks, err := lex(sql)
	if err != nil {
		return nil, err
	}
	p := &parser{src: sql, toks: toks}
	q, err := p.statement()
	if err != nil {
		return nil, err
	}
	for p.peekOp(";") {
		p.i++
	}
	if p.peek().kind != tokEOF {
		return nil, p.errorf("expected end of query, found %s", p.peek().describe())
	}
	return q, nil
}

func (p *parser) peek() token        { return p.toks[p.i] }
func (p *parser) peekAt(n int) token { return p.toks[min(p.i+n, len(p.toks)-1)] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) errorf(format string, args ...any) error {
	return syntaxErrorAt(p.src, p.peek().pos, format, args...)
}

func (p *parser) peekKeyword(words ...string) bool {
	t := p.peek()
	if t.kind != tokIdent {
		return false
	}
	for _, w := range words {
		if t.text == w {
			return true
		}
	}
	return false
}

func (p *parser) acceptKeyword(w string) bool {
	if p.peekKeyword(w) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectKeyword(w string) error {
	if !p.acceptKeyword(w) {
		return p.errorf("expected %s, found %s", strings.ToUpper(w), p.peek().describe())
	}
	return nil
}

func (p *parser) peekOp(op string) bool {
	t := p.peek()
	return t.kind == tokOp && t.text == op
}

func (p *parser) acceptOp(op string) bool {
	if p.peekOp(op) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectOp(op string) error {
	if !p.acceptOp(op) {
		return p.errorf("expected '%s', found %s", op, p.peek().describe())
	}
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorf("query is nested too deeply")
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// identifier reads an unquoted (lower-cased) or quoted identifier.
func (p *parser) identifier(what string) (string, error) {
	t := p.peek()
	switch {
	case t.kind == tokQuoted:
		p.i++
		return t.text, nil
	case t.kind == tokIdent && !reserved[t.text]:
		p.i++
		return t.text, nil
	}
	return "", p.errorf("expected %s, found %s", what, t.describe())
}

func (p *parser) statement() (*Query, error) {
	switch {
	case p.peekKeyword("show"):
		return p.show()
	case p.peekKeyword("describe", "desc"):
		p.i++
		name, err := p.identifier("table name")
		if err != nil {
			return nil, err
		}
		return describeQuery(name), nil
	}
	return p.query()
}

// show handles SHOW TABLES and SHOW COLUMNS FROM t, which DataFusion also answers from
// information_schema.
func (p *parser) show() (*Query, error) {
	p.i++
	switch {
	case p.acceptKeyword("tables"):
		q, err := Parse("SELECT table_catalog, table_schema, table_name, table_type FROM information_schema.tables")
		return q, err
	case p.acceptKeyword("columns"):
		if !p.acceptKeyword("from") && !p.acceptKeyword("in") {
			return nil, p.errorf("expected FROM, found %s", p.peek().describe())
		}
		name, err := p.identifier("table name")
		if err != nil {
			return nil, err
		}
		return describeQuery(name), nil
	}
	return nil, p.errorf("expected TABLES or COLUMNS after SHOW, found %s", p.peek().describe())
}

func describeQuery(table string) *Query {
	q, err := Parse("SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = " + quoteString(table) + " ORDER BY ordinal_position")
	if err != nil {
		panic("query: describe query does not parse: " + err.Error())
	}
	return q
}

func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (p *parser) query() (*Query, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	q := &Query{}
	if p.acceptKeyword("with") {
		if p.peekKeyword("recursive") {
			return nil, p.errorf("recursive CTEs are not supported")
		}
		for {
			name, err := p.identifier("CTE name")
			if err != nil {
				return nil, err
			}
			if err := p.expectKeyword("as"); err != nil {
				return nil, err
			}
			if err := p.expectOp("("); err != nil {
				return nil, err
			}
			sub, err := p.query()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			q.With = append(q.With, CTE{Name: name, Query: sub})
			if !p.acceptOp(",") {
				break
			}
		}
	}
	body, err := p.setExpr()
	if err != nil {
		return nil, err
	}
	q.Body = body
	if p.acceptKeyword("order") {
		if err := p.expectKeyword("by"); err != nil {
			return nil, err
		}
		if q.OrderBy, err = p.orderItems(); err != nil {
			return nil, err
		}
	}
	for {
		switch {
		case q.Limit == nil && p.acceptKeyword("limit"):
			if p.acceptKeyword("all") {
				q.Limit = &Literal{Val: Null, Raw: "NULL"}
				continue
			}
			if q.Limit, err = p.expr(); err != nil {
				return nil, err
			}
			if p.acceptOp(",") { // MySQL's LIMIT offset, count
				count, err := p.expr()
				if err != nil {
					return nil, err
				}
				q.Offset, q.Limit = q.Limit, count
			}
			continue
		case q.Offset == nil && p.acceptKeyword("offset"):
			if q.Offset, err = p.expr(); err != nil {
				return nil, err
			}
			if !p.acceptKeyword("rows") {
				p.acceptKeyword("row")
			}
			continue
		}
		break
	}
	return q, nil
}

func (p *parser) setExpr() (SetExpr, error) {
	left, err := p.setTerm()
	if err != nil {
		return nil, err
	}
	for p.peekKeyword("union", "except", "intersect") {
		op := p.next().text
		all := p.acceptKeyword("all")
		if !all {
			p.acceptKeyword("distinct")
		}
		right, err := p.setTerm()
		if err != nil {
			return nil, err
		}
		left = &SetOp{Op: op, All: all, L: left, R: right}
	}
	return left, nil
}

func (p *parser) setTerm() (SetExpr, error) {
	if p.peekOp("(") {
		p.i++
		q, err := p.query()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return q, nil
	}
	return p.selectBlock()
}

func (p *parser) selectBlock() (*Select, error) {
	if err := p.expectKeyword("select"); err != nil {
		return nil, err
	}
	s := &Select{}
	if p.acceptKeyword("distinct") {
		s.Distinct = true
	} else {
		p.acceptKeyword("all")
	}
	for {
		item, err := p.selectItem()
		if err != nil {
			return nil, err
		}
		s.Items = append(s.Items, item)
		if !p.acceptOp(",") {
			break
		}
	}
	var err error
	if p.acceptKeyword("from") {
		if s.From, err = p.fromClause(); err != nil {
			return nil, err
		}
	}
	if p.acceptKeyword("where") {
		if s.Where, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if p.acceptKeyword("group") {
		if err := p.expectKeyword("by"); err != nil {
			return nil, err
		}
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			s.GroupBy = append(s.GroupBy, e)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.acceptKeyword("having") {
		if s.Having, err = p.expr(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (p *parser) selectItem() (SelectItem, error) {
	if p.acceptOp("*") {
		return SelectItem{Star: true}, nil
	}
	// qualifier.*
	if t := p.peek(); (t.kind == tokIdent || t.kind == tokQuoted) && p.peekAt(1).kind == tokOp && p.peekAt(1).text == "." &&
		p.peekAt(2).kind == tokOp && p.peekAt(2).text == "*" {
		p.i += 3
		return SelectItem{Star: true, StarQual: t.text}, nil
	}
	e, err := p.expr()
	if err != nil {
		return SelectItem{}, err
	}
	alias, err := p.optionalAlias()
	return SelectItem{Expr: e, Alias: alias}, err
}

func (p *parser) optionalAlias() (string, error) {
	if p.acceptKeyword("as") {
		return p.identifier("alias")
	}
	if t := p.peek(); t.kind == tokQuoted || t.kind == tokIdent && !reserved[t.text] {
		p.i++
		return t.text, nil
	}
	return "", nil
}

func (p *parser) fromClause() (FromItem, error) {
	left, err := p.joinChain()
	if err != nil {
		return nil, err
	}
	for p.acceptOp(",") {
		right, err := p.joinChain()
		if err != nil {
			return nil, err
		}
		left = &Join{Kind: "cross", Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) joinChain() (FromItem, error) {
	left, err := p.fromPrimary()
	if err != nil {
		return nil, err
	}
	for {
		kind := ""
		switch {
		case p.peekKeyword("join"):
			kind = "inner"
		case p.peekKeyword("inner"):
			p.i++
			kind = "inner"
		case p.peekKeyword("left", "right", "full"):
			kind = p.next().text
			p.acceptKeyword("outer")
		case p.peekKeyword("cross"):
			p.i++
			kind = "cross"
		default:
			return left, nil
		}
		if err := p.expectKeyword("join"); err != nil {
			return nil, err
		}
		right, err := p.fromPrimary()
		if err != nil {
			return nil, err
		}
		j := &Join{Kind: kind, Left: left, Right: right}
		if kind != "cross" {
			if err := p.expectKeyword("on"); err != nil {
				return nil, err
			}
			if j.On, err = p.expr(); err != nil {
				return nil, err
			}
		}
		left = j
	}
}

func (p *parser) fromPrimary() (FromItem, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if p.acceptOp("(") {
		if p.peekKeyword("select", "with") {
			q, err := p.query()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			alias, err := p.optionalAlias()
			return &DerivedTable{Query: q, Alias: alias}, err
		}
		item, err := p.fromClause()
		if err != nil {
			return nil, err
		}
		return item, p.expectOp(")")
	}
	pos := p.peek().pos
	name, err := p.identifier("table name")
	if err != nil {
		return nil, err
	}
	ref := &TableRef{Name: name, Pos: pos}
	if p.acceptOp(".") {
		ref.Schema = name
		if ref.Name, err = p.identifier("table name"); err != nil {
			return nil, err
		}
		if p.acceptOp(".") { // catalog.schema.table
			ref.Schema = ref.Name
			if ref.Name, err = p.identifier("table name"); err != nil {
				return nil, err
			}
		}
	}
	ref.Alias, err = p.optionalAlias()
	return ref, err
}

func (p *parser) orderItems() ([]OrderItem, error) {
	var items []OrderItem
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		item := OrderItem{Expr: e}
		if p.acceptKeyword("desc") {
			item.Desc = true
		} else {
			p.acceptKeyword("asc")
		}
		if p.acceptKeyword("nulls") {
			first := false
			switch {
			case p.acceptKeyword("first"):
				first = true
			case p.acceptKeyword("last"):
			default:
				return nil, p.errorf("expected FIRST or LAST after NULLS, found %s", p.peek().describe())
			}
			item.NullsFirst = &first
		}
		items = append(items, item)
		if !p.acceptOp(",") {
			return items, nil
		}
	}
}

// Expressions, lowest precedence first.

func (p *parser) expr() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	return p.orExpr()
}

func (p *parser) orExpr() (Expr, error) {
	l, err := p.andExpr()
	if err != nil {
		return nil, err
	}
	for p.acceptKeyword("or") {
		r, err := p.andExpr()
		if err != nil {
			return nil, err
		}
		l = &Binary{Op: "or", L: l, R: r}
	}
	return l, nil
}

func (p *parser) andExpr() (Expr, error) {
	l, err := p.notExpr()
	if err != nil {
		return nil, err
	}
	for p.acceptKeyword("and") {
		r, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		l = &Binary{Op: "and", L: l, R: r}
	}
	return l, nil
}

func (p *parser) notExpr() (Expr, error) {
	if p.peekKeyword("not") && !p.peekExistsAfterNot() {
		p.i++
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		return &Unary{Op: "not", X: x}, nil
	}
	return p.comparison()
}

func (p *parser) peekExistsAfterNot() bool {
	t := p.peekAt(1)
	return t.kind == tokIdent && t.text == "exists"
}

var comparisonOps = map[string]string{"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

func (p *parser) comparison() (Expr, error) {
	l, err := p.concatExpr()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind == tokOp {
			if op, ok := comparisonOps[t.text]; ok {
				p.i++
				r, err := p.concatExpr()
				if err != nil {
					return nil, err
				}
				l = &Binary{Op: op, L: l, R: r}
				continue
			}
			return l, nil
		}
		if t.kind != tokIdent {
			return l, nil
		}
		not := false
		save := p.i
		if t.text == "not" {
			nxt := p.peekAt(1)
			if nxt.kind != tokIdent || (nxt.text != "in" && nxt.text != "like" && nxt.text != "ilike" && nxt.text != "between") {
				return l, nil
			}
			p.i++
			not = true
		}
		switch {
		case p.acceptKeyword("is"):
			if not {
				p.i = save
				return l, nil
			}
			isNot := p.acceptKeyword("not")
			switch {
			case p.acceptKeyword("null"):
				l = &IsNull{X: l, Not: isNot}
			case p.acceptKeyword("true"):
				l = &IsBool{X: l, Value: true, Not: isNot}
			case p.acceptKeyword("false"):
				l = &IsBool{X: l, Value: false, Not: isNot}
			case p.acceptKeyword("distinct"):
				if err := p.expectKeyword("from"); err != nil {
					return nil, err
				}
				r, err := p.concatExpr()
				if err != nil {
					return nil, err
				}
				op := "is distinct from"
				if isNot {
					op = "is not distinct from"
				}
				l = &Binary{Op: op, L: l, R: r}
			default:
				return nil, p.errorf("expected NULL, TRUE, FALSE or DISTINCT FROM after IS, found %s", p.peek().describe())
			}
		case p.acceptKeyword("in"):
			if err := p.expectOp("("); err != nil {
				return nil, err
			}
			if p.peekKeyword("select", "with") {
				q, err := p.query()
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(")"); err != nil {
					return nil, err
				}
				l = &InSubquery{X: l, Query: q, Not: not}
				continue
			}
			var list []Expr
			if !p.peekOp(")") {
				for {
					e, err := p.expr()
					if err != nil {
						return nil, err
					}
					list = append(list, e)
					if !p.acceptOp(",") {
						break
					}
				}
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			l = &InList{X: l, List: list, Not: not}
		case p.peekKeyword("like", "ilike"):
			ci := p.next().text == "ilike"
			pat, err := p.concatExpr()
			if err != nil {
				return nil, err
			}
			l = &Like{X: l, Pattern: pat, Not: not, CaseInsensitive: ci}
		case p.acceptKeyword("between"):
			lo, err := p.concatExpr()
			if err != nil {
				return nil, err
			}
			if err := p.expectKeyword("and"); err != nil {
				return nil, err
			}
			hi, err := p.concatExpr()
			if err != nil {
				return nil, err
			}
			l = &Between{X: l, Lo: lo, Hi: hi, Not: not}
		default:
			p.i = save
			return l, nil
		}
	}
}

func (p *parser) concatExpr() (Expr, error) {
	l, err := p.additive()
	if err != nil {
		return nil, err
	}
	for p.acceptOp("||") {
		r, err := p.additive()
		if err != nil {
			return nil, err
		}
		l = &Binary{Op: "||", L: l, R: r}
	}
	return l, nil
}

func (p *parser) additive() (Expr, error) {
	l, err := p.multiplicative()
	if err != nil {
		return nil, err
	}
	for p.peekOp("+") || p.peekOp("-") {
		op := p.next().text
		r, err := p.multiplicative()
		if err != nil {
			return nil, err
		}
		l = &Binary{Op: op, L: l, R: r}
	}
	return l, nil
}

func (p *parser) multiplicative() (Expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peekOp("*") || p.peekOp("/") || p.peekOp("%") {
		op := p.next().text
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &Binary{Op: op, L: l, R: r}
	}
	return l, nil
}

func (p *parser) unary() (Expr, error) {
	if p.peekOp("-") || p.peekOp("+") {
		op := p.next().text
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if op == "+" {
			return x, nil
		}
		if lit, ok := x.(*Literal); ok && lit.Val.Type().numeric() {
			return negateLiteral(lit), nil
		}
		return &Unary{Op: "-", X: x}, nil
	}
	return p.postfix()
}

func negateLiteral(l *Literal) *Literal {
	v := l.Val
	switch v.Type() {
	case TypeFloat64:
		return &Literal{Val: Float(-v.f), Raw: "-" + l.Raw}
	case TypeUInt64:
		if v.u == 1<<63 {
			return &Literal{Val: Int(math.MinInt64), Raw: "-" + l.Raw}
		}
		return &Literal{Val: Float(-float64(v.u)), Raw: "-" + l.Raw}
	}
	return &Literal{Val: Int(-v.i), Raw: "-" + l.Raw}
}

func (p *parser) postfix() (Expr, error) {
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	for p.acceptOp("::") {
		to, name, err := p.typeName()
		if err != nil {
			return nil, err
		}
		x = &Cast{X: x, To: to, TypeName: name}
	}
	return x, nil
}

func (p *parser) primary() (Expr, error) {
	t := p.peek()
	switch t.kind {
	case tokNumber:
		p.i++
		return numberLiteral(p, t)
	case tokString:
		p.i++
		return &Literal{Val: String(t.text), Raw: t.raw}, nil
	case tokOp:
		if t.text == "(" {
			p.i++
			if p.peekKeyword("select", "with") {
				q, err := p.query()
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(")"); err != nil {
					return nil, err
				}
				return &ScalarSubquery{Query: q}, nil
			}
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			return e, p.expectOp(")")
		}
		return nil, p.errorf("expected an expression, found %s", t.describe())
	case tokQuoted:
		return p.columnOrCall()
	case tokIdent:
		switch t.text {
		case "null":
			p.i++
			return &Literal{Val: Null, Raw: "NULL"}, nil
		case "true", "false":
			p.i++
			return &Literal{Val: Bool(t.text == "true"), Raw: t.text}, nil
		case "case":
			return p.caseExpr()
		case "cast", "try_cast":
			return p.castExpr()
		case "exists":
			p.i++
			return p.existsExpr(false)
		case "not":
			if p.peekExistsAfterNot() {
				p.i += 2
				return p.existsExpr(true)
			}
		case "timestamp":
			if p.peekAt(1).kind == tokString { // TIMESTAMP '2024-01-01 00:00:00'
				p.i++
				s := p.next()
				ms, ok := parseTimestamp(s.text)
				if !ok {
					return nil, syntaxErrorAt(p.src, s.pos, "cannot parse %s as a timestamp", s.describe())
				}
				return &Literal{Val: Timestamp(ms), Raw: s.raw}, nil
			}
		}
		if reserved[t.text] {
			return nil, p.errorf("expected an expression, found %s", t.describe())
		}
		return p.columnOrCall()
	}
	return nil, p.errorf("expected an expression, found %s", t.describe())
}

func numberLiteral(p *parser, t token) (Expr, error) {
	if !strings.ContainsAny(t.text, ".eE") {
		if i, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			return &Literal{Val: Int(i), Raw: t.text}, nil
		}
		if u, err := strconv.ParseUint(t.text, 10, 64); err == nil {
			return &Literal{Val: Uint(u), Raw: t.text}, nil
		}
	}
	f, err := strconv.ParseFloat(t.text, 64)
	if err != nil {
		return nil, syntaxErrorAt(p.src, t.pos, "invalid number %s", t.describe())
	}
	return &Literal{Val: Float(f), Raw: t.text}, nil
}

func (p *parser) columnOrCall() (Expr, error) {
	first := p.next()
	if p.peekOp("(") && first.kind == tokIdent {
		return p.call(first)
	}
	if p.acceptOp(".") {
		t := p.peek()
		if t.kind != tokIdent && t.kind != tokQuoted {
			return nil, p.errorf("expected a column name after '%s.', found %s", first.raw, t.describe())
		}
		p.i++
		return &ColumnRef{Qual: first.text, Name: t.text, Pos: first.pos}, nil
	}
	return &ColumnRef{Name: first.text, Pos: first.pos}, nil
}

func (p *parser) call(name token) (Expr, error) {
	p.i++ // (
	c := &Call{Name: name.text, Pos: name.pos}
	if p.acceptOp("*") {
		c.Star = true
	} else if !p.peekOp(")") {
		if p.acceptKeyword("distinct") {
			c.Distinct = true
		} else {
			p.acceptKeyword("all")
		}
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			c.Args = append(c.Args, e)
			if !p.acceptOp(",") {
				break
			}
		}
		if p.acceptKeyword("order") {
			if err := p.expectKeyword("by"); err != nil {
				return nil, err
			}
			var err error
			if c.OrderBy, err = p.orderItems(); err != nil {
				return nil, err
			}
		}
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	if p.acceptKeyword("over") {
		w, err := p.window()
		if err != nil {
			return nil, err
		}
		c.Over = w
	}
	return c, nil
}

func (p *parser) window() (*Window, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	w := &Window{}
	if p.acceptKeyword("partition") {
		if err := p.expectKeyword("by"); err != nil {
			return nil, err
		}
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			w.PartitionBy = append(w.PartitionBy, e)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.acceptKeyword("order") {
		if err := p.expectKeyword("by"); err != nil {
			return nil, err
		}
		var err error
		if w.OrderBy, err = p.orderItems(); err != nil {
			return nil, err
		}
	}
	if p.peekKeyword("rows", "range", "groups") {
		return nil, p.errorf("window frame clauses are not supported")
	}
	return w, p.expectOp(")")
}

func (p *parser) caseExpr() (Expr, error) {
	p.i++
	c := &Case{}
	var err error
	if !p.peekKeyword("when") {
		if c.Operand, err = p.expr(); err != nil {
			return nil, err
		}
	}
	for p.acceptKeyword("when") {
		cond, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := p.expectKeyword("then"); err != nil {
			return nil, err
		}
		res, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.Whens = append(c.Whens, When{Cond: cond, Result: res})
	}
	if len(c.Whens) == 0 {
		return nil, p.errorf("expected WHEN in CASE, found %s", p.peek().describe())
	}
	if p.acceptKeyword("else") {
		if c.Else, err = p.expr(); err != nil {
			return nil, err
		}
	}
	return c, p.expectKeyword("end")
}

func (p *parser) castExpr() (Expr, error) {
	try := p.next().text == "try_cast"
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	if err := p.expectKeyword("as"); err != nil {
		return nil, err
	}
	to, name, err := p.typeName()
	if err != nil {
		return nil, err
	}
	return &Cast{X: x, To: to, TypeName: name, Try: try}, p.expectOp(")")
}

func (p *parser) existsExpr(not bool) (Expr, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	q, err := p.query()
	if err != nil {
		return nil, err
	}
	return &Exists{Query: q, Not: not}, p.expectOp(")")
}

// typeName reads a SQL type such as STRING, INT UNSIGNED, BIGINT, DOUBLE or TIMESTAMP.
func (p *parser) typeName() (Type, string, error) {
	t := p.peek()
	if t.kind != tokIdent {
		return 0, "", p.errorf("expected a type name, found %s", t.describe())
	}
	p.i++
	name := t.text
	switch name {
	case "double", "character":
		if p.acceptKeyword("precision") || p.acceptKeyword("varying") {
			name += " " + p.toks[p.i-1].text
		}
	}
	if p.acceptOp("(") { // VARCHAR(20), DECIMAL(10, 2): the size does not matter here
		for !p.peekOp(")") && p.peek().kind != tokEOF {
			p.i++
		}
		if err := p.expectOp(")"); err != nil {
			return 0, "", err
		}
	}
	unsigned := p.acceptKeyword("unsigned")
	var typ Type
	switch name {
	case "string", "varchar", "text", "char", "character", "character varying", "utf8":
		typ = TypeString
	case "int", "integer", "bigint", "smallint", "tinyint", "int8", "int4", "int2", "int64", "int32":
		typ = TypeInt64
		if unsigned {
			typ = TypeUInt64
			if name == "int" || name == "integer" || name == "int4" || name == "int32" {
				typ = TypeUInt32
			}
		}
	case "uint64", "ubigint":
		typ = TypeUInt64
	case "uint32", "uint":
		typ = TypeUInt32
	case "double", "double precision", "float", "real", "float8", "float4", "float64", "decimal", "numeric":
		typ = TypeFloat64
	case "boolean", "bool":
		typ = TypeBool
	case "bytea", "binary", "varbinary", "blob":
		typ = TypeBytes
	case "timestamp", "timestamptz", "datetime":
		typ = TypeTimestamp
		if p.acceptKeyword("with") || p.acceptKeyword("without") {
			if !p.acceptKeyword("time") || !p.acceptKeyword("zone") {
				return 0, "", p.errorf("expected TIME ZONE")
			}
		}
	default:
		return 0, "", syntaxErrorAt(p.src, t.pos, "unsupported type %s", t.describe())
	}
	if unsigned && !typ.integer() {
		return 0, "", syntaxErrorAt(p.src, t.pos, "UNSIGNED applies to integer types only")
	}
	return typ, strings.ToUpper(name), nil
}

// exprName renders an expression the way DataFusion names an unaliased output column, e.g.
// "count(*)" or "count(sys_invocation.id)".
func exprName(e Expr) string { return exprNameWith(e, nil) }

// exprNameWith is exprName with column references rendered by col (e.g. with the qualifier
// they resolved to); nil renders them as written.
func exprNameWith(e Expr, col func(*ColumnRef) string) string {
	exprName := func(e Expr) string { return exprNameWith(e, col) }
	orderNames := func(items []OrderItem) string { return orderNamesWith(items, col) }
	switch e := e.(type) {
	case *ColumnRef:
		if col != nil {
			return col(e)
		}
		if e.Qual != "" {
			return e.Qual + "." + e.Name
		}
		return e.Name
	case *Literal:
		return literalName(e)
	case *Unary:
		if e.Op == "not" {
			return "NOT " + exprName(e.X)
		}
		return "(- " + exprName(e.X) + ")"
	case *Binary:
		op := strings.ToUpper(e.Op)
		return exprName(e.L) + " " + op + " " + exprName(e.R)
	case *IsNull:
		if e.Not {
			return exprName(e.X) + " IS NOT NULL"
		}
		return exprName(e.X) + " IS NULL"
	case *IsBool:
		s := exprName(e.X) + " IS "
		if e.Not {
			s += "NOT "
		}
		return s + strings.ToUpper(strconv.FormatBool(e.Value))
	case *InList:
		parts := make([]string, len(e.List))
		for i, x := range e.List {
			parts[i] = exprName(x)
		}
		not := ""
		if e.Not {
			not = "NOT "
		}
		return exprName(e.X) + " " + not + "IN ([" + strings.Join(parts, ", ") + "])"
	case *InSubquery:
		if e.Not {
			return exprName(e.X) + " NOT IN (<subquery>)"
		}
		return exprName(e.X) + " IN (<subquery>)"
	case *Like:
		op := "LIKE"
		if e.CaseInsensitive {
			op = "ILIKE"
		}
		if e.Not {
			op = "NOT " + op
		}
		return exprName(e.X) + " " + op + " " + exprName(e.Pattern)
	case *Between:
		not := ""
		if e.Not {
			not = "NOT "
		}
		return exprName(e.X) + " " + not + "BETWEEN " + exprName(e.Lo) + " AND " + exprName(e.Hi)
	case *Call:
		var b strings.Builder
		b.WriteString(e.Name)
		b.WriteByte('(')
		if e.Distinct {
			b.WriteString("DISTINCT ")
		}
		if e.Star {
			b.WriteByte('*')
		}
		for i, a := range e.Args {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(exprName(a))
		}
		if len(e.OrderBy) > 0 {
			b.WriteString(" ORDER BY [")
			b.WriteString(orderNames(e.OrderBy))
			b.WriteString("]")
		}
		b.WriteByte(')')
		if e.Over != nil {
			if len(e.Over.PartitionBy) > 0 {
				parts := make([]string, len(e.Over.PartitionBy))
				for i, x := range e.Over.PartitionBy {
					parts[i] = exprName(x)
				}
				b.WriteString(" PARTITION BY [" + strings.Join(parts, ", ") + "]")
			}
			if len(e.Over.OrderBy) > 0 {
				b.WriteString(" ORDER BY [" + orderNames(e.Over.OrderBy) + "]")
			}
			b.WriteString(" ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING")
		}
		return b.String()
	case *Cast:
		return "CAST(" + exprName(e.X) + " AS " + e.TypeName + ")"
	case *Case:
		return "CASE"
	case *ScalarSubquery:
		return "(<subquery>)"
	case *Exists:
		if e.Not {
			return "NOT EXISTS"
		}
		return "EXISTS"
	}
	return fmt.Sprintf("%T", e)
}

func orderNamesWith(items []OrderItem, col func(*ColumnRef) string) string {
	parts := make([]string, len(items))
	for i, o := range items {
		dir := " ASC"
		if o.Desc {
			dir = " DESC"
		}
		parts[i] = exprNameWith(o.Expr, col) + dir
	}
	return strings.Join(parts, ", ")
}

func literalName(l *Literal) string {
	v := l.Val
	switch v.Type() {
	case TypeNull:
		return "NULL"
	case TypeString:
		return "Utf8(\"" + v.s + "\")"
	case TypeInt64:
		return "Int64(" + v.String() + ")"
	case TypeUInt64:
		return "UInt64(" + v.String() + ")"
	case TypeFloat64:
		return "Float64(" + v.String() + ")"
	case TypeBool:
		return "Boolean(" + v.String() + ")"
	}
	return v.String()
}
