package query

import (
	"context"
	"sort"
)

// The catalog and schema names DataFusion reports for registered tables.
const (
	catalogName = "datafusion"
	schemaName  = "public"
)

// informationSchema builds information_schema.tables and information_schema.columns, which
// the restate CLI queries to learn which columns a server has.
func informationSchema(tables []Table) map[string]Table {
	sorted := append([]Table{}, tables...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name() < sorted[j].Name() })

	tablesCols := []Column{
		{"table_catalog", TypeString}, {"table_schema", TypeString},
		{"table_name", TypeString}, {"table_type", TypeString},
	}
	columnsCols := []Column{
		{"table_catalog", TypeString}, {"table_schema", TypeString}, {"table_name", TypeString},
		{"column_name", TypeString}, {"ordinal_position", TypeUInt64}, {"column_default", TypeString},
		{"is_nullable", TypeString}, {"data_type", TypeString},
	}
	var tableRows, columnRows []Row
	addTable := func(schema, name, kind string, cols []Column) {
		tableRows = append(tableRows, Row{String(catalogName), String(schema), String(name), String(kind)})
		for i, c := range cols {
			columnRows = append(columnRows, Row{
				String(catalogName), String(schema), String(name), String(c.Name),
				Uint(uint64(i)), Null, String("YES"), String(c.Type.String()),
			})
		}
	}
	for _, t := range sorted {
		addTable(schemaName, t.Name(), "BASE TABLE", t.Columns())
	}
	addTable("information_schema", "tables", "VIEW", tablesCols)
	addTable("information_schema", "columns", "VIEW", columnsCols)
	return map[string]Table{
		"tables":  &StaticTable{TableName: "tables", Cols: tablesCols, Rows: tableRows},
		"columns": &infoColumns{StaticTable{TableName: "columns", Cols: columnsCols, Rows: columnRows}},
	}
}

// infoColumns serves lookups by table name without scanning every column.
type infoColumns struct{ StaticTable }

func (t *infoColumns) ScanFiltered(ctx context.Context, filters []Equality, emit func(Row) bool) error {
	names, ok := Lookup(filters, "table_name")
	if !ok {
		return t.Scan(ctx, emit)
	}
	for _, r := range t.Rows {
		if MatchesAny(r[2], names) && !emit(r) {
			return nil
		}
	}
	return nil
}
