package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func (c *cli) sqlCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "sql QUERY",
		Short: "Query the cluster with SQL (sys_invocation, sys_journal, state, ...)",
		Long: "sql runs a query over the whole cluster, as the admin API's /query does, through the node\n" +
			"port of the node that answers.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := strings.Join(args, " ")
			started := time.Now()
			var raw json.RawMessage
			if err := c.client().call(cmd.Context(), http.MethodPost, "/v1/query", map[string]string{"query": q}, &raw); err != nil {
				return failed(err)
			}
			took := time.Since(started)
			if c.flags.json {
				var v any
				if err := json.Unmarshal(raw, &v); err != nil {
					return failed(fmt.Errorf("unexpected answer: %v", err))
				}
				return c.printJSON(v)
			}
			cols, rows, err := decodeRows(raw)
			if err != nil {
				return failed(fmt.Errorf("unexpected answer: %v", err))
			}
			tw := table(c.out)
			if len(cols) > 0 {
				fmt.Fprintln(tw, strings.Join(cols, "\t"))
			}
			for _, r := range rows {
				cells := make([]string, len(cols))
				for i, col := range cols {
					cells[i] = r[col]
				}
				fmt.Fprintln(tw, strings.Join(cells, "\t"))
			}
			tw.Flush()
			fmt.Fprintf(c.out, "\n%d rows. Query took %s\n", len(rows), took.Round(time.Millisecond))
			return nil
		},
	}
}

// decodeRows reads {"rows":[{col: value, ...}, ...]} keeping the column order of the answer
// (a JSON object's order is lost by a map). NULL columns are absent from a row and print empty.
func decodeRows(data []byte) ([]string, []map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	expect := func(want json.Delim) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); !ok || d != want {
			return fmt.Errorf("expected %q, got %v", want, tok)
		}
		return nil
	}
	if err := expect('{'); err != nil {
		return nil, nil, err
	}
	var cols []string
	known := map[string]bool{}
	var rows []map[string]string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		if key, _ := tok.(string); key != "rows" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, nil, err
			}
			continue
		}
		if err := expect('['); err != nil {
			return nil, nil, err
		}
		for dec.More() {
			if err := expect('{'); err != nil {
				return nil, nil, err
			}
			row := map[string]string{}
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					return nil, nil, err
				}
				col, ok := tok.(string)
				if !ok {
					return nil, nil, fmt.Errorf("expected a column name, got %v", tok)
				}
				var v any
				if err := dec.Decode(&v); err != nil {
					return nil, nil, err
				}
				if !known[col] {
					known[col] = true
					cols = append(cols, col)
				}
				row[col] = cell(v)
			}
			if err := expect('}'); err != nil {
				return nil, nil, err
			}
			rows = append(rows, row)
		}
		if err := expect(']'); err != nil {
			return nil, nil, err
		}
	}
	if err := expect('}'); err != nil {
		return nil, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("data after the answer")
	}
	return cols, rows, nil
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return fmt.Sprint(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
