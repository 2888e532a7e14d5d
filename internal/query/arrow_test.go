package query

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A small FlatBuffers reader, independent of the writer, to check the bytes follow the format.
type fbReader struct {
	t   *testing.T
	buf []byte
}

func (r fbReader) u32(pos int) int {
	if pos < 0 || pos+4 > len(r.buf) {
		r.t.Fatalf("read at %d outside %d-byte buffer", pos, len(r.buf))
	}
	return int(binary.LittleEndian.Uint32(r.buf[pos:]))
}

// field returns the absolute position of table field id, or -1 when absent.
func (r fbReader) field(table, id int) int {
	if table%4 != 0 {
		r.t.Fatalf("table at %d is not 4-aligned", table)
	}
	vt := table - int(int32(r.u32(table)))
	vtSize := int(binary.LittleEndian.Uint16(r.buf[vt:]))
	if 4+2*id >= vtSize {
		return -1
	}
	off := int(binary.LittleEndian.Uint16(r.buf[vt+4+2*id:]))
	if off == 0 {
		return -1
	}
	return table + off
}

func (r fbReader) scalar(table, id, size int) uint64 {
	p := r.field(table, id)
	if p < 0 {
		return 0
	}
	if p%size != 0 {
		r.t.Fatalf("field %d of table %d at %d is not %d-aligned", id, table, p, size)
	}
	switch size {
	case 1:
		return uint64(r.buf[p])
	case 2:
		return uint64(binary.LittleEndian.Uint16(r.buf[p:]))
	case 4:
		return uint64(binary.LittleEndian.Uint32(r.buf[p:]))
	}
	return binary.LittleEndian.Uint64(r.buf[p:])
}

func (r fbReader) ref(table, id int) int {
	p := r.field(table, id)
	if p < 0 {
		r.t.Fatalf("field %d of table %d missing", id, table)
	}
	return p + r.u32(p)
}

func (r fbReader) str(table, id int) string {
	p := r.ref(table, id)
	n := r.u32(p)
	if r.buf[p+4+n] != 0 {
		r.t.Fatalf("string at %d is not NUL-terminated", p)
	}
	return string(r.buf[p+4 : p+4+n])
}

func (r fbReader) vector(table, id int) (start, n int) {
	p := r.ref(table, id)
	return p + 4, r.u32(p)
}

type arrowMessage struct {
	r          fbReader
	header     int
	headerType uint64
	body       []byte
}

func readArrowStream(t *testing.T, b []byte) []arrowMessage {
	t.Helper()
	var msgs []arrowMessage
	for {
		if len(b) < 8 || binary.LittleEndian.Uint32(b) != 0xffffffff {
			t.Fatalf("message does not start with the continuation marker: % x", b[:min(8, len(b))])
		}
		n := int(binary.LittleEndian.Uint32(b[4:]))
		if n == 0 {
			if len(b) != 8 {
				t.Fatalf("%d bytes after the end-of-stream marker", len(b)-8)
			}
			return msgs
		}
		if n%8 != 0 {
			t.Fatalf("metadata length %d is not a multiple of 8", n)
		}
		r := fbReader{t: t, buf: b[8 : 8+n]}
		msg := r.u32(0)
		if v := r.scalar(msg, 0, 2); v != arrowMetadataV5 {
			t.Fatalf("metadata version %d", v)
		}
		bodyLen := int(r.scalar(msg, 3, 8))
		if bodyLen%8 != 0 {
			t.Fatalf("body length %d is not a multiple of 8", bodyLen)
		}
		msgs = append(msgs, arrowMessage{r: r, header: r.ref(msg, 2), headerType: r.scalar(msg, 1, 1), body: b[8+n : 8+n+bodyLen]})
		b = b[8+n+bodyLen:]
	}
}

