// Package logging builds the server's slog logger the way Restate configures its logs: the
// log-filter setting (RUST_LOG's env-filter syntax, "warn,restate=info,restate_invoker=debug")
// with levels per target, and the log-format setting (pretty, compact or json, the json
// shape being Restate's: timestamp, level, fields.message, target).
//
// A target is the Rust module path Restate's log line would carry; our components map onto
// them (see Targets), so a filter written for Restate selects the same parts here.
package logging

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
)

// LevelTrace and LevelOff extend slog's levels with env-filter's trace and off.
const (
	LevelTrace = slog.LevelDebug - 4
	LevelOff   = slog.LevelError + 100
)

// Directive is one element of a filter: records whose target starts with Target are logged at
// Level or above. An empty Target is the default for all targets.
type Directive struct {
	Target string
	Level  slog.Level
}

// Filter is a parsed log filter. The longest matching target wins, as in env-filter.
type Filter struct {
	directives []Directive // longest target first
}

// DefaultFilter is Restate's default log-filter.
const DefaultFilter = "warn,restate=info"

// ParseFilter parses env-filter syntax: comma-separated directives, each a level ("info"), a
// target ("restate_invoker", meaning trace) or target=level. Span and field selectors
// ("target[span{field}]=level") are accepted and ignored: nothing here has spans. An empty
// filter means error only, as env-filter's empty default does.
func ParseFilter(s string) (Filter, error) {
	var f Filter
	parts, err := splitDirectives(s)
	if err != nil {
		return Filter{}, err
	}
	for _, raw := range parts {
		d := strings.TrimSpace(raw)
		if d == "" {
			continue
		}
		// The level follows the last '=' outside a span selector.
		target, lvl, hasLevel := d, "", false
		if i := strings.LastIndexByte(d, '='); i >= 0 && i > strings.LastIndexByte(d, ']') {
			target, lvl, hasLevel = d[:i], d[i+1:], true
		}
		target = strings.TrimSpace(target)
		if i := strings.IndexByte(target, '['); i >= 0 {
			if !strings.HasSuffix(target, "]") {
				return Filter{}, fmt.Errorf("log filter directive %q: the span selector must end with ']' before the level", d)
			}
			target = target[:i]
		}
		if !hasLevel {
			// A lone word is a level if it names one, else a target enabled at trace.
			if l, err := parseLevel(target); err == nil {
				f.directives = append(f.directives, Directive{Level: l})
				continue
			}
			lvl = "trace"
		}
		if err := checkTarget(target); err != nil {
			return Filter{}, fmt.Errorf("log filter directive %q: %w", d, err)
		}
		l, err := parseLevel(strings.TrimSpace(lvl))
		if err != nil {
			return Filter{}, fmt.Errorf("log filter directive %q: %w", d, err)
		}
		f.directives = append(f.directives, Directive{Target: target, Level: l})
	}
	// Longest target first; for the same target the last directive wins (stable sort on a
	// reversed list keeps the later one in front).
	for i, j := 0, len(f.directives)-1; i < j; i, j = i+1, j-1 {
		f.directives[i], f.directives[j] = f.directives[j], f.directives[i]
	}
	sort.SliceStable(f.directives, func(i, j int) bool { return len(f.directives[i].Target) > len(f.directives[j].Target) })
	return f, nil
}

// splitDirectives splits at commas outside span selectors ("t[span{a=1,b=2}]=debug").
func splitDirectives(s string) ([]string, error) {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '[', '{':
			depth++
		case ']', '}':
			if depth == 0 {
				return nil, fmt.Errorf("log filter %q: unbalanced %q at byte %d", s, r, i)
			}
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("log filter %q: unclosed '[' or '{'", s)
	}
	return append(out, s[start:]), nil
}

func checkTarget(t string) error {
	if t == "" {
		return fmt.Errorf("empty target")
	}
	for _, r := range t {
		if !(r == '_' || r == ':' || r == '-' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fmt.Errorf("target %q: character %q is not allowed in a module path", t, r)
		}
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "trace":
		return LevelTrace, nil
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	case "off":
		return LevelOff, nil
	}
	return 0, fmt.Errorf("unknown level %q (want trace, debug, info, warn, error or off)", s)
}

// Level is the lowest level logged for target.
func (f Filter) Level(target string) slog.Level {
	for _, d := range f.directives {
		if d.Target == "" || strings.HasPrefix(target, d.Target) {
			return d.Level
		}
	}
	return slog.LevelError // env-filter's implicit default
}

// Directives lists the parsed directives, longest target first.
func (f Filter) Directives() []Directive { return append([]Directive(nil), f.directives...) }

// Targets maps our components (the "component" attribute of a logger) to the Restate targets
// whose filter directives should select them.
var Targets = map[string]string{
	"":          "restate_server",
	"invoker":   "restate_invoker_impl",
	"ingress":   "restate_ingress_http",
	"admin":     "restate_admin",
	"cluster":   "restate_admin::cluster_controller",
	"raft":      "restate_bifrost::providers::replicated_loglet",
	"snapshots": "restate_worker::partition::snapshots",
	"partition": "restate_worker::partition",
	"query":     "restate_storage_query_datafusion",
	"metadata":  "restate_metadata_server",
	"log":       "restate_bifrost",
}

// TargetOf is the target of a component; one we do not know is "restate_<component>".
func TargetOf(component string) string {
	if t, ok := Targets[component]; ok {
		return t
	}
	return "restate_" + strings.ReplaceAll(component, "-", "_")
}
