package query

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Type is the SQL type of a column or expression. Each maps to one Arrow type in the IPC
// answer, so a column keeps its type even when a query returns no rows.
type Type uint8

const (
	TypeNull      Type = iota // the type of a bare NULL literal
	TypeString                // Arrow Utf8
	TypeInt64                 // Arrow Int64
	TypeUInt64                // Arrow UInt64
	TypeUInt32                // Arrow UInt32
	TypeFloat64               // Arrow Float64 (double)
	TypeBool                  // Arrow Bool
	TypeBytes                 // Arrow Binary
	TypeTimestamp             // Arrow Timestamp(ms, "+00:00"); the value is unix milliseconds
	TypeDuration              // Arrow Duration(ms); the value is milliseconds
)

func (t Type) String() string {
	switch t {
	case TypeNull:
		return "Null"
	case TypeString:
		return "Utf8"
	case TypeInt64:
		return "Int64"
	case TypeUInt64:
		return "UInt64"
	case TypeUInt32:
		return "UInt32"
	case TypeFloat64:
		return "Float64"
	case TypeBool:
		return "Boolean"
	case TypeBytes:
		return "Binary"
	case TypeTimestamp:
		return `Timestamp(Millisecond, Some("+00:00"))`
	case TypeDuration:
		return "Duration(Millisecond)"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

func (t Type) integer() bool { return t == TypeInt64 || t == TypeUInt64 || t == TypeUInt32 }
func (t Type) numeric() bool { return t.integer() || t == TypeFloat64 }

// Value is one SQL value. The zero Value is NULL.
type Value struct {
	t Type
	i int64   // Int64, UInt32, Timestamp, Duration, Bool (0/1)
	u uint64  // UInt64
	f float64 // Float64
	s string  // String, Bytes
}

// Null is the SQL NULL.
var Null = Value{}

// String returns a text value.
func String(s string) Value { return Value{t: TypeString, s: s} }

// Int returns a signed 64-bit integer value.
func Int(i int64) Value { return Value{t: TypeInt64, i: i} }

// Uint returns an unsigned 64-bit integer value.
func Uint(u uint64) Value { return Value{t: TypeUInt64, u: u} }

// Uint32 returns an unsigned 32-bit integer value.
func Uint32(u uint32) Value { return Value{t: TypeUInt32, i: int64(u)} }

// Float returns a double value.
func Float(f float64) Value { return Value{t: TypeFloat64, f: f} }

// Bool returns a boolean value.
func Bool(b bool) Value {
	if b {
		return Value{t: TypeBool, i: 1}
	}
	return Value{t: TypeBool}
}

// Bytes returns a binary value.
func Bytes(b []byte) Value { return Value{t: TypeBytes, s: string(b)} }

// Timestamp returns a timestamp value from unix milliseconds.
func Timestamp(unixMs int64) Value { return Value{t: TypeTimestamp, i: unixMs} }

// Duration returns a duration value.
func Duration(d time.Duration) Value { return Value{t: TypeDuration, i: d.Milliseconds()} }

// OptString is String(s), or NULL when s is empty: most optional text columns.
func OptString(s string) Value {
	if s == "" {
		return Null
	}
	return String(s)
}

// OptTimestamp is Timestamp(ms), or NULL when ms is 0: timestamps that were never set.
func OptTimestamp(unixMs int64) Value {
	if unixMs == 0 {
		return Null
	}
	return Timestamp(unixMs)
}

// Type is the value's type; TypeNull for NULL.
func (v Value) Type() Type { return v.t }

// IsNull reports whether v is NULL.
func (v Value) IsNull() bool { return v.t == TypeNull }

// Str returns the text of a String or Bytes value.
func (v Value) Str() string { return v.s }

// AsInt returns an integer value as int64 (timestamps and durations in milliseconds).
func (v Value) AsInt() int64 {
	switch v.t {
	case TypeUInt64:
		return int64(v.u)
	case TypeFloat64:
		return int64(v.f)
	}
	return v.i
}

// AsBool returns a boolean value.
func (v Value) AsBool() bool { return v.t == TypeBool && v.i != 0 }

func (v Value) asFloat() float64 {
	switch v.t {
	case TypeFloat64:
		return v.f
	case TypeUInt64:
		return float64(v.u)
	}
	return float64(v.i)
}

// String formats v as text, the way CAST(v AS STRING) does.
func (v Value) String() string {
	switch v.t {
	case TypeNull:
		return "NULL"
	case TypeString:
		return v.s
	case TypeInt64, TypeUInt32:
		return strconv.FormatInt(v.i, 10)
	case TypeUInt64:
		return strconv.FormatUint(v.u, 10)
	case TypeFloat64:
		return formatFloat(v.f)
	case TypeBool:
		return strconv.FormatBool(v.i != 0)
	case TypeBytes:
		return hex.EncodeToString([]byte(v.s))
	case TypeTimestamp:
		return formatTimestamp(v.i)
	case TypeDuration:
		return formatDuration(v.i)
	}
	return "?"
}

func formatFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// formatTimestamp renders unix milliseconds as RFC 3339 in UTC with as many fractional digits
// as needed (none or three), the way Arrow's JSON writer renders a UTC timestamp.
func formatTimestamp(ms int64) string {
	t := time.UnixMilli(ms).UTC()
	if ms%1000 == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

// formatDuration renders milliseconds as an ISO 8601 duration, e.g. "PT86400S" or "PT1.5S".
func formatDuration(ms int64) string {
	sign := ""
	if ms < 0 {
		sign, ms = "-", -ms
	}
	if ms%1000 == 0 {
		return fmt.Sprintf("%sPT%dS", sign, ms/1000)
	}
	return sign + "PT" + strings.TrimRight(fmt.Sprintf("%d.%03d", ms/1000, ms%1000), "0") + "S"
}

// parseTimestamp accepts the timestamp spellings users write in SQL literals.
func parseTimestamp(s string) (int64, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}

// compareValues orders two non-NULL values. Numbers compare by value across integer and float
// types; a string compared with a timestamp or number is parsed first. ok is false when the two
// values cannot be compared.
func compareValues(a, b Value) (c int, ok bool) {
	if a.t == b.t {
		switch a.t {
		case TypeString, TypeBytes:
			return strings.Compare(a.s, b.s), true
		case TypeInt64, TypeUInt32, TypeTimestamp, TypeDuration, TypeBool:
			return cmp.Compare(a.i, b.i), true
		case TypeUInt64:
			return cmp.Compare(a.u, b.u), true
		case TypeFloat64:
			return cmp.Compare(a.f, b.f), true
		}
		return 0, false
	}
	if a.t.numeric() && b.t.numeric() {
		if a.t == TypeFloat64 || b.t == TypeFloat64 {
			return cmp.Compare(a.asFloat(), b.asFloat()), true
		}
		return compareInts(a, b), true
	}
	if a.t == TypeString {
		if conv, ok := coerceString(a.s, b.t); ok {
			return compareValues(conv, b)
		}
		return 0, false
	}
	if b.t == TypeString {
		c, ok := compareValues(b, a)
		return -c, ok
	}
	if (a.t == TypeTimestamp && b.t.integer()) || (b.t == TypeTimestamp && a.t.integer()) {
		return compareInts(Int(a.AsInt()), Int(b.AsInt())), true
	}
	return 0, false
}

// compareInts compares integers of any of the integer types without overflow.
func compareInts(a, b Value) int {
	an, bn := a.t == TypeUInt64, b.t == TypeUInt64
	switch {
	case an && bn:
		return cmp.Compare(a.u, b.u)
	case an:
		if b.i < 0 {
			return 1
		}
		return cmp.Compare(a.u, uint64(b.i))
	case bn:
		if a.i < 0 {
			return -1
		}
		return cmp.Compare(uint64(a.i), b.u)
	}
	return cmp.Compare(a.i, b.i)
}

// coerceString converts text to type t for a comparison with a value of that type.
func coerceString(s string, t Type) (Value, bool) {
	switch t {
	case TypeTimestamp:
		if ms, ok := parseTimestamp(s); ok {
			return Timestamp(ms), true
		}
	case TypeInt64, TypeUInt32:
		if i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
			return Int(i), true
		}
	case TypeUInt64:
		if u, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64); err == nil {
			return Uint(u), true
		}
	case TypeFloat64:
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return Float(f), true
		}
	case TypeBool:
		if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
			return Bool(b), true
		}
	case TypeBytes:
		return Bytes([]byte(s)), true
	}
	return Null, false
}

