package query

// The syntax tree of the SQL subset the engine runs.

// Query is a full SELECT statement: optional CTEs, a body, and the ordering and limits that
// apply to the body's result.
type Query struct {
	With    []CTE
	Body    SetExpr
	OrderBy []OrderItem
	Limit   Expr // nil when absent
	Offset  Expr
}

// CTE is one "name AS (query)" of a WITH clause.
type CTE struct {
	Name  string
	Query *Query
}

// SetExpr is a *Select, a *SetOp or a parenthesised *Query.
type SetExpr interface{ setExpr() }

// SetOp combines two query bodies: UNION, EXCEPT or INTERSECT.
type SetOp struct {
	Op   string // "union", "except", "intersect"
	All  bool
	L, R SetExpr
}

// Select is one SELECT ... FROM ... WHERE ... GROUP BY ... HAVING block.
type Select struct {
	Distinct bool
	Items    []SelectItem
	From     FromItem // nil for SELECT without FROM
	Where    Expr
	GroupBy  []Expr
	Having   Expr
}

func (*Select) setExpr() {}
func (*SetOp) setExpr()  {}
func (*Query) setExpr()  {}

// SelectItem is "expr [AS alias]", "*" or "qualifier.*".
type SelectItem struct {
	Expr     Expr
	Alias    string
	Star     bool
	StarQual string
}

// FromItem is a *TableRef, a *DerivedTable or a *Join.
type FromItem interface{ fromItem() }

// TableRef names a table, e.g. "sys_invocation inv" or "information_schema.columns".
type TableRef struct {
	Schema string
	Name   string
	Alias  string
	Pos    int
}

// DerivedTable is "(query) [AS alias]".
type DerivedTable struct {
	Query *Query
	Alias string
}

// Join combines two FROM items. Kind is "inner", "left", "right", "full" or "cross".
type Join struct {
	Kind        string
	Left, Right FromItem
	On          Expr
}

func (*TableRef) fromItem()     {}
func (*DerivedTable) fromItem() {}
func (*Join) fromItem()         {}

// OrderItem is one ORDER BY term.
type OrderItem struct {
	Expr       Expr
	Desc       bool
	NullsFirst *bool // nil: NULLs last ascending, first descending
}

// Expr is an expression node.
type Expr interface{ exprNode() }

type (
	// ColumnRef is "name" or "qualifier.name".
	ColumnRef struct {
		Qual string
		Name string
		Pos  int
	}
	// Literal is a constant.
	Literal struct {
		Val Value
		Raw string // source text for numbers, to name the output column
	}
	// Unary is NOT x or -x.
	Unary struct {
		Op string // "not", "-"
		X  Expr
	}
	// Binary is x op y for comparisons, AND, OR, arithmetic and ||.
	Binary struct {
		Op   string
		L, R Expr
	}
	// IsNull is "x IS [NOT] NULL".
	IsNull struct {
		X   Expr
		Not bool
	}
	// IsBool is "x IS [NOT] TRUE|FALSE".
	IsBool struct {
		X     Expr
		Value bool
		Not   bool
	}
	// InList is "x [NOT] IN (a, b, ...)".
	InList struct {
		X    Expr
		List []Expr
		Not  bool
	}
	// InSubquery is "x [NOT] IN (SELECT ...)".
	InSubquery struct {
		X     Expr
		Query *Query
		Not   bool
	}
	// Like is "x [NOT] LIKE|ILIKE pattern".
	Like struct {
		X, Pattern      Expr
		Not             bool
		CaseInsensitive bool
	}
	// Between is "x [NOT] BETWEEN lo AND hi".
	Between struct {
		X, Lo, Hi Expr
		Not       bool
	}
	// Call is a function call, aggregate or window function.
	Call struct {
		Name     string
		Args     []Expr
		Star     bool // COUNT(*)
		Distinct bool
		OrderBy  []OrderItem // FIRST_VALUE(x ORDER BY y)
		Over     *Window
		Pos      int
	}
	// Cast is "CAST(x AS type)", "TRY_CAST(x AS type)" or "x::type".
	Cast struct {
		X        Expr
		To       Type
		TypeName string
		Try      bool // TRY_CAST: NULL instead of an error when the value does not convert
	}
	// Case is "CASE [operand] WHEN ... THEN ... [ELSE ...] END".
	Case struct {
		Operand Expr
		Whens   []When
		Else    Expr
	}
	// ScalarSubquery is "(SELECT ...)" used as a value.
	ScalarSubquery struct {
		Query *Query
	}
	// Exists is "[NOT] EXISTS (SELECT ...)".
	Exists struct {
		Query *Query
		Not   bool
	}
)

// When is one "WHEN cond THEN result" arm.
type When struct {
	Cond, Result Expr
}

// Window is the OVER (...) clause of a window function.
type Window struct {
	PartitionBy []Expr
	OrderBy     []OrderItem
}

func (*ColumnRef) exprNode()      {}
func (*Literal) exprNode()        {}
func (*Unary) exprNode()          {}
func (*Binary) exprNode()         {}
func (*IsNull) exprNode()         {}
func (*IsBool) exprNode()         {}
func (*InList) exprNode()         {}
func (*InSubquery) exprNode()     {}
func (*Like) exprNode()           {}
func (*Between) exprNode()        {}
func (*Call) exprNode()           {}
func (*Cast) exprNode()           {}
func (*Case) exprNode()           {}
func (*ScalarSubquery) exprNode() {}
func (*Exists) exprNode()         {}
