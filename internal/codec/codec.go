// Package codec is the small binary encoding used for everything we write to disk or to the
// log ourselves (records, invocation status, timers). Values are written field by field in a
// fixed order behind a format version byte; readers accept missing trailing fields so a newer
// release can append fields without breaking what an older one wrote.
package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrShort is returned when a buffer ends in the middle of a field.
var ErrShort = errors.New("codec: truncated value")

// Encoder appends fields to a byte slice.
type Encoder struct {
	Buf []byte
}

func (e *Encoder) Byte(b byte)       { e.Buf = append(e.Buf, b) }
func (e *Encoder) Uvarint(v uint64)  { e.Buf = binary.AppendUvarint(e.Buf, v) }
func (e *Encoder) Varint(v int64)    { e.Buf = binary.AppendVarint(e.Buf, v) }
func (e *Encoder) Uint64(v uint64)   { e.Buf = binary.BigEndian.AppendUint64(e.Buf, v) }
func (e *Encoder) Float64(v float64) { e.Uint64(math.Float64bits(v)) }
func (e *Encoder) String(s string)   { e.Uvarint(uint64(len(s))); e.Buf = append(e.Buf, s...) }
func (e *Encoder) Bytes(b []byte)    { e.Uvarint(uint64(len(b))); e.Buf = append(e.Buf, b...) }
func (e *Encoder) Raw(b []byte)      { e.Buf = append(e.Buf, b...) }
func (e *Encoder) Bool(b bool) {
	if b {
		e.Byte(1)
	} else {
		e.Byte(0)
	}
}

// OptBytes writes a presence flag followed by the bytes, so nil and empty stay distinct.
func (e *Encoder) OptBytes(b []byte) {
	e.Bool(b != nil)
	if b != nil {
		e.Bytes(b)
	}
}

// Decoder reads fields in the order they were written. The first error sticks: later reads
// return zero values, and Err reports it, so callers check once at the end.
type Decoder struct {
	buf []byte
	err error
}

func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Err returns the first decoding error.
func (d *Decoder) Err() error { return d.err }

// More reports whether unread bytes remain (used to read optional trailing fields).
func (d *Decoder) More() bool { return d.err == nil && len(d.buf) > 0 }

// Rest returns the unread bytes.
func (d *Decoder) Rest() []byte { return d.buf }

func (d *Decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *Decoder) Byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.buf) < 1 {
		d.fail(ErrShort)
		return 0
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b
}

func (d *Decoder) Bool() bool { return d.Byte() != 0 }

func (d *Decoder) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail(ErrShort)
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *Decoder) Varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.fail(ErrShort)
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *Decoder) Uint64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.buf) < 8 {
		d.fail(ErrShort)
		return 0
	}
	v := binary.BigEndian.Uint64(d.buf)
	d.buf = d.buf[8:]
	return v
}

func (d *Decoder) Float64() float64 { return math.Float64frombits(d.Uint64()) }

// Bytes returns a slice aliasing the input buffer.
func (d *Decoder) Bytes() []byte {
	n := d.Uvarint()
	if d.err != nil {
		return nil
	}
	if uint64(len(d.buf)) < n {
		d.fail(fmt.Errorf("%w: need %d bytes, have %d", ErrShort, n, len(d.buf)))
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

// CopyBytes is Bytes without aliasing.
func (d *Decoder) CopyBytes() []byte {
	b := d.Bytes()
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

func (d *Decoder) String() string { return string(d.Bytes()) }

func (d *Decoder) OptBytes() []byte {
	if !d.Bool() {
		return nil
	}
	b := d.CopyBytes()
	if b == nil && d.err == nil {
		return []byte{}
	}
	return b
}

// Raw returns the next n bytes, aliasing the input.
func (d *Decoder) Raw(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.buf) < n {
		d.fail(ErrShort)
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}
