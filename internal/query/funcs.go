package query

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// scalarFunc builds a compiled call from compiled arguments.
type scalarFunc struct {
	minArgs, maxArgs int // maxArgs < 0: any number
	typ              func(args []*cexpr) Type
	eval             func(args []Value) (Value, error)
	nullSafe         bool // eval sees NULL arguments; otherwise any NULL argument gives NULL
}

func fixed(t Type) func([]*cexpr) Type { return func([]*cexpr) Type { return t } }

func firstArgType(args []*cexpr) Type {
	for _, a := range args {
		if a.typ != TypeNull {
			return a.typ
		}
	}
	return TypeNull
}

func textFunc(f func(string) string) scalarFunc {
	return scalarFunc{minArgs: 1, maxArgs: 1, typ: fixed(TypeString), eval: func(a []Value) (Value, error) {
		return String(f(a[0].String())), nil
	}}
}

var scalarFuncs = map[string]scalarFunc{
	"lower": textFunc(strings.ToLower),
	"upper": textFunc(strings.ToUpper),
	"trim":  textFunc(strings.TrimSpace),
	"btrim": textFunc(strings.TrimSpace),
	"ltrim": textFunc(func(s string) string { return strings.TrimLeft(s, " \t\n\r") }),
	"rtrim": textFunc(func(s string) string { return strings.TrimRight(s, " \t\n\r") }),
	"length": {minArgs: 1, maxArgs: 1, typ: fixed(TypeInt64), eval: func(a []Value) (Value, error) {
		if a[0].Type() == TypeBytes {
			return Int(int64(len(a[0].s))), nil
		}
		return Int(int64(utf8.RuneCountInString(a[0].String()))), nil
	}},
	"octet_length": {minArgs: 1, maxArgs: 1, typ: fixed(TypeInt64), eval: func(a []Value) (Value, error) {
		if a[0].Type() == TypeBytes || a[0].Type() == TypeString {
			return Int(int64(len(a[0].s))), nil
		}
		return Int(int64(len(a[0].String()))), nil
	}},
	"coalesce": {minArgs: 1, maxArgs: -1, typ: firstArgType, nullSafe: true, eval: func(a []Value) (Value, error) {
		for _, v := range a {
			if !v.IsNull() {
				return v, nil
			}
		}
		return Null, nil
	}},
	"nullif": {minArgs: 2, maxArgs: 2, typ: firstArgType, nullSafe: true, eval: func(a []Value) (Value, error) {
		if !a[0].IsNull() && !a[1].IsNull() && equalValues(a[0], a[1]) {
			return Null, nil
		}
		return a[0], nil
	}},
	"concat": {minArgs: 1, maxArgs: -1, typ: fixed(TypeString), nullSafe: true, eval: func(a []Value) (Value, error) {
		var b strings.Builder
		for _, v := range a {
			if !v.IsNull() {
				b.WriteString(v.String())
			}
		}
		return String(b.String()), nil
	}},
	"substr":    {minArgs: 2, maxArgs: 3, typ: fixed(TypeString), eval: substr},
	"substring": {minArgs: 2, maxArgs: 3, typ: fixed(TypeString), eval: substr},
	"replace": {minArgs: 3, maxArgs: 3, typ: fixed(TypeString), eval: func(a []Value) (Value, error) {
		return String(strings.ReplaceAll(a[0].String(), a[1].String(), a[2].String())), nil
	}},
	"starts_with": {minArgs: 2, maxArgs: 2, typ: fixed(TypeBool), eval: func(a []Value) (Value, error) {
		return Bool(strings.HasPrefix(a[0].String(), a[1].String())), nil
	}},
	"ends_with": {minArgs: 2, maxArgs: 2, typ: fixed(TypeBool), eval: func(a []Value) (Value, error) {
		return Bool(strings.HasSuffix(a[0].String(), a[1].String())), nil
	}},
	"strpos": {minArgs: 2, maxArgs: 2, typ: fixed(TypeInt64), eval: func(a []Value) (Value, error) {
		i := strings.Index(a[0].String(), a[1].String())
		if i < 0 {
			return Int(0), nil
		}
		return Int(int64(utf8.RuneCountInString(a[0].String()[:i]) + 1)), nil
	}},
	"split_part": {minArgs: 3, maxArgs: 3, typ: fixed(TypeString), eval: func(a []Value) (Value, error) {
		parts := strings.Split(a[0].String(), a[1].String())
		n := a[2].AsInt()
		if n < 1 || int(n) > len(parts) {
			return String(""), nil
		}
		return String(parts[n-1]), nil
	}},
	"abs": {minArgs: 1, maxArgs: 1, typ: firstArgType, eval: func(a []Value) (Value, error) {
		switch v := a[0]; v.Type() {
		case TypeFloat64:
			return Float(math.Abs(v.f)), nil
		case TypeInt64:
			if v.i < 0 {
				return Int(-v.i), nil
			}
		}
		return a[0], nil
	}},
	"round": {minArgs: 1, maxArgs: 2, typ: fixed(TypeFloat64), eval: func(a []Value) (Value, error) {
		scale := 1.0
		if len(a) == 2 {
			scale = math.Pow(10, float64(a[1].AsInt()))
		}
		return Float(math.Round(a[0].asFloat()*scale) / scale), nil
	}},
	"floor": {minArgs: 1, maxArgs: 1, typ: fixed(TypeFloat64), eval: func(a []Value) (Value, error) {
		return Float(math.Floor(a[0].asFloat())), nil
	}},
	"ceil": {minArgs: 1, maxArgs: 1, typ: fixed(TypeFloat64), eval: func(a []Value) (Value, error) {
		return Float(math.Ceil(a[0].asFloat())), nil
	}},
	"to_timestamp": {minArgs: 1, maxArgs: 1, typ: fixed(TypeTimestamp), eval: func(a []Value) (Value, error) {
		v := a[0]
		switch {
		case v.Type() == TypeString:
			return castValue(v, TypeTimestamp)
		case v.Type().integer():
			return Timestamp(v.AsInt() * 1000), nil // seconds, as DataFusion reads integers here
		case v.Type() == TypeFloat64:
			return Timestamp(int64(v.f * 1000)), nil
		}
		return castValue(v, TypeTimestamp)
	}},
	"to_timestamp_millis": {minArgs: 1, maxArgs: 1, typ: fixed(TypeTimestamp), eval: func(a []Value) (Value, error) {
		if a[0].Type().integer() {
			return Timestamp(a[0].AsInt()), nil
		}
		return castValue(a[0], TypeTimestamp)
	}},
	"to_timestamp_seconds": {minArgs: 1, maxArgs: 1, typ: fixed(TypeTimestamp), eval: func(a []Value) (Value, error) {
		if a[0].Type().integer() {
			return Timestamp(a[0].AsInt() * 1000), nil
		}
		return castValue(a[0], TypeTimestamp)
	}},
	"to_unixtime": {minArgs: 1, maxArgs: 1, typ: fixed(TypeInt64), eval: func(a []Value) (Value, error) {
		v, err := castValue(a[0], TypeTimestamp)
		if err != nil || v.IsNull() {
			return Null, err
		}
		return Int(v.i / 1000), nil
	}},
}

