package query

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The bytes of a remote scan: a node asks another for a partitioned table's rows of some
// partitions, and gets the rows back. Both messages start with a format version so nodes of
// different releases can tell what they receive.
//
//	request: version | uvarint len, table | uvarint n, n × uvarint partition |
//	         uvarint n, n × (uvarint len, column | uvarint m, m × value)
//	rows:    version | uvarint columns | uvarint n, n × (columns × value)
//	value:   type byte | payload (none for NULL; varint for the signed kinds; uvarint for
//	         UInt64; 8 bytes for Float64; uvarint len and bytes for String and Bytes)
const remoteFormat = 1

// ScanRequest asks a node for the rows of Table in Partitions that pass Filters.
type ScanRequest struct {
	Table      string
	Partitions []uint16
	Filters    []Equality
}

// Encode serializes the request.
func (r *ScanRequest) Encode() []byte {
	b := []byte{remoteFormat}
	b = appendString(b, r.Table)
	b = binary.AppendUvarint(b, uint64(len(r.Partitions)))
	for _, p := range r.Partitions {
		b = binary.AppendUvarint(b, uint64(p))
	}
	b = binary.AppendUvarint(b, uint64(len(r.Filters)))
	for _, f := range r.Filters {
		b = appendString(b, f.Column)
		b = binary.AppendUvarint(b, uint64(len(f.Values)))
		for _, v := range f.Values {
			b = appendValue(b, v)
		}
	}
	return b
}

// DecodeScanRequest parses what Encode wrote.
func DecodeScanRequest(b []byte) (*ScanRequest, error) {
	d := decoder{b: b}
	if v := d.byte(); v != remoteFormat {
		return nil, fmt.Errorf("scan request of unknown format %d", v)
	}
	r := &ScanRequest{Table: d.string()}
	n := d.count()
	for range n {
		p := d.uvarint()
		if p > math.MaxUint16 {
			d.fail("partition %d out of range", p)
		}
		r.Partitions = append(r.Partitions, uint16(p))
	}
	n = d.count()
	for range n {
		f := Equality{Column: d.string()}
		m := d.count()
		for range m {
			f.Values = append(f.Values, d.value())
		}
		r.Filters = append(r.Filters, f)
	}
	return r, d.finish()
}

// EncodeRows serializes rows of the given width.
func EncodeRows(width int, rows []Row) ([]byte, error) {
	b := []byte{remoteFormat}
	b = binary.AppendUvarint(b, uint64(width))
	b = binary.AppendUvarint(b, uint64(len(rows)))
	for _, r := range rows {
		if len(r) != width {
			return nil, fmt.Errorf("row of %d values in a table of %d columns", len(r), width)
		}
		for _, v := range r {
			b = appendValue(b, v)
		}
	}
	return b, nil
}

// DecodeRows parses what EncodeRows wrote; width is the number of columns the caller expects.
func DecodeRows(b []byte, width int) ([]Row, error) {
	d := decoder{b: b}
	if v := d.byte(); v != remoteFormat {
		return nil, fmt.Errorf("rows of unknown format %d", v)
	}
	if w := d.uvarint(); d.err == nil && w != uint64(width) {
		return nil, fmt.Errorf("rows of %d columns, expected %d", w, width)
	}
	n := d.count()
	rows := make([]Row, 0, n)
	for range n {
		r := make(Row, width)
		for i := range r {
			r[i] = d.value()
		}
		if d.err != nil {
			break
		}
		rows = append(rows, r)
	}
	return rows, d.finish()
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendValue(b []byte, v Value) []byte {
	b = append(b, byte(v.t))
	switch v.t {
	case TypeString, TypeBytes:
		b = appendString(b, v.s)
	case TypeInt64, TypeUInt32, TypeBool, TypeTimestamp, TypeDuration:
		b = binary.AppendVarint(b, v.i)
	case TypeUInt64:
		b = binary.AppendUvarint(b, v.u)
	case TypeFloat64:
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.f))
	}
	return b
}

// decoder reads the encoding above; the first problem sticks in err and later reads return
// zero values, so callers check once at the end.
type decoder struct {
	b   []byte
	err error
}

var errTruncated = errors.New("truncated")

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail("%w", errTruncated)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a number of items that follow; each takes at least one byte, so a count larger
// than what is left is rejected before anything is allocated for it.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("count %d exceeds the %d bytes left", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail("%w string of %d bytes", errTruncated, n)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) value() Value {
	t := Type(d.byte())
	switch t {
	case TypeNull:
		return Null
	case TypeString, TypeBytes:
		return Value{t: t, s: d.string()}
	case TypeInt64, TypeTimestamp, TypeDuration:
		return Value{t: t, i: d.varint()}
	case TypeUInt32:
		i := d.varint()
		if i < 0 || i > math.MaxUint32 {
			d.fail("UInt32 value %d out of range", i)
		}
		return Value{t: t, i: i}
	case TypeBool:
		i := d.varint()
		if i != 0 && i != 1 {
			d.fail("Boolean value %d", i)
		}
		return Value{t: t, i: i}
	case TypeUInt64:
		return Value{t: t, u: d.uvarint()}
	case TypeFloat64:
		if len(d.b) < 8 {
			d.fail("%w float", errTruncated)
			return Null
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
		return Value{t: t, f: f}
	}
	d.fail("unknown value type %d", t)
	return Null
}

func (d *decoder) finish() error {
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}
