// Package duration parses and prints durations the way Restate does.
//
// Restate accepts durations in two notations, both handled by Parse:
//
//   - ISO-8601 (`PT60S`, `P30D`, `PT1H30M`, `P1DT2H`, `PT0.5S`);
//   - the "friendly" notation of the jiff crate (`60s`, `60 sec`, `1h 30m`,
//     `5 hours`, `2days`, `500ms`, `1d 02:00:00`, `1 day, 2 hours`).
//
// Days and weeks count as 24h and 7×24h. Years and months are rejected because
// their length depends on a calendar date. Format prints the compact friendly
// form that Restate's admin API returns (`1d`, `1m 30s`, `500ms`, `0s`).
package duration

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"time"
)

// unit is one of the designators a duration can be made of, ordered from the
// largest to the smallest; the order is what enforces "largest unit first".
type unit int

const (
	unitYear unit = iota
	unitMonth
	unitWeek
	unitDay
	unitHour
	unitMinute
	unitSecond
	unitMilli
	unitMicro
	unitNano
)

var unitNanos = [...]uint64{
	unitYear:   0, // rejected before use
	unitMonth:  0, // rejected before use
	unitWeek:   uint64(7 * 24 * time.Hour),
	unitDay:    uint64(24 * time.Hour),
	unitHour:   uint64(time.Hour),
	unitMinute: uint64(time.Minute),
	unitSecond: uint64(time.Second),
	unitMilli:  uint64(time.Millisecond),
	unitMicro:  uint64(time.Microsecond),
	unitNano:   1,
}

var unitNames = [...]string{
	unitYear: "years", unitMonth: "months", unitWeek: "weeks", unitDay: "days",
	unitHour: "hours", unitMinute: "minutes", unitSecond: "seconds",
	unitMilli: "milliseconds", unitMicro: "microseconds", unitNano: "nanoseconds",
}

// designators maps every spelling jiff's friendly parser accepts (lower-cased)
// to its unit. The Greek small mu is accepted next to the micro sign because
// the two look identical and people type either.
var designators = map[string]unit{
	"y": unitYear, "yr": unitYear, "yrs": unitYear, "year": unitYear, "years": unitYear,
	"mo": unitMonth, "mos": unitMonth, "month": unitMonth, "months": unitMonth,
	"w": unitWeek, "wk": unitWeek, "wks": unitWeek, "week": unitWeek, "weeks": unitWeek,
	"d": unitDay, "day": unitDay, "days": unitDay,
	"h": unitHour, "hr": unitHour, "hrs": unitHour, "hour": unitHour, "hours": unitHour,
	"m": unitMinute, "min": unitMinute, "mins": unitMinute, "minute": unitMinute, "minutes": unitMinute,
	"s": unitSecond, "sec": unitSecond, "secs": unitSecond, "second": unitSecond, "seconds": unitSecond,
	"ms": unitMilli, "msec": unitMilli, "msecs": unitMilli, "milli": unitMilli, "millis": unitMilli,
	"millisecond": unitMilli, "milliseconds": unitMilli,
	"us": unitMicro, "usec": unitMicro, "usecs": unitMicro, "micro": unitMicro, "micros": unitMicro,
	"microsecond": unitMicro, "microseconds": unitMicro,
	"µs": unitMicro, "µsec": unitMicro, "µsecs": unitMicro,
	"μs": unitMicro, "μsec": unitMicro, "μsecs": unitMicro,
	"ns": unitNano, "nsec": unitNano, "nsecs": unitNano, "nano": unitNano, "nanos": unitNano,
	"nanosecond": unitNano, "nanoseconds": unitNano,
}

// maxFractionDigits is jiff's limit: nine digits reach nanosecond precision.
const maxFractionDigits = 9

// Parse reads an ISO-8601 or friendly duration. Negative durations, years,
// months, and values beyond time.Duration's range are errors. A bare "0" is
// accepted; any other number needs a unit.
func Parse(s string) (time.Duration, error) {
	p := parser{input: s}
	d, err := p.parse()
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: %w", s, err)
	}
	return d, nil
}

type parser struct {
	input string
	pos   int
	total uint64 // nanoseconds accumulated so far
}