func substr(a []Value) (Value, error) {
	runes := []rune(a[0].String())
	start := a[1].AsInt() // 1-based; positions before 1 eat into the length
	end := int64(len(runes)) + 1
	if len(a) == 3 {
		if a[2].AsInt() < 0 {
			return Null, queryErrorf("negative substring length %d", a[2].AsInt())
		}
		end = min(end, start+a[2].AsInt())
	}
	start = max(start, 1)
	if start >= end {
		return String(""), nil
	}
	return String(string(runes[start-1 : end-1])), nil
}

func (x *execution) compileCall(c *Call, sc *scope) (*cexpr, error) {
	if c.Star {
		return nil, queryErrorf("%s(*) is not supported", c.Name)
	}
	args := make([]*cexpr, len(c.Args))
	for i, a := range c.Args {
		ac, err := x.compile(a, sc)
		if err != nil {
			return nil, err
		}
		args[i] = ac
	}
	switch c.Name {
	case "now", "current_timestamp":
		if len(args) != 0 {
			return nil, queryErrorf("%s takes no arguments", c.Name)
		}
		return constant(Timestamp(time.Now().UnixMilli())), nil
	case "arrow_typeof":
		if len(args) != 1 {
			return nil, queryErrorf("arrow_typeof takes 1 argument, got %d", len(args))
		}
		return constant(String(args[0].typ.String())), nil
	}
	f, ok := scalarFuncs[c.Name]
	if !ok {
		if windowOnlyNames[c.Name] {
			return nil, queryErrorf("%s needs an OVER clause", c.Name)
		}
		return nil, queryErrorf("unknown function %s", c.Name)
	}
	if len(args) < f.minArgs || f.maxArgs >= 0 && len(args) > f.maxArgs {
		return nil, queryErrorf("wrong number of arguments for %s: got %d", c.Name, len(args))
	}
	if c.Distinct || len(c.OrderBy) > 0 {
		return nil, queryErrorf("%s is not an aggregate function", c.Name)
	}
	out := &cexpr{typ: f.typ(args), eval: func(r Row) (Value, error) {
		vals := make([]Value, len(args))
		for i, a := range args {
			v, err := a.eval(r)
			if err != nil {
				return Null, err
			}
			if v.IsNull() && !f.nullSafe {
				return Null, nil
			}
			vals[i] = v
		}
		return f.eval(vals)
	}}
	return foldConstant(out, args...), nil
}

