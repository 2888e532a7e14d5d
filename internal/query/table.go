package query

import "context"

// Column describes one column of a table.
type Column struct {
	Name string
	Type Type
}

// Row is one table row: values aligned with the table's Columns. A scan may hand the engine a
// row it reuses for the next call only if it never does: the engine keeps the rows it is given.
type Row []Value

// Table is a relation the SQL engine can read.
type Table interface {
	// Name is the name queries use, e.g. "sys_invocation".
	Name() string
	Columns() []Column
	// Scan calls emit for every row until emit returns false or ctx ends.
	Scan(ctx context.Context, emit func(Row) bool) error
}

// Equality restricts a column to one of a few values: the query's WHERE clause holds
// "column = value" or "column IN (values...)". Values may be empty ("id IN (NULL)"): then no
// row matches. A value's type may differ from the column's (a string compared with a number
// column); MatchesAny compares the way the engine does.
type Equality struct {
	Column string
	Values []Value
}

// MatchesAny reports whether v equals one of values under SQL comparison rules.
func MatchesAny(v Value, values []Value) bool {
	for _, w := range values {
		if !v.IsNull() && !w.IsNull() && equalValues(v, w) {
			return true
		}
	}
	return false
}

// FilteredScanner is implemented by tables that can skip rows cheaply, for example by reading
// one invocation by id instead of scanning every partition. filters holds the equalities the
// WHERE clause implies for this table; the table may use any of them, or none: the engine
// applies the whole WHERE clause to what the scan returns.
type FilteredScanner interface {
	ScanFiltered(ctx context.Context, filters []Equality, emit func(Row) bool) error
}

// Lookup returns the values an equality filter allows for column, if filters restrict it.
func Lookup(filters []Equality, column string) ([]Value, bool) {
	for _, f := range filters {
		if f.Column == column {
			return f.Values, true
		}
	}
	return nil, false
}

// StaticTable is a table whose rows are known up front (tests and small catalogs).
type StaticTable struct {
	TableName string
	Cols      []Column
	Rows      []Row
}

func (t *StaticTable) Name() string      { return t.TableName }
func (t *StaticTable) Columns() []Column { return t.Cols }

func (t *StaticTable) Scan(ctx context.Context, emit func(Row) bool) error {
	for _, r := range t.Rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !emit(r) {
			return nil
		}
	}
	return nil
}

// FuncTable is a table whose rows a function produces on every scan, e.g. from the current
// schema snapshot.
type FuncTable struct {
	TableName string
	Cols      []Column
	Rows      func(ctx context.Context, filters []Equality, emit func(Row) bool) error
}

func (t *FuncTable) Name() string      { return t.TableName }
func (t *FuncTable) Columns() []Column { return t.Cols }

func (t *FuncTable) Scan(ctx context.Context, emit func(Row) bool) error {
	return t.Rows(ctx, nil, emit)
}

func (t *FuncTable) ScanFiltered(ctx context.Context, filters []Equality, emit func(Row) bool) error {
	return t.Rows(ctx, filters, emit)
}