var errOverflow = errors.New("too large (the maximum is about 292 years)")

func (p *parser) parse() (time.Duration, error) {
	p.skipSpace()
	if p.pos == len(p.input) {
		return 0, errors.New("empty")
	}
	negative := false
	if c := p.input[p.pos]; c == '+' || c == '-' {
		negative = c == '-'
		p.pos++
		p.skipSpace()
	}
	rest := p.input[p.pos:]
	switch {
	case rest == "":
		return 0, errors.New("sign without a value")
	case rest[0] == 'P' || rest[0] == 'p':
		if err := p.parseISO(); err != nil {
			return 0, err
		}
	case strings.TrimRight(rest, spaceChars) == "0":
		p.pos = len(p.input)
	default:
		ago, err := p.parseFriendly()
		if err != nil {
			return 0, err
		}
		if ago {
			if negative {
				return 0, errors.New(`a sign and "ago" cannot be combined`)
			}
			negative = true
		}
	}
	if negative && p.total != 0 {
		return 0, errors.New("negative durations are not allowed")
	}
	return time.Duration(p.total), nil
}

const spaceChars = " \t\n\f\r"

func isSpace(c byte) bool { return strings.IndexByte(spaceChars, c) >= 0 }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (p *parser) skipSpace() {
	for p.pos < len(p.input) && isSpace(p.input[p.pos]) {
		p.pos++
	}
}

// digits consumes a run of decimal digits and returns them (possibly empty).
func (p *parser) digits() string {
	start := p.pos
	for p.pos < len(p.input) && isDigit(p.input[p.pos]) {
		p.pos++
	}
	return p.input[start:p.pos]
}

// fraction consumes an optional decimal separator ('.' or ',') followed by
// at least one digit and returns the digits after the separator.
func (p *parser) fraction() (string, error) {
	if p.pos+1 >= len(p.input) {
		return "", nil
	}
	if c := p.input[p.pos]; (c != '.' && c != ',') || !isDigit(p.input[p.pos+1]) {
		return "", nil
	}
	p.pos++
	frac := p.digits()
	if len(frac) > maxFractionDigits {
		return "", fmt.Errorf("fraction %q has more than %d digits", frac, maxFractionDigits)
	}
	return frac, nil
}

// add accumulates whole*unit + 0.frac*unit into the total, failing on overflow.
func (p *parser) add(whole, frac string, u unit) error {
	if u == unitYear || u == unitMonth {
		if strings.Trim(whole, "0") != "" || strings.Trim(frac, "0") != "" {
			return fmt.Errorf("%s are not supported because their length varies; use days or smaller units", unitNames[u])
		}
		return nil
	}
	per := unitNanos[u]
	n, ok := parseUint(whole)
	if !ok {
		return errOverflow
	}
	hi, v := bits.Mul64(n, per)
	if hi != 0 {
		return errOverflow
	}
	if frac != "" {
		f, _ := parseUint(frac) // at most nine digits, cannot overflow
		scale := pow10(len(frac))
		// f < scale, so f*per < scale*2^64 and the high word stays below scale,
		// which is what bits.Div64 requires.
		fh, fl := bits.Mul64(f, per)
		q, _ := bits.Div64(fh, fl, scale)
		var carry uint64
		v, carry = bits.Add64(v, q, 0)
		if carry != 0 {
			return errOverflow
		}
	}
	var carry uint64
	p.total, carry = bits.Add64(p.total, v, 0)
	if carry != 0 || p.total > math.MaxInt64 {
		return errOverflow
	}
	return nil
}

func parseUint(s string) (uint64, bool) {
	var n uint64
	for i := 0; i < len(s); i++ {
		hi, lo := bits.Mul64(n, 10)
		if hi != 0 {
			return 0, false
		}
		var carry uint64
		n, carry = bits.Add64(lo, uint64(s[i]-'0'), 0)
		if carry != 0 {
			return 0, false
		}
	}
	return n, true
}

func pow10(n int) uint64 {
	r := uint64(1)
	for range n {
		r *= 10
	}
	return r
}

