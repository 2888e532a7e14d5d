package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"
)

func mustFilter(t *testing.T, s string) Filter {
	t.Helper()
	f, err := ParseFilter(s)
	if err != nil {
		t.Fatalf("ParseFilter(%q): %v", s, err)
	}
	return f
}

func TestFilterLevels(t *testing.T) {
	f := mustFilter(t, "warn,restate=info,restate_invoker=debug")
	cases := map[string]slog.Level{
		"restate_invoker_impl":                 slog.LevelDebug, // our invoker's target
		"restate_ingress_http":                 slog.LevelInfo,
		"restate_worker::partition::snapshots": slog.LevelInfo,
		"hyper::proto":                         slog.LevelWarn,
	}
	for target, want := range cases {
		if got := f.Level(target); got != want {
			t.Errorf("Level(%q) = %v, want %v", target, got, want)
		}
	}
	// The last of two directives for one target wins; a lone target means trace; off silences.
	f = mustFilter(t, "restate_worker=info, restate_worker=error ,restate_admin,restate_invoker=OFF")
	if got := f.Level("restate_worker::partition"); got != slog.LevelError {
		t.Errorf("repeated target: %v, want ERROR", got)
	}
	if got := f.Level("restate_admin"); got != LevelTrace {
		t.Errorf("lone target: %v, want TRACE", got)
	}
	if got := f.Level("restate_invoker_impl"); got != LevelOff {
		t.Errorf("off: %v", got)
	}
	if got := f.Level("other"); got != slog.LevelError {
		t.Errorf("no default directive: %v, want ERROR", got)
	}
	// Span selectors are accepted and ignored.
	f = mustFilter(t, "info,restate_worker[run{partition_id=1,leader=true}]=debug")
	if got := f.Level("restate_worker::partition"); got != slog.LevelDebug {
		t.Errorf("span selector: %v", got)
	}
}

func TestFilterErrors(t *testing.T) {
	for in, want := range map[string]string{
		"restate=loud":         `unknown level "loud"`,
		"=info":                "empty target",
		"restate worker=debug": "is not allowed",
		"restate[run=debug":    "unclosed '['",
		"restate]=debug":       "unbalanced",
		"restate[run]x=debug":  "must end with ']'",
	} {
		_, err := ParseFilter(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseFilter(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"", "info", "warn,restate=info", "warn,restate=info,restate_invoker=debug",
		"restate_worker[run{partition_id=1}]=trace", "a=b=c", ",,,", "restate=", "OFF", "x[", "é=info"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		// A parsed filter answers for any target, and its directives round-trip.
		_ = flt.Level("restate_invoker_impl")
		var parts []string
		for _, d := range flt.Directives() {
			name := strings.ToLower(levelName(d.Level))
			if d.Level == LevelOff {
				name = "off"
			}
			if d.Target == "" {
				parts = append(parts, name)
			} else {
				parts = append(parts, d.Target+"="+name)
			}
		}
		again, err := ParseFilter(strings.Join(parts, ","))
		if err != nil {
			t.Fatalf("re-parsing %q (from %q): %v", strings.Join(parts, ","), s, err)
		}
		for _, target := range []string{"restate_invoker_impl", "restate_server", "x"} {
			if a, b := flt.Level(target), again.Level(target); a != b {
				t.Fatalf("%q: level of %s changed from %v to %v on re-parse", s, target, a, b)
			}
		}
	})
}

func logOne(format, filter string, log func(l *slog.Logger)) string {
	var buf bytes.Buffer
	f, err := ParseFilter(filter)
	if err != nil {
		panic(err)
	}
	log(New(&buf, format, f))
	return buf.String()
}

// The JSON shape is Restate's: timestamp (UTC, microseconds), level, fields with message and
// the attributes, target.
func TestJSONFormat(t *testing.T) {
	out := logOne(FormatJSON, "info", func(l *slog.Logger) {
		l.With("component", "invoker").Info("invocation attempt failed",
			"invocation_id", "inv_1abc", "partition", uint16(3), "attempt", 2, "err", errors.New(`bad "thing"`), "delay", 20*time.Millisecond)
	})
	var line struct {
		Timestamp string         `json:"timestamp"`
		Level     string         `json:"level"`
		Fields    map[string]any `json:"fields"`
		Target    string         `json:"target"`
	}
	if err := json.Unmarshal([]byte(out), &line); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`).MatchString(line.Timestamp) {
		t.Errorf("timestamp %q", line.Timestamp)
	}
	if line.Level != "INFO" || line.Target != "restate_invoker_impl" {
		t.Errorf("level %q target %q", line.Level, line.Target)
	}
	want := map[string]any{"message": "invocation attempt failed", "invocation_id": "inv_1abc", "partition": 3.0,
		"attempt": 2.0, "err": `bad "thing"`, "delay": "20ms"}
	for k, v := range want {
		if line.Fields[k] != v {
			t.Errorf("fields[%s] = %#v, want %#v", k, line.Fields[k], v)
		}
	}
	if _, ok := line.Fields["component"]; ok {
		t.Error("component is printed as a field; it is the target")
	}
	var keys []string
	dec := json.NewDecoder(strings.NewReader(out))
	dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	if strings.Join(keys, ",") != "timestamp,level,fields,target" {
		t.Errorf("key order %v, Restate's is timestamp,level,fields,target", keys)
	}
}

func TestTextFormats(t *testing.T) {
	log := func(l *slog.Logger) {
		l.With("component", "partition", "partition", 7).Warn("partition snapshot failed", "err", "disk full")
	}
	compact := logOne(FormatCompact, "info", log)
	if !regexp.MustCompile(`^\S+Z  WARN restate_worker::partition: partition snapshot failed partition=7 err="disk full"\n$`).MatchString(compact) {
		t.Errorf("compact: %q", compact)
	}
	pretty := logOne(FormatPretty, "info", log)
	if !regexp.MustCompile(`^\S+Z WARN restate_worker::partition\n  partition snapshot failed\n    partition: 7\n    err: "disk full"\n$`).MatchString(pretty) {
		t.Errorf("pretty: %q", pretty)
	}
}

// The filter decides per logger target: restate_invoker=debug shows the invoker's debug lines
// and not the ingress's.
func TestHandlerFilters(t *testing.T) {
	out := logOne(FormatCompact, "warn,restate=info,restate_invoker=debug", func(l *slog.Logger) {
		l.With("component", "invoker").Debug("invoker debug")
		l.With("component", "ingress").Debug("ingress debug")
		l.With("component", "ingress").Info("ingress info")
		l.Info("server info")
		l.With("component", "invoker").WithGroup("g").With("component", "x").Debug("grouped stays invoker")
	})
	for _, want := range []string{"invoker debug", "ingress info", "server info", "grouped stays invoker", "g.component=x"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ingress debug") {
		t.Errorf("ingress debug logged under restate=info:\n%s", out)
	}
	if out := logOne(FormatJSON, "off", func(l *slog.Logger) { l.Error("x") }); out != "" {
		t.Errorf("off still logs: %q", out)
	}
}
