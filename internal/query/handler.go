package query

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
)

// maxQueryBody bounds the request body of POST /query.
const maxQueryBody = 1 << 20

// Handler serves Restate's SQL introspection endpoint over tables: POST with a JSON body
// {"query": "SELECT ..."}. With "Accept: application/json" the answer is {"rows": [...]},
// one object per row without its NULL columns; with any other Accept it is an Arrow IPC
// stream, which is what the restate CLI reads for counts and `restate sql`.
func Handler(tables ...Table) http.Handler {
	return NewHandler(DefaultLimits, tables...)
}

// NewHandler is Handler with the limits of admin.query-engine: a query stops with a 500
// "Resources exhausted" when the running queries would hold more than limits.MemoryBytes, with
// a 504 after limits.Timeout, and as soon as its client disconnects.
func NewHandler(limits Limits, tables ...Table) http.Handler {
	return &handler{engine: NewEngineWithLimits(limits, tables...)}
}

type handler struct{ engine *Engine }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeQueryError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use POST")
		return
	}
	var req struct {
		Query *string `json:"query"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxQueryBody))
	if err := dec.Decode(&req); err != nil {
		writeQueryError(w, http.StatusBadRequest, "invalid request body, expected {\"query\": \"...\"}: "+err.Error())
		return
	}
	if req.Query == nil {
		writeQueryError(w, http.StatusBadRequest, "invalid request body: missing field `query`")
		return
	}
	err := h.engine.QueryThen(r.Context(), *req.Query, func(res *Result) error {
		writeResult(w, r, res)
		return nil
	})
	if err == nil {
		return
	}
	if IsUserError(err) {
		writeQueryError(w, http.StatusBadRequest, err.Error())
		return
	}
	if r.Context().Err() != nil {
		return // the client went away
	}
	status := http.StatusInternalServerError
	// A table that could not be read says why with a status (a partition unreachable: 503),
	// and so do the limits (out of memory: 500, timeout: 504).
	var withStatus interface{ HTTPStatus() int }
	if errors.As(err, &withStatus) {
		status = withStatus.HTTPStatus()
	}
	slog.Warn("SQL query failed", "query", *req.Query, "err", err)
	writeQueryError(w, status, "query failed: "+err.Error())
}

// writeResult answers a query's rows as JSON or as an Arrow IPC stream.
func writeResult(w http.ResponseWriter, r *http.Request, res *Result) {
	// The restate CLI requires exactly "application/json" on both sides to use JSON.
	if r.Header.Get("Accept") == "application/json" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(EncodeJSONRows(res.Columns, res.Rows))
		return
	}
	var buf bytes.Buffer
	if err := WriteArrowStream(&buf, res.Columns, res.Rows); err != nil {
		writeQueryError(w, http.StatusInternalServerError, "encoding the answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", ArrowContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

func writeQueryError(w http.ResponseWriter, status int, msg string) {
	body, err := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	if err != nil {
		body = []byte(`{"message":"query failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// EncodeJSONRows renders rows the way Arrow's JSON writer does: {"rows":[{...},...]}, NULL
// columns left out, binary as lower-case hex, timestamps as RFC 3339 text.
func EncodeJSONRows(cols []Column, rows []Row) []byte {
	buf := make([]byte, 0, 64+64*len(rows))
	buf = append(buf, `{"rows":[`...)
	names := make([][]byte, len(cols))
	for i, c := range cols {
		names[i], _ = json.Marshal(c.Name)
	}
	for ri, r := range rows {
		if ri > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '{')
		first := true
		for ci, v := range r {
			if v.IsNull() {
				continue
			}
			if ci < len(cols) && v.Type() != cols[ci].Type && cols[ci].Type != TypeNull {
				if cv, err := castValue(v, cols[ci].Type); err == nil {
					v = cv
				}
			}
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = append(buf, names[ci]...)
			buf = append(buf, ':')
			buf = appendJSONValue(buf, v)
		}
		buf = append(buf, '}')
	}
	return append(buf, "]}"...)
}

func appendJSONValue(buf []byte, v Value) []byte {
	switch v.Type() {
	case TypeInt64, TypeUInt32:
		return strconv.AppendInt(buf, v.i, 10)
	case TypeUInt64:
		return strconv.AppendUint(buf, v.u, 10)
	case TypeFloat64:
		if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
			return append(buf, "null"...)
		}
		return strconv.AppendFloat(buf, v.f, 'g', -1, 64)
	case TypeBool:
		return strconv.AppendBool(buf, v.AsBool())
	case TypeBytes:
		buf = append(buf, '"')
		buf = hex.AppendEncode(buf, []byte(v.s))
		return append(buf, '"')
	case TypeString:
		return appendJSONString(buf, v.s)
	}
	return appendJSONString(buf, v.String())
}

func appendJSONString(buf []byte, s string) []byte {
	b, err := json.Marshal(s)
	if err != nil {
		return append(buf, `""`...)
	}
	return append(buf, b...)
}