// parseISO reads `P[nY][nM][nW][nD][T[nH][nM][nS]]`, with a fraction allowed
// only on the last component, as the ISO-8601 / Temporal duration grammar does.
func (p *parser) parseISO() error {
	p.pos++ // 'P'
	inTime := false
	components := 0
	fractionSeen := false
	last := unit(-1)
	for p.pos < len(p.input) {
		c := p.input[p.pos]
		if c == 'T' || c == 't' {
			if inTime {
				return fmt.Errorf("repeated time designator 'T' at position %d", p.pos)
			}
			if fractionSeen {
				return errors.New("only the last component may have a fraction")
			}
			inTime = true
			p.pos++
			if p.pos == len(p.input) || !isDigit(p.input[p.pos]) {
				return errors.New("time designator 'T' must be followed by hours, minutes or seconds")
			}
			continue
		}
		if isSpace(c) {
			if strings.TrimLeft(p.input[p.pos:], spaceChars) != "" {
				return fmt.Errorf("unexpected space at position %d", p.pos)
			}
			p.pos = len(p.input)
			break
		}
		start := p.pos
		whole := p.digits()
		if whole == "" {
			return fmt.Errorf("expected a number at position %d", start)
		}
		frac, err := p.fraction()
		if err != nil {
			return err
		}
		if fractionSeen {
			return errors.New("only the last component may have a fraction")
		}
		if p.pos == len(p.input) {
			return fmt.Errorf("number %q at position %d has no unit letter", p.input[start:p.pos], start)
		}
		u, ok := isoUnit(p.input[p.pos], inTime)
		if !ok {
			return fmt.Errorf("unexpected %q at position %d", rune(p.input[p.pos]), p.pos)
		}
		p.pos++
		if u <= last {
			return fmt.Errorf("%s must come before %s", unitNames[u], unitNames[last])
		}
		if frac != "" && !inTime {
			return fmt.Errorf("a fraction is only allowed on hours, minutes or seconds")
		}
		last = u
		fractionSeen = frac != ""
		components++
		if err := p.add(whole, frac, u); err != nil {
			return err
		}
	}
	if components == 0 {
		return errors.New("ISO-8601 duration has no components")
	}
	return nil
}

func isoUnit(c byte, inTime bool) (unit, bool) {
	switch c | 0x20 { // ASCII lower-case
	case 'y':
		return unitYear, !inTime
	case 'm':
		if inTime {
			return unitMinute, true
		}
		return unitMonth, true
	case 'w':
		return unitWeek, !inTime
	case 'd':
		return unitDay, !inTime
	case 'h':
		return unitHour, inTime
	case 's':
		return unitSecond, inTime
	}
	return 0, false
}

// parseFriendly reads jiff's friendly notation. It reports whether the value
// ended with the "ago" direction.
func (p *parser) parseFriendly() (ago bool, err error) {
	last := unit(-1)
	components := 0
	// closed is set once a fractional value or HH:MM:SS has been read: jiff
	// allows nothing after those but the direction.
	closed := false
	for {
		p.skipSpace()
		if p.pos == len(p.input) {
			break
		}
		if components > 0 && p.atWord("ago") {
			p.pos += len("ago")
			p.skipSpace()
			if p.pos != len(p.input) {
				return false, fmt.Errorf("unexpected %q after \"ago\"", p.input[p.pos:])
			}
			return true, nil
		}
		if closed {
			return false, fmt.Errorf("unexpected %q after a fractional or HH:MM:SS value", p.input[p.pos:])
		}
		if p.atHMS() {
			if last > unitDay {
				return false, errors.New("HH:MM:SS may only follow days or larger units")
			}
			if err := p.parseHMS(); err != nil {
				return false, err
			}
			components++
			closed = true
			continue
		}
		start := p.pos
		whole := p.digits()
		if whole == "" {
			return false, fmt.Errorf("expected a number at position %d, found %q", start, p.input[start:])
		}
		frac, err := p.fraction()
		if err != nil {
			return false, err
		}
		p.skipSpace()
		name := p.word()
		if name == "" {
			if p.pos == len(p.input) {
				return false, fmt.Errorf("number %q has no unit (for example ms, s, m, h, d)", strings.TrimRight(p.input[start:], spaceChars))
			}
			return false, fmt.Errorf("unexpected %q at position %d", p.input[p.pos:], p.pos)
		}
		u, ok := designators[strings.ToLower(name)]
		if !ok {
			return false, fmt.Errorf("unknown unit %q", name)
		}
		if u == last {
			return false, fmt.Errorf("%s given twice", unitNames[u])
		}
		if u < last {
			return false, fmt.Errorf("%s must come before %s", unitNames[u], unitNames[last])
		}
		if err := p.add(whole, frac, u); err != nil {
			return false, err
		}
		components++
		last = u
		closed = frac != ""
		p.skipSpace()
		if p.pos < len(p.input) && p.input[p.pos] == ',' {
			p.pos++
		}
	}
	if components == 0 {
		return false, errors.New("no duration value")
	}
	return false, nil
}

