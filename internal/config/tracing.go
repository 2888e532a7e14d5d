package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/restatego/restate/internal/tracing"
)

// tracingEndpoint checks a tracing endpoint's scheme and host (http(s):// for OTLP/gRPC,
// otlp+http(s):// for OTLP/HTTP), so that a typo fails at startup rather than losing spans.
func tracingEndpoint(s string) error {
	if s == "" {
		return nil
	}
	_, _, err := tracing.ParseEndpoint(s)
	return err
}

// tracingHeadersField is the tracing-headers table: header names to values, sent with every
// export. Values are often credentials, so they are Secrets and --dump-config hides them.
var tracingHeadersField = &field{
	key: "tracing-headers",
	set: func(l *loader, in input) error {
		table, ok := in.v.(map[string]any)
		if !ok {
			return fmt.Errorf("expected a table of header names to values, got %s", describe(in.v))
		}
		l.opts.Tracing.Headers = nil
		for k, v := range table {
			if err := setTracingHeader(l, k, input{v: v}); err != nil {
				return err
			}
		}
		return nil
	},
	setEntry: setTracingHeader,
	dump: func(o *Options) (string, bool) {
		h := o.Tracing.Headers
		names := make([]string, 0, len(h))
		for k := range h {
			names = append(names, k)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, k := range names {
			parts[i] = tomlString(k) + " = " + tomlString(h[k].String())
		}
		return "{ " + strings.Join(parts, ", ") + " }", len(h) > 0
	},
}

func setTracingHeader(l *loader, name string, in input) error {
	var v string
	if err := convertString(in, &v, nil); err != nil {
		return fmt.Errorf("header %s: %v", name, err)
	}
	if name == "" || strings.ContainsAny(name, " \t\r\n:") || strings.ContainsAny(v, "\r\n") {
		return fmt.Errorf("%q: %q is not a valid HTTP header", name, v)
	}
	if l.opts.Tracing.Headers == nil {
		l.opts.Tracing.Headers = map[string]Secret{}
	}
	l.opts.Tracing.Headers[strings.ToLower(name)] = Secret(v)
	return nil
}
