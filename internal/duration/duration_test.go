package duration

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseAccepts(t *testing.T) {
	day := 24 * time.Hour
	cases := []struct {
		in   string
		want time.Duration
	}{
		// ISO-8601
		{"PT60S", 60 * time.Second},
		{"P30D", 30 * day},
		{"PT1H30M", 90 * time.Minute},
		{"P1DT2H", 26 * time.Hour},
		{"PT0.5S", 500 * time.Millisecond},
		{"PT0,25S", 250 * time.Millisecond},
		{"pt10s", 10 * time.Second},
		{"P2W", 14 * day},
		{"P1W2D", 9 * day},
		{"PT1.5H", 90 * time.Minute},
		{"P0Y0M1D", day},
		{"P30DT10H30M15S", 30*day + 10*time.Hour + 30*time.Minute + 15*time.Second},
		{"+PT1S", time.Second},
		{"-PT0S", 0},
		{"  PT5S  ", 5 * time.Second},
		// friendly
		{"60s", 60 * time.Second},
		{"60sec", 60 * time.Second},
		{"60 sec", 60 * time.Second},
		{"60000ms", 60 * time.Second},
		{"10 s", 10 * time.Second},
		{"1h 30m", 90 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"5 hours", 5 * time.Hour},
		{"1d", day},
		{"2days", 2 * day},
		{"500ms", 500 * time.Millisecond},
		{"1m", time.Minute},
		{"1min", time.Minute},
		{"10 min", 10 * time.Minute},
		{"0", 0},
		{" 0 ", 0},
		{"0s", 0},
		{"1.5h", 90 * time.Minute},
		{"1,5h", 90 * time.Minute},
		{"1 day, 2 hours", 26 * time.Hour},
		{"3 days, 4 hours, 59 minutes", 3*day + 4*time.Hour + 59*time.Minute},
		{"3d4h59m", 3*day + 4*time.Hour + 59*time.Minute},
		{"1 week 2 days", 9 * day},
		{"1w", 7 * day},
		{"36h 4m 2s", 129842 * time.Second},
		{"30 days 48 hours", 32 * day},
		{"1s 500ms", 1500 * time.Millisecond},
		{"1h 24us", time.Hour + 24*time.Microsecond},
		{"3µs", 3 * time.Microsecond},
		{"3μs", 3 * time.Microsecond},
		{"7ns", 7},
		{"7 nanoseconds", 7},
		{"2 msecs", 2 * time.Millisecond},
		{"1 millisecond", time.Millisecond},
		{"5 SECONDS", 5 * time.Second},
		{"5S", 5 * time.Second},
		{"1H 2M", time.Hour + 2*time.Minute},
		{"01:02:03", time.Hour + 2*time.Minute + 3*time.Second},
		{"1d 02:00:00", 26 * time.Hour},
		{"00:00:01.5", 1500 * time.Millisecond},
		{"+5s", 5 * time.Second},
		{"0s ago", 0},
		{"-0s", 0},
		{"0y 0mo 1d", day},
		{"0.000000001s", 1},
		{"2562047h 47m 16s 854ms 775µs 807ns", math.MaxInt64},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q) error: %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("Parse(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		in      string
		problem string // a fragment the error must contain
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"abc", "expected a number"},
		{"10", "has no unit"},
		{"60000", "has no unit"},
		{"10 parsecs", `unknown unit "parsecs"`},
		{"-5s", "negative"},
		{"5s ago", "negative"},
		{"-PT5S", "negative"},
		{"-5s ago", "cannot be combined"},
		{"1mo", "months are not supported"},
		{"1 year", "years are not supported"},
		{"P1M", "months are not supported"},
		{"P1Y", "years are not supported"},
		{"P", "no components"},
		{"PT", "must be followed"},
		{"P1DT", "must be followed"},
		{"PT5", "has no unit letter"},
		{"P5H", `unexpected 'H'`},
		{"PT5D", `unexpected 'D'`},
		{"PT1M1H", "hours must come before minutes"},
		{"P1.5D", "fraction"},
		{"PT1.5H30M", "only the last component"},
		{"30m 1h", "hours must come before minutes"},
		{"1s 1s", "seconds given twice"},
		{"1.5s 20ms", "after a fractional"},
		{"1.1234567891s", "more than 9 digits"},
		{"99999999999999999999s", "too large"},
		{"300y", "years are not supported"},
		{"2562047h 47m 16s 854ms 775µs 808ns", "too large"},
		{"107000d", "too large"},
		{"1h 00:00:01", "may only follow days"},
		{"00:60:00", "minutes"},
		{"00:00:60", "seconds"},
		{"1:2", "malformed"},
		{"+", "sign without a value"},
		{"5s junk", `expected a number at position 3, found "junk"`},
		{"5s !", `expected a number`},
		{"60+sec", "unexpected"},
		{"ago", "expected a number"},
	}
	for _, c := range cases {
		_, err := Parse(c.in)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want error containing %q", c.in, c.problem)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.problem) {
			t.Errorf("Parse(%q) error %q does not mention %q", c.in, msg, c.problem)
		}
		if !strings.Contains(msg, "invalid duration") {
			t.Errorf("Parse(%q) error %q does not say it is a duration error", c.in, msg)
		}
		if strings.ContainsAny(msg, "\n") {
			t.Errorf("Parse(%q) error spans lines: %q", c.in, msg)
		}
	}
}