func TestArrowStreamLayout(t *testing.T) {
	cols := []Column{{"s", TypeString}, {"i", TypeInt64}, {"u", TypeUInt64}, {"u32", TypeUInt32}, {"f", TypeFloat64},
		{"b", TypeBool}, {"bin", TypeBytes}, {"ts", TypeTimestamp}, {"d", TypeDuration}, {"n", TypeNull}}
	rows := []Row{
		{String("héllo"), Int(-5), Uint(math.MaxUint64), Uint32(7), Float(2.5), Bool(true), Bytes([]byte{0, 1}), Timestamp(1700000000123), Value{t: TypeDuration, i: 1500}, Null},
		{Null, Null, Null, Null, Null, Null, Null, Null, Null, Null},
		{String(""), Uint(3), Int(9), Int(8), Int(1), Bool(false), Bytes(nil), Timestamp(-1), Value{t: TypeDuration}, Null},
	}
	var buf bytes.Buffer
	if err := WriteArrowStream(&buf, cols, rows); err != nil {
		t.Fatal(err)
	}
	msgs := readArrowStream(t, buf.Bytes())
	if len(msgs) != 2 || msgs[0].headerType != arrowHeaderSchema || msgs[1].headerType != arrowHeaderRecordBatch {
		t.Fatalf("messages = %+v", msgs)
	}

	// Schema: names, nullability and types.
	s := msgs[0]
	start, n := s.r.vector(s.header, 1)
	if n != len(cols) {
		t.Fatalf("%d schema fields", n)
	}
	wantTypes := []uint64{arrowTypeUtf8, arrowTypeInt, arrowTypeInt, arrowTypeInt, arrowTypeFloatingPoint, arrowTypeBool, arrowTypeBinary, arrowTypeTimestamp, arrowTypeDuration, arrowTypeNull}
	for i := range n {
		p := start + 4*i
		f := p + s.r.u32(p)
		if name := s.r.str(f, 0); name != cols[i].Name {
			t.Errorf("field %d name %q", i, name)
		}
		if s.r.scalar(f, 1, 1) != 1 {
			t.Errorf("field %d not nullable", i)
		}
		if ty := s.r.scalar(f, 2, 1); ty != wantTypes[i] {
			t.Errorf("field %d type %d, want %d", i, ty, wantTypes[i])
		}
		typ := s.r.ref(f, 3)
		switch cols[i].Type {
		case TypeInt64, TypeUInt64, TypeUInt32:
			width, signed := s.r.scalar(typ, 0, 4), s.r.scalar(typ, 1, 1)
			wantWidth, wantSigned := uint64(64), uint64(0)
			if cols[i].Type == TypeUInt32 {
				wantWidth = 32
			}
			if cols[i].Type == TypeInt64 {
				wantSigned = 1
			}
			if width != wantWidth || signed != wantSigned {
				t.Errorf("field %d int(%d, signed %d)", i, width, signed)
			}
		case TypeTimestamp:
			if s.r.scalar(typ, 0, 2) != arrowUnitMillisecond || s.r.str(typ, 1) != "+00:00" {
				t.Errorf("timestamp type wrong")
			}
		}
	}

	// Record batch: nodes, buffers and values.
	b := msgs[1]
	if l := b.r.scalar(b.header, 0, 8); l != 3 {
		t.Fatalf("batch length %d", l)
	}
	nodesAt, nNodes := b.r.vector(b.header, 1)
	bufsAt, nBufs := b.r.vector(b.header, 2)
	if nodesAt%8 != 0 || bufsAt%8 != 0 {
		t.Fatalf("struct vectors not 8-aligned: %d %d", nodesAt, bufsAt)
	}
	if nNodes != len(cols) || nBufs != 2*3+2*7 {
		t.Fatalf("%d nodes, %d buffers", nNodes, nBufs)
	}
	i64 := func(p int) int64 { return int64(binary.LittleEndian.Uint64(b.r.buf[p:])) }
	buffer := func(k int) []byte {
		off, l := i64(bufsAt+16*k), i64(bufsAt+16*k+8)
		if off%8 != 0 || off+l > int64(len(b.body)) {
			t.Fatalf("buffer %d at %d+%d outside the %d-byte body", k, off, l, len(b.body))
		}
		return b.body[off : off+l]
	}
	for c := range cols {
		length, nulls := i64(nodesAt+16*c), i64(nodesAt+16*c+8)
		wantNulls := int64(1)
		if cols[c].Type == TypeNull {
			wantNulls = 3
		}
		if length != 3 || nulls != wantNulls {
			t.Errorf("column %d node (%d, %d)", c, length, nulls)
		}
	}
	if v := buffer(0); len(v) != 1 || v[0] != 0b101 {
		t.Errorf("string validity % x", v)
	}
	offsets, data := buffer(1), buffer(2)
	if binary.LittleEndian.Uint32(offsets[4:]) != 6 || string(data) != "héllo" {
		t.Errorf("string offsets % x data %q", offsets, data)
	}
	if got := int64(binary.LittleEndian.Uint64(buffer(4))); got != -5 {
		t.Errorf("int64[0] = %d", got)
	}
	if got := binary.LittleEndian.Uint64(buffer(6)); got != math.MaxUint64 {
		t.Errorf("uint64[0] = %d", got)
	}
	if got := binary.LittleEndian.Uint64(buffer(6)[16:]); got != 9 {
		t.Errorf("uint64[2] = %d (an Int64 value converted)", got)
	}
	if got := binary.LittleEndian.Uint32(buffer(8)[8:]); got != 8 {
		t.Errorf("uint32[2] = %d", got)
	}
	if got := math.Float64frombits(binary.LittleEndian.Uint64(buffer(10))); got != 2.5 {
		t.Errorf("float[0] = %v", got)
	}
	if got := buffer(12); got[0] != 0b001 {
		t.Errorf("bool bits % x", got)
	}
	if got := int64(binary.LittleEndian.Uint64(buffer(17))); got != 1700000000123 {
		t.Errorf("timestamp[0] = %d", got)
	}
}

