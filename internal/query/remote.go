package query

import (
	"fmt"
	"math"

	"github.com/restatego/restate/internal/codec"
)

// The bytes of a remote scan: a node asks another for a partitioned table's rows of some
// partitions, and gets the rows back, plus the partitions it declined (it does not lead them,
// and the request wanted leaders only) with the leader it knows. Both messages start with a
// format version so nodes of different releases can tell what they receive.
//
//	request: version | uvarint len, table | flags byte (1: followers may answer) |
//	         uvarint n, n × uvarint partition |
//	         uvarint n, n × (uvarint len, column | uvarint m, m × value)
//	result:  version | uvarint columns | (0x01, columns × value)* | 0x00 |
//	         uvarint n, n × (uvarint partition, uvarint leader or 0)
//	value:   type byte | payload (none for NULL; varint for the signed kinds; uvarint for
//	         UInt64; 8 big-endian bytes for Float64; uvarint len and bytes for String and Bytes)
const remoteFormat = 2 // 1 was a development format without refusals

const flagAllowFollower = 1

// ScanRequest asks a node for the rows of Table in Partitions that pass Filters. Without
// AllowFollower only a partition's leader answers for it (followers may lag behind).
type ScanRequest struct {
	Table         string
	AllowFollower bool
	Partitions    []uint16
	Filters       []Equality
}

// Encode serializes the request.
func (r *ScanRequest) Encode() []byte {
	e := codec.Encoder{Buf: []byte{remoteFormat}}
	e.String(r.Table)
	var flags byte
	if r.AllowFollower {
		flags |= flagAllowFollower
	}
	e.Byte(flags)
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
	flags := d.Byte()
	if flags&^flagAllowFollower != 0 {
		d.fail("unknown scan request flags %#x", flags)
	}
	r.AllowFollower = flags&flagAllowFollower != 0
	for range d.count() {
		r.Partitions = append(r.Partitions, d.partition())
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

// Refusal is a partition a node did not answer for, and the leader it knows (0: none).
type Refusal struct {
	Partition uint16
	Leader    uint64
}

// ScanResult is a node's answer to a ScanRequest.
type ScanResult struct {
	Rows    []Row
	Refused []Refusal
}

// ResultWriter encodes a ScanResult row by row, so the sender can watch its size.
type ResultWriter struct {
	e     codec.Encoder
	width int
}

// NewResultWriter starts a result of rows width values wide.
func NewResultWriter(width int) *ResultWriter {
	w := &ResultWriter{e: codec.Encoder{Buf: []byte{remoteFormat}}, width: width}
	w.e.Uvarint(uint64(width))
	return w
}

// AddRow appends one row.
func (w *ResultWriter) AddRow(r Row) error {
	if len(r) != w.width {
		return fmt.Errorf("row of %d values in a table of %d columns", len(r), w.width)
	}
	w.e.Byte(1)
	for _, v := range r {
		encodeValue(&w.e, v)
	}
	return nil
}

// Len is the size of what has been written so far.
func (w *ResultWriter) Len() int { return len(w.e.Buf) }

// Finish appends the refusals and returns the whole message.
func (w *ResultWriter) Finish(refused []Refusal) []byte {
	w.e.Byte(0)
	w.e.Uvarint(uint64(len(refused)))
	for _, r := range refused {
		w.e.Uvarint(uint64(r.Partition))
		w.e.Uvarint(r.Leader)
	}
	return w.e.Buf
}

// DecodeScanResult parses what a ResultWriter wrote; width is the number of columns the
// caller expects.
func DecodeScanResult(b []byte, width int) (*ScanResult, error) {
	d := remoteDecoder{Decoder: codec.NewDecoder(b)}
	if v := d.Byte(); v != remoteFormat {
		return nil, fmt.Errorf("scan result of unknown format %d", v)
	}
	if w := d.Uvarint(); d.Err() == nil && w != uint64(width) {
		return nil, fmt.Errorf("rows of %d columns, expected %d", w, width)
	}
	res := &ScanResult{}
	for !d.failed() {
		marker := d.Byte()
		if marker == 0 {
			break
		}
		if marker != 1 {
			d.fail("bad row marker %d", marker)
			break
		}
		r := make(Row, width)
		for i := range r {
			r[i] = d.value()
		}
		res.Rows = append(res.Rows, r)
	}
	for range d.count() {
		res.Refused = append(res.Refused, Refusal{Partition: d.partition(), Leader: d.Uvarint()})
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return res, nil
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

func (d *remoteDecoder) partition() uint16 {
	p := d.Uvarint()
	if p > math.MaxUint16 {
		d.fail("partition %d out of range", p)
	}
	return uint16(p)
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