// word consumes a run of letters (ASCII or the micro signs) and returns it.
func (p *parser) word() string {
	start := p.pos
	for p.pos < len(p.input) {
		c := p.input[p.pos]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			p.pos++
		case strings.HasPrefix(p.input[p.pos:], "µ"), strings.HasPrefix(p.input[p.pos:], "μ"):
			p.pos += 2
		default:
			return p.input[start:p.pos]
		}
	}
	return p.input[start:p.pos]
}

// atWord reports whether the input at the cursor is the given word, not
// followed by further letters.
func (p *parser) atWord(w string) bool {
	rest := p.input[p.pos:]
	if len(rest) < len(w) || !strings.EqualFold(rest[:len(w)], w) {
		return false
	}
	if len(rest) == len(w) {
		return true
	}
	c := rest[len(w)]
	return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')
}

// atHMS reports whether the cursor is at digits followed by ':'.
func (p *parser) atHMS() bool {
	i := p.pos
	for i < len(p.input) && isDigit(p.input[i]) {
		i++
	}
	return i > p.pos && i < len(p.input) && p.input[i] == ':'
}

// parseHMS reads HH:MM:SS[.fffffffff].
func (p *parser) parseHMS() error {
	start := p.pos
	hours := p.digits()
	if !p.eat(':') {
		return fmt.Errorf("malformed HH:MM:SS at position %d", start)
	}
	minutes := p.digits()
	if minutes == "" || !p.eat(':') {
		return fmt.Errorf("malformed HH:MM:SS at position %d", start)
	}
	seconds := p.digits()
	if seconds == "" {
		return fmt.Errorf("malformed HH:MM:SS at position %d", start)
	}
	frac := ""
	if p.pos < len(p.input) && p.input[p.pos] == '.' {
		var err error
		if frac, err = p.fraction(); err != nil {
			return err
		}
	}
	if m, ok := parseUint(minutes); !ok || m > 59 {
		return fmt.Errorf("minutes %q in HH:MM:SS must be below 60", minutes)
	}
	if s, ok := parseUint(seconds); !ok || s > 59 {
		return fmt.Errorf("seconds %q in HH:MM:SS must be below 60", seconds)
	}
	if err := p.add(hours, "", unitHour); err != nil {
		return err
	}
	if err := p.add(minutes, "", unitMinute); err != nil {
		return err
	}
	return p.add(seconds, frac, unitSecond)
}

func (p *parser) eat(c byte) bool {
	if p.pos < len(p.input) && p.input[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

// Format prints d in the compact friendly form used by Restate: units from
// days down to nanoseconds, largest first, separated by spaces ("1d 2h",
// "1m 30s", "500ms"), and "0s" for zero. Negative values end in " ago".
func Format(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	n := uint64(d)
	suffix := ""
	if d < 0 {
		n = uint64(-(d + 1)) + 1 // avoids overflow for math.MinInt64
		suffix = " ago"
	}
	var b strings.Builder
	for _, c := range formatUnits {
		v := n / c.nanos
		n %= c.nanos
		if v == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d%s", v, c.designator)
	}
	b.WriteString(suffix)
	return b.String()
}

var formatUnits = []struct {
	nanos      uint64
	designator string
}{
	{unitNanos[unitDay], "d"},
	{unitNanos[unitHour], "h"},
	{unitNanos[unitMinute], "m"},
	{unitNanos[unitSecond], "s"},
	{unitNanos[unitMilli], "ms"},
	{unitNanos[unitMicro], "µs"},
	{unitNanos[unitNano], "ns"},
}