func TestArrowEmptyResult(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteArrowStream(&buf, []Column{{"count(*)", TypeInt64}}, nil); err != nil {
		t.Fatal(err)
	}
	if msgs := readArrowStream(t, buf.Bytes()); len(msgs) != 1 || msgs[0].headerType != arrowHeaderSchema {
		t.Fatalf("an empty answer is a schema and the end marker, got %d messages", len(msgs))
	}
}

func postQuery(t *testing.T, h http.Handler, accept, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerJSON(t *testing.T) {
	h := Handler(testTables()...)
	rec := postQuery(t, h, "application/json", `{"query":"SELECT k, v, f, ok, NULL AS n FROM kv ORDER BY k"}`)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	want := `{"rows":[{"k":"a","v":"0102","f":1.5,"ok":true},{"k":"b","f":-2,"ok":false}]}`
	if rec.Body.String() != want {
		t.Fatalf("body %s\nwant %s", rec.Body, want)
	}
	rec = postQuery(t, h, "application/json", `{"query":"SELECT id, created, retries, size FROM inv WHERE id = 'i2'"}`)
	if want := `{"rows":[{"id":"i2","created":"1970-01-01T00:00:01Z","retries":4,"size":5}]}`; rec.Body.String() != want {
		t.Fatalf("body %s\nwant %s", rec.Body, want)
	}
	rec = postQuery(t, h, "application/json", `{"query":"SELECT id FROM inv WHERE id = 'none'"}`)
	if rec.Body.String() != `{"rows":[]}` {
		t.Fatalf("empty: %s", rec.Body)
	}
}

func TestHandlerArrow(t *testing.T) {
	h := Handler(testTables()...)
	for _, accept := range []string{"", "*/*", ArrowContentType} {
		rec := postQuery(t, h, accept, `{"query":"SELECT COUNT(*) FROM inv"}`)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != ArrowContentType {
			t.Fatalf("Accept %q: %d %s", accept, rec.Code, rec.Header().Get("Content-Type"))
		}
		msgs := readArrowStream(t, rec.Body.Bytes())
		if len(msgs) != 2 {
			t.Fatalf("%d messages", len(msgs))
		}
		bufsAt, _ := msgs[1].r.vector(msgs[1].header, 2)
		off := binary.LittleEndian.Uint64(msgs[1].r.buf[bufsAt+16:])
		if got := binary.LittleEndian.Uint64(msgs[1].body[off:]); got != 4 {
			t.Fatalf("count = %d", got)
		}
	}
}

func TestHandlerErrors(t *testing.T) {
	h := Handler(testTables()...)
	cases := []struct {
		method, body string
		status       int
		want         string
	}{
		{http.MethodPost, `{"query":"SELECT nope FROM inv"}`, 400, `unknown column \"nope\"`},
		{http.MethodPost, `{"query":"SELECT FROM"}`, 400, "syntax error at position 8"},
		{http.MethodPost, `{"query":"SELECT * FROM missing"}`, 400, `unknown table \"missing\"`},
		{http.MethodPost, `not json`, 400, "invalid request body"},
		{http.MethodPost, `{}`, 400, "missing field `query`"},
		{http.MethodGet, ``, 405, "use POST"},
	}
	for _, c := range cases {
		req := httptest.NewRequest(c.method, "/query", strings.NewReader(c.body))
		req.Header.Set("Accept", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body struct{ Message string }
		if rec.Code != c.status || json.Unmarshal(rec.Body.Bytes(), &body) != nil || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("%s %s: %d %s, want %d with %q", c.method, c.body, rec.Code, rec.Body, c.status, c.want)
		}
	}
}
