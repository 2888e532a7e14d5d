package config

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// envPrefix starts every environment variable that configures the server.
const envPrefix = "RESTATE_"

// envKeyPath maps an environment variable name to a dotted configuration key
// the way Restate's figment setup does: drop the RESTATE_ prefix (any case),
// lower-case, split nested sections on "__", then turn the remaining "_" into
// "-". RESTATE_WORKER__SNAPSHOTS__SNAPSHOT_INTERVAL_NUM_RECORDS becomes
// "worker.snapshots.snapshot-interval-num-records". It reports false for
// names without the prefix or with nothing after it.
func envKeyPath(name string) (string, bool) {
	if len(name) <= len(envPrefix) || !strings.EqualFold(name[:len(envPrefix)], envPrefix) {
		return "", false
	}
	key := strings.ToLower(name[len(envPrefix):])
	key = strings.ReplaceAll(key, "__", ".")
	key = strings.ReplaceAll(key, "_", "-")
	return key, true
}

// parseEnvValue turns the text of an environment variable into a typed value
// following figment's rules, so that values mean what they mean to Restate:
//
//   - "true" / "false" become booleans;
//   - digits become integers (int64, or uint64 beyond int64's range), and a
//     number containing '.' becomes a float64;
//   - "[a, b]" becomes a []any of such values (nested lists allowed);
//   - "{k = v, ...}" becomes a map[string]any;
//   - "\"...\"" becomes the string between the quotes, 'c' a one-rune string;
//   - anything else, including text that fails to parse as a whole, stays the
//     original string.
func parseEnvValue(s string) any {
	p := envValueParser{s: s}
	v, ok := p.value()
	if !ok || p.pos != len(p.s) {
		return s
	}
	return v
}

type envValueParser struct {
	s   string
	pos int
}

func (p *envValueParser) skipSpace() {
	for p.pos < len(p.s) && isASCIISpace(p.s[p.pos]) {
		p.pos++
	}
}

func isASCIISpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

func isSeparator(c byte) bool {
	return c == ',' || c == '{' || c == '}' || c == '[' || c == ']'
}

// value parses one value with surrounding whitespace.
func (p *envValueParser) value() (any, bool) {
	p.skipSpace()
	var v any
	rest := p.s[p.pos:]
	switch {
	case strings.HasPrefix(rest, "true"):
		p.pos += len("true")
		v = true
	case strings.HasPrefix(rest, "false"):
		p.pos += len("false")
		v = false
	case strings.HasPrefix(rest, "{"):
		m, ok := p.dict()
		if !ok {
			return nil, false
		}
		v = m
	case strings.HasPrefix(rest, "["):
		a, ok := p.array()
		if !ok {
			return nil, false
		}
		v = a
	case strings.HasPrefix(rest, `"`):
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			return nil, false
		}
		v = rest[1 : 1+end]
		p.pos += end + 2
	case strings.HasPrefix(rest, "'"):
		r, size := firstRune(rest[1:])
		if size == 0 || !strings.HasPrefix(rest[1+size:], "'") {
			return nil, false
		}
		v = string(r)
		p.pos += size + 2
	default:
		start := p.pos
		for p.pos < len(p.s) && !isSeparator(p.s[p.pos]) {
			p.pos++
		}
		// Unlike figment, trailing blanks do not turn "7 " into a string.
		v = scalar(strings.TrimRight(p.s[start:p.pos], " \t\n\r\f"))
	}
	p.skipSpace()
	return v, true
}

func firstRune(s string) (rune, int) {
	return utf8.DecodeRuneInString(s)
}

// scalar interprets an unquoted run of text: a float if it contains '.',
// else an integer, else the text itself.
func scalar(text string) any {
	if strings.Contains(text, ".") && isDecimalFloat(text) {
		if f, err := strconv.ParseFloat(text, 64); err == nil {
			return f
		}
	}
	digits := strings.TrimPrefix(text, "+")
	if isAllDigits(digits) {
		if u, err := strconv.ParseUint(digits, 10, 64); err == nil {
			if u <= math.MaxInt64 {
				return int64(u)
			}
			return u
		}
	}
	if strings.HasPrefix(text, "-") && isAllDigits(text[1:]) {
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return i
		}
	}
	return text
}

func isAllDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isDecimalFloat accepts [+-]digits[.digits][e[+-]digits] with at least one
// digit in the mantissa, the notation Rust's f64 parser takes for such text.
// Go's ParseFloat alone would also take hex floats and underscores.
func isDecimalFloat(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	mantissa := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		mantissa++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			mantissa++
		}
	}
	if mantissa == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

func (p *envValueParser) array() ([]any, bool) {
	p.pos++ // '['
	out := []any{}
	p.skipSpace()
	if p.pos < len(p.s) && p.s[p.pos] == ']' {
		p.pos++
		return out, true
	}
	for {
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		out = append(out, v)
		if p.pos >= len(p.s) {
			return nil, false
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
			// Tolerate a trailing comma before the closing bracket.
			p.skipSpace()
			if p.pos < len(p.s) && p.s[p.pos] == ']' {
				p.pos++
				return out, true
			}
		case ']':
			p.pos++
			return out, true
		default:
			return nil, false
		}
	}
}

func isKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func (p *envValueParser) dict() (map[string]any, bool) {
	p.pos++ // '{'
	out := map[string]any{}
	p.skipSpace()
	if p.pos < len(p.s) && p.s[p.pos] == '}' {
		p.pos++
		return out, true
	}
	for {
		p.skipSpace()
		start := p.pos
		for p.pos < len(p.s) && isKeyChar(p.s[p.pos]) {
			p.pos++
		}
		key := p.s[start:p.pos]
		p.skipSpace()
		if key == "" || p.pos >= len(p.s) || p.s[p.pos] != '=' {
			return nil, false
		}
		p.pos++
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		out[key] = v
		if p.pos >= len(p.s) {
			return nil, false
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return out, true
		default:
			return nil, false
		}
	}
}
