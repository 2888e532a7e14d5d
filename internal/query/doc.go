// Package query is the SQL introspection engine behind the admin API's POST /query: a parser
// and executor for the DataFusion-flavoured SQL that the restate CLI, the web UI and users send,
// the Arrow IPC and JSON answer formats, and the tables over the partitions and the schema.
//
// Supported: SELECT [DISTINCT] with *, t.*, expressions and aliases; FROM tables, CTEs (WITH),
// derived tables, [INNER|LEFT|RIGHT|FULL|CROSS] JOIN ... ON and comma joins; WHERE; GROUP BY;
// HAVING; ORDER BY (output names, positions or input expressions, NULLS FIRST/LAST); LIMIT;
// OFFSET; UNION [ALL], EXCEPT, INTERSECT; uncorrelated IN (SELECT ...), EXISTS and scalar
// subqueries; = == != <> < <= > >= AND OR NOT, IS [NOT] NULL/TRUE/FALSE, IS [NOT] DISTINCT FROM,
// [NOT] IN, [NOT] LIKE/ILIKE, BETWEEN, + - * / % ||, CASE, CAST/TRY_CAST/::; aggregates count
// (incl. DISTINCT), sum, min, max, avg, first_value/last_value (with ORDER BY), bool_and,
// bool_or, string_agg; window functions row_number, rank, dense_rank and the aggregates over
// (PARTITION BY ... ORDER BY ...); a few scalar functions (see scalarFuncs); information_schema
// tables and columns; SHOW TABLES, SHOW COLUMNS, DESCRIBE.
//
// Not supported: correlated subqueries, recursive CTEs, window frames (ROWS/RANGE), intervals,
// lists and structs, DataFusion's JSON functions, and DML.
package query