// castValue converts v to type t, as CAST does.
func castValue(v Value, t Type) (Value, error) {
	if v.IsNull() || v.Type() == t {
		return v, nil
	}
	fail := func() (Value, error) {
		return Null, queryErrorf("cannot cast %s value %q to %s", v.Type(), v.String(), t)
	}
	switch t {
	case TypeNull:
		return Null, nil
	case TypeString:
		if v.Type() == TypeBytes {
			if !utf8.ValidString(v.s) {
				return fail()
			}
			return String(v.s), nil
		}
		return String(v.String()), nil
	case TypeBytes:
		if v.Type() == TypeString {
			return Bytes([]byte(v.s)), nil
		}
	case TypeInt64, TypeUInt64, TypeUInt32:
		var i int64
		var u uint64
		unsigned := false
		switch v.Type() {
		case TypeString:
			s := strings.TrimSpace(v.s)
			if t == TypeUInt64 {
				p, err := strconv.ParseUint(s, 10, 64)
				if err != nil {
					return fail()
				}
				u, unsigned = p, true
			} else {
				p, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return fail()
				}
				i = p
			}
		case TypeFloat64:
			if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
				return fail()
			}
			i = int64(v.f)
		case TypeUInt64:
			u, unsigned = v.u, true
		default:
			i = v.i
		}
		switch t {
		case TypeInt64:
			if unsigned {
				if u > math.MaxInt64 {
					return fail()
				}
				i = int64(u)
			}
			return Int(i), nil
		case TypeUInt64:
			if !unsigned {
				if i < 0 {
					return fail()
				}
				u = uint64(i)
			}
			return Uint(u), nil
		default:
			if unsigned {
				if u > math.MaxUint32 {
					return fail()
				}
				i = int64(u)
			}
			if i < 0 || i > math.MaxUint32 {
				return fail()
			}
			return Uint32(uint32(i)), nil
		}
	case TypeFloat64:
		if v.Type() == TypeString {
			f, err := strconv.ParseFloat(strings.TrimSpace(v.s), 64)
			if err != nil {
				return fail()
			}
			return Float(f), nil
		}
		if v.Type() == TypeBytes {
			return fail()
		}
		return Float(v.asFloat()), nil
	case TypeBool:
		switch v.Type() {
		case TypeString:
			b, err := strconv.ParseBool(strings.TrimSpace(v.s))
			if err != nil {
				return fail()
			}
			return Bool(b), nil
		case TypeInt64, TypeUInt32, TypeUInt64, TypeFloat64:
			return Bool(v.asFloat() != 0), nil
		}
	case TypeTimestamp:
		switch v.Type() {
		case TypeString:
			if ms, ok := parseTimestamp(strings.TrimSpace(v.s)); ok {
				return Timestamp(ms), nil
			}
		case TypeInt64, TypeUInt32:
			// DataFusion reads integers cast to TIMESTAMP as nanoseconds.
			return Timestamp(v.i / 1_000_000), nil
		case TypeUInt64:
			return Timestamp(int64(v.u / 1_000_000)), nil
		}
	case TypeDuration:
		if v.Type().integer() {
			return Value{t: TypeDuration, i: v.AsInt()}, nil
		}
	}
	return fail()
}
