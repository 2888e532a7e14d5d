package logging

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Formats of log-format.
const (
	FormatPretty  = "pretty"
	FormatCompact = "compact"
	FormatJSON    = "json"
)

// New returns a logger writing to w in format, filtered by filter.
func New(w io.Writer, format string, filter Filter) *slog.Logger {
	return slog.New(NewHandler(w, format, filter))
}

// NewHandler returns the handler behind New. An unknown format falls back to pretty (the
// configuration layer already refuses one).
func NewHandler(w io.Writer, format string, filter Filter) slog.Handler {
	h := &Handler{out: &output{w: w}, format: format, filter: filter}
	h.setTarget("")
	return h
}

// Handler formats records as Restate does. The "component" attribute of a logger chooses its
// target; it is not printed as a field.
type Handler struct {
	out    *output
	format string
	filter Filter
	target string
	level  slog.Level
	attrs  []slog.Attr // pre-formatted fields from WithAttrs, groups already applied
	groups []string
}

type output struct {
	mu sync.Mutex
	w  io.Writer
}

func (h *Handler) setTarget(component string) {
	h.target = TargetOf(component)
	h.level = h.filter.Level(h.target)
}

func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range as {
		if a.Key == "component" && len(h.groups) == 0 {
			c.setTarget(a.Value.String())
			continue
		}
		c.attrs = append(c.attrs, h.qualify(a))
	}
	return &c
}

func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.groups = append(append([]string(nil), h.groups...), name)
	return &c
}

// qualify prefixes a's key with the open groups ("g.key"), as a flat field.
func (h *Handler) qualify(a slog.Attr) slog.Attr {
	if len(h.groups) == 0 {
		return a
	}
	return slog.Attr{Key: strings.Join(h.groups, ".") + "." + a.Key, Value: a.Value}
}

// levelName is Restate's spelling of a level.
func levelName(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "TRACE"
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARN"
	}
	return "ERROR"
}

// field is one key and its rendered value.
type field struct {
	key string
	val slog.Value
}

func (h *Handler) fields(r slog.Record) []field {
	out := make([]field, 0, len(h.attrs)+r.NumAttrs())
	var add func(prefix string, a slog.Attr)
	add = func(prefix string, a slog.Attr) {
		a.Value = a.Value.Resolve()
		if a.Equal(slog.Attr{}) {
			return
		}
		if a.Value.Kind() == slog.KindGroup {
			p := prefix
			if a.Key != "" {
				p = prefix + a.Key + "."
			}
			for _, g := range a.Value.Group() {
				add(p, g)
			}
			return
		}
		out = append(out, field{prefix + a.Key, a.Value})
	}
	for _, a := range h.attrs {
		add("", a)
	}
	prefix := ""
	if len(h.groups) > 0 {
		prefix = strings.Join(h.groups, ".") + "."
	}
	r.Attrs(func(a slog.Attr) bool {
		add(prefix, a)
		return true
	})
	return out
}

func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	ts := r.Time
	if ts.IsZero() {
		ts = time.Now()
	}
	stamp := ts.UTC().Format("2006-01-02T15:04:05.000000Z")
	fs := h.fields(r)
	var b strings.Builder
	switch h.format {
	case FormatJSON:
		h.json(&b, stamp, r, fs)
	case FormatCompact:
		// 2026-12-03T09:37:27.080544Z  INFO restate_worker::partition: Partition 20 started partition=20
		fmt.Fprintf(&b, "%s %5s %s: %s", stamp, levelName(r.Level), h.target, r.Message)
		for _, f := range fs {
			b.WriteByte(' ')
			b.WriteString(f.key)
			b.WriteByte('=')
			b.WriteString(textValue(f.val))
		}
		b.WriteByte('\n')
	default:
		// Restate's pretty: a header line, the message indented, then one field per line.
		fmt.Fprintf(&b, "%s %s %s\n  %s\n", stamp, levelName(r.Level), h.target, r.Message)
		for _, f := range fs {
			fmt.Fprintf(&b, "    %s: %s\n", f.key, textValue(f.val))
		}
	}
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	_, err := io.WriteString(h.out.w, b.String())
	return err
}

// json writes Restate's JSON line: {"timestamp","level","fields":{"message",...},"target"}.
func (h *Handler) json(b *strings.Builder, stamp string, r slog.Record, fs []field) {
	b.WriteString(`{"timestamp":`)
	writeJSONString(b, stamp)
	b.WriteString(`,"level":`)
	writeJSONString(b, levelName(r.Level))
	b.WriteString(`,"fields":{"message":`)
	writeJSONString(b, r.Message)
	for _, f := range fs {
		b.WriteByte(',')
		writeJSONString(b, f.key)
		b.WriteByte(':')
		writeJSONValue(b, f.val)
	}
	b.WriteString(`},"target":`)
	writeJSONString(b, h.target)
	b.WriteString("}\n")
}

func writeJSONString(b *strings.Builder, s string) {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

// writeJSONValue writes numbers and booleans as JSON values and everything else as strings
// (Restate's fields are mostly Display-formatted strings).
func writeJSONValue(b *strings.Builder, v slog.Value) {
	switch v.Kind() {
	case slog.KindInt64:
		b.WriteString(strconv.FormatInt(v.Int64(), 10))
	case slog.KindUint64:
		b.WriteString(strconv.FormatUint(v.Uint64(), 10))
	case slog.KindBool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case slog.KindFloat64:
		if enc, err := json.Marshal(v.Float64()); err == nil {
			b.Write(enc)
			return
		}
		writeJSONString(b, v.String())
	default:
		writeJSONString(b, rawText(v))
	}
}

// textValue renders a value for the text formats; strings with spaces or quotes are quoted.
func textValue(v slog.Value) string { return quoteIfNeeded(rawText(v)) }

func rawText(v slog.Value) string {
	switch v.Kind() {
	case slog.KindDuration:
		return v.Duration().String()
	case slog.KindTime:
		return v.Time().UTC().Format(time.RFC3339Nano)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return err.Error()
		}
	}
	return v.String()
}

func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"=") || !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	return s
}