func TestFormat(t *testing.T) {
	cases := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{24 * time.Hour, "1d"},
		{time.Hour, "1h"},
		{23 * time.Minute, "23m"},
		{time.Minute, "1m"},
		{90 * time.Second, "1m 30s"},
		{500 * time.Millisecond, "500ms"},
		{1500 * time.Millisecond, "1s 500ms"},
		{129842 * time.Second, "1d 12h 4m 2s"},
		{32 * 24 * time.Hour, "32d"},
		{22, "22ns"},
		{time.Hour + 24*time.Microsecond, "1h 24µs"},
		{-5 * time.Second, "5s ago"},
		{math.MaxInt64, "106751d 23h 47m 16s 854ms 775µs 807ns"},
		{math.MinInt64, "106751d 23h 47m 16s 854ms 775µs 808ns ago"},
	}
	for _, c := range cases {
		if got := Format(c.in); got != c.want {
			t.Errorf("Format(%d) = %q, want %q", int64(c.in), got, c.want)
		}
	}
}

func TestFormatParseRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{
		0, 1, time.Millisecond, 999 * time.Millisecond, time.Second, 61 * time.Second,
		time.Hour + time.Millisecond, 36*time.Hour + 4*time.Minute + 2*time.Second,
		400 * 24 * time.Hour, math.MaxInt64,
	} {
		got, err := Parse(Format(d))
		if err != nil || got != d {
			t.Errorf("Parse(Format(%v)) = %v, %v", d, got, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"PT60S", "P30D", "PT1H30M", "P1DT2H", "PT0.5S", "60s", "60 sec", "60000ms",
		"1h 30m", "5 hours", "2days", "0", "1d 02:00:00", "1 day, 2 hours", "5s ago",
		"-5s", "1.5h", "3µs", "P1M", "99999999999999999999s", "", "1,5h", "01:02:03.5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			if !strings.Contains(err.Error(), "invalid duration") {
				t.Fatalf("Parse(%q) error lacks context: %v", s, err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("Parse(%q) = %v, negative", s, d)
		}
		again, err := Parse(Format(d))
		if err != nil || again != d {
			t.Fatalf("Parse(Format(Parse(%q))) = %v, %v; want %v", s, again, err, d)
		}
	})
}

func FuzzFormatRoundTrip(f *testing.F) {
	for _, n := range []int64{0, 1, 1e6, 1e9, 86400e9, math.MaxInt64} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, n int64) {
		if n < 0 {
			n = -(n + 1)
		}
		d := time.Duration(n)
		got, err := Parse(Format(d))
		if err != nil || got != d {
			t.Fatalf("Parse(Format(%d)) = %v, %v", n, got, err)
		}
	})
}