// equalValues reports SQL equality of two non-NULL values; values that cannot be compared are
// unequal.
func equalValues(a, b Value) bool {
	c, ok := compareValues(a, b)
	return ok && c == 0
}

// groupKey appends a value's identity for hashing (GROUP BY, DISTINCT, joins). Values that
// compare equal across integer types share a key.
func groupKey(dst []byte, v Value) []byte {
	switch v.t {
	case TypeNull:
		return append(dst, 0)
	case TypeInt64, TypeUInt32:
		if v.i >= 0 {
			dst = append(dst, 'u')
			return strconv.AppendUint(dst, uint64(v.i), 10)
		}
		dst = append(dst, 'i')
		return strconv.AppendInt(dst, v.i, 10)
	case TypeUInt64:
		dst = append(dst, 'u')
		return strconv.AppendUint(dst, v.u, 10)
	case TypeFloat64:
		if v.f == math.Trunc(v.f) && math.Abs(v.f) < 1<<53 {
			if v.f >= 0 {
				dst = append(dst, 'u')
				return strconv.AppendUint(dst, uint64(v.f), 10)
			}
			dst = append(dst, 'i')
			return strconv.AppendInt(dst, int64(v.f), 10)
		}
		dst = append(dst, 'f')
		return strconv.AppendFloat(dst, v.f, 'g', -1, 64)
	case TypeString, TypeBytes:
		dst = append(dst, 's')
		dst = strconv.AppendInt(dst, int64(len(v.s)), 10)
		dst = append(dst, ':')
		return append(dst, v.s...)
	default:
		dst = append(dst, byte('A'+v.t))
		return strconv.AppendInt(dst, v.i, 10)
	}
}
