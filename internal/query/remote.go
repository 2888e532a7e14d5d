package query

import (
	"fmt"
	"math"

	"github.com/restatego/restate/internal/codec"
)

// The bytes of a remote scan: a node asks another for a partitioned table's rows of some
// partitions, and gets the rows back. Both messages start with a format version so nodes of
// different releases can tell what they receive.
//
//	request: version | uvarint len, table | uvarint n, n × uvarint partition |
//	         uvarint n, n × (uvarint len, column | uvarint m, m × value)
//	rows:    version | uvarint columns | uvarint n, n × (columns × value)
//	value:   type byte | payload (none for NULL; varint for the signed kinds; uvarint for
//	         UInt64; 8 big-endian bytes for Float64; uvarint len and bytes for String and Bytes)
const remoteFormat = 1

// ScanRequest asks a node for the rows of Table in Partitions that pass Filters.
type ScanRequest struct {
	Table      string
	Partitions []uint16
	Filters    []Equality
}

// Encode serializes the request.
func (r *ScanRequest) Encode() []byte {
	e := codec.Encoder{Buf: []byte{remoteFormat}}
	e.String(r.Table)
	e.Uvarint(uint64(len(r.Partitions)))
	for _, p := range r.Partitions {
		e.Uvarint(uint64(p))
	}
	e.Uvarint(uint64(len(r.Filters)))
	for _, f := range r.Filters {
		e.String(f.Column)
		e.Uvarint(uint64(len(f.Values)))
		for _, v := range f.Values {
			encodeValue(&e, v)
		}
	}
	return e.Buf
}

// DecodeScanRequest parses what Encode wrote.
func DecodeScanRequest(b []byte) (*ScanRequest, error) {
	d := remoteDecoder{Decoder: codec.NewDecoder(b)}
	if v := d.Byte(); v != remoteFormat {
		return nil, fmt.Errorf("scan request of unknown format %d", v)
	}
	r := &ScanRequest{Table: d.String()}
	for range d.count() {
		p := d.Uvarint()
		if p > math.MaxUint16 {
			d.fail("partition %d out of range", p)
		}
		r.Partitions = append(r.Partitions, uint16(p))
	}
	for range d.count() {
		f := Equality{Column: d.String()}
		for range d.count() {
			f.Values = append(f.Values, d.value())
		}
		r.Filters = append(r.Filters, f)
	}
	return r, d.finish()
}

// EncodeRows serializes rows of the given width.
func EncodeRows(width int, rows []Row) ([]byte, error) {
	e := codec.Encoder{Buf: []byte{remoteFormat}}
	e.Uvarint(uint64(width))
	e.Uvarint(uint64(len(rows)))
	for _, r := range rows {
		if len(r) != width {
			return nil, fmt.Errorf("row of %d values in a table of %d columns", len(r), width)
		}
		for _, v := range r {
			encodeValue(&e, v)
		}
	}
	return e.Buf, nil
}

// DecodeRows parses what EncodeRows wrote; width is the number of columns the caller expects.
func DecodeRows(b []byte, width int) ([]Row, error) {
	d := remoteDecoder{Decoder: codec.NewDecoder(b)}
	if v := d.Byte(); v != remoteFormat {
		return nil, fmt.Errorf("rows of unknown format %d", v)
	}
	if w := d.Uvarint(); d.Err() == nil && w != uint64(width) {
		return nil, fmt.Errorf("rows of %d columns, expected %d", w, width)
	}
	n := d.count()
	rows := make([]Row, 0, n)
	for range n {
		r := make(Row, width)
		for i := range r {
			r[i] = d.value()
		}
		if d.failed() {
			break
		}
		rows = append(rows, r)
	}
	return rows, d.finish()
}

func encodeValue(e *codec.Encoder, v Value) {
	e.Byte(byte(v.t))
	switch v.t {
	case TypeString, TypeBytes:
		e.String(v.s)
	case TypeInt64, TypeUInt32, TypeBool, TypeTimestamp, TypeDuration:
		e.Varint(v.i)
	case TypeUInt64:
		e.Uvarint(v.u)
	case TypeFloat64:
		e.Float64(v.f)
	}
}

// remoteDecoder adds the checks of values and counts to the codec's decoder; the first
// problem of either kind is the one reported.
type remoteDecoder struct {
	*codec.Decoder
	err error
}

func (d *remoteDecoder) fail(format string, args ...any) {
	if d.err == nil && d.Err() == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *remoteDecoder) failed() bool { return d.err != nil || d.Err() != nil }

// count reads a number of items that follow; each takes at least one byte, so a count larger
// than what is left is rejected before anything is allocated for it.
func (d *remoteDecoder) count() int {
	n := d.Uvarint()
	if left := len(d.Rest()); n > uint64(left) {
		d.fail("count %d exceeds the %d bytes left", n, left)
		return 0
	}
	if d.failed() {
		return 0
	}
	return int(n)
}

func (d *remoteDecoder) value() Value {
	t := Type(d.Byte())
	switch t {
	case TypeNull:
		return Null
	case TypeString, TypeBytes:
		return Value{t: t, s: d.String()}
	case TypeInt64, TypeTimestamp, TypeDuration:
		return Value{t: t, i: d.Varint()}
	case TypeUInt32:
		i := d.Varint()
		if i < 0 || i > math.MaxUint32 {
			d.fail("UInt32 value %d out of range", i)
		}
		return Value{t: t, i: i}
	case TypeBool:
		i := d.Varint()
		if i != 0 && i != 1 {
			d.fail("Boolean value %d", i)
		}
		return Value{t: t, i: i}
	case TypeUInt64:
		return Value{t: t, u: d.Uvarint()}
	case TypeFloat64:
		return Value{t: t, f: d.Float64()}
	}
	d.fail("unknown value type %d", t)
	return Null
}

func (d *remoteDecoder) finish() error {
	if err := d.Err(); err != nil {
		return err
	}
	if d.err == nil && len(d.Rest()) > 0 {
		d.fail("%d trailing bytes", len(d.Rest()))
	}
	return d.err
}
