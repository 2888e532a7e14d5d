package wire

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// DecodeError reports a malformed protobuf payload.
type DecodeError struct {
	Message string           // protobuf message being decoded, e.g. "CallCommand"
	Field   protowire.Number // offending field, 0 when not tied to one field
	Reason  string
}

func (e *DecodeError) Error() string {
	if e.Field == 0 {
		return fmt.Sprintf("wire: decoding %s: %s", e.Message, e.Reason)
	}
	return fmt.Sprintf("wire: decoding %s field %d: %s", e.Message, e.Field, e.Reason)
}

// fieldIter walks the fields of one protobuf message. Value accessors check
// the wire type, consume the value and record the first error; the loop in
// each Unmarshal stops at the first error and returns it.
type fieldIter struct {
	b   []byte
	msg string
	num protowire.Number
	typ protowire.Type
	err error
}

func (it *fieldIter) next() bool {
	if it.err != nil || len(it.b) == 0 {
		return false
	}
	num, typ, n := protowire.ConsumeTag(it.b)
	if n < 0 {
		it.err = &DecodeError{Message: it.msg, Reason: "invalid field tag: " + protowire.ParseError(n).Error()}
		return false
	}
	it.b = it.b[n:]
	it.num, it.typ = num, typ
	return true
}

func (it *fieldIter) fail(reason string) {
	if it.err == nil {
		it.err = &DecodeError{Message: it.msg, Field: it.num, Reason: reason}
	}
	it.b = nil
}

func (it *fieldIter) wrongType(want protowire.Type) {
	it.fail(fmt.Sprintf("wire type %d, want %d", it.typ, want))
}

func (it *fieldIter) varint() uint64 {
	if it.typ != protowire.VarintType {
		it.wrongType(protowire.VarintType)
		return 0
	}
	v, n := protowire.ConsumeVarint(it.b)
	if n < 0 {
		it.fail(protowire.ParseError(n).Error())
		return 0
	}
	it.b = it.b[n:]
	return v
}

// uint32 truncates larger varints, as proto3 parsers do.
func (it *fieldIter) uint32() uint32 { return uint32(it.varint()) }

func (it *fieldIter) bool() bool { return it.varint() != 0 }

// bytes returns a length-delimited value aliasing the input.
func (it *fieldIter) bytes() []byte {
	if it.typ != protowire.BytesType {
		it.wrongType(protowire.BytesType)
		return nil
	}
	v, n := protowire.ConsumeBytes(it.b)
	if n < 0 {
		it.fail(protowire.ParseError(n).Error())
		return nil
	}
	it.b = it.b[n:]
	return v
}

func (it *fieldIter) string() string { return string(it.bytes()) }

// uint32s appends a repeated uint32 field in either packed or unpacked form;
// proto3 parsers must accept both.
func (it *fieldIter) uint32s(dst []uint32) []uint32 {
	if it.typ == protowire.VarintType {
		v := it.varint()
		if it.err != nil {
			return dst
		}
		return append(dst, uint32(v))
	}
	packed := it.bytes()
	for len(packed) > 0 {
		v, n := protowire.ConsumeVarint(packed)
		if n < 0 {
			it.fail("packed varint: " + protowire.ParseError(n).Error())
			return dst
		}
		dst = append(dst, uint32(v))
		packed = packed[n:]
	}
	return dst
}

// sub decodes a nested message with fn and records its error.
func (it *fieldIter) sub(fn func([]byte) error) {
	b := it.bytes()
	if it.err != nil {
		return
	}
	if err := fn(b); err != nil {
		it.err = err
		it.b = nil
	}
}

func (it *fieldIter) skip() {
	n := protowire.ConsumeFieldValue(it.num, it.typ, it.b)
	if n < 0 {
		it.fail("skipping unknown field: " + protowire.ParseError(n).Error())
		return
	}
	it.b = it.b[n:]
}

// --- encoding helpers. Scalar helpers omit zero values (proto3 implicit
// presence); the *Always variants are for oneof members and optional fields.

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	return appendVarintAlways(b, num, v)
}

func appendVarintAlways(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendBoolField(b []byte, num protowire.Number, v bool) []byte {
	if !v {
		return b
	}
	return appendVarintAlways(b, num, 1)
}

func appendBytesField(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	return appendBytesAlways(b, num, v)
}

func appendBytesAlways(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendStringField(b []byte, num protowire.Number, v string) []byte {
	if v == "" {
		return b
	}
	return appendStringAlways(b, num, v)
}

func appendStringAlways(b []byte, num protowire.Number, v string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, v)
}

// appendMessageHeader appends the tag and length prefix of a nested message
// whose encoding is size bytes long.
func appendMessageHeader(b []byte, num protowire.Number, size int) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendVarint(b, uint64(size))
}

func sizeBytesField(num protowire.Number, n int) int {
	if n == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

func sizeVarintField(num protowire.Number, v uint64) int {
	if v == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeVarint(v)
}

// sizeMessageField is the size of a nested message field whose body is
// bodySize bytes.
func sizeMessageField(num protowire.Number, bodySize int) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(bodySize)
}

// appendPackedUint32s appends a packed repeated uint32 field.
func appendPackedUint32s(b []byte, num protowire.Number, vs []uint32) []byte {
	if len(vs) == 0 {
		return b
	}
	b = appendMessageHeader(b, num, sizePackedBody(vs))
	for _, v := range vs {
		b = protowire.AppendVarint(b, uint64(v))
	}
	return b
}

func sizePackedBody(vs []uint32) int {
	n := 0
	for _, v := range vs {
		n += protowire.SizeVarint(uint64(v))
	}
	return n
}

func sizePackedUint32s(num protowire.Number, vs []uint32) int {
	if len(vs) == 0 {
		return 0
	}
	return sizeMessageField(num, sizePackedBody(vs))
}
