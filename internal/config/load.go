package config

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

type sourceKind int

const (
	sourceFile sourceKind = iota
	sourceEnv
	sourceFlag
)

// source says where a value came from, for messages.
type source struct {
	kind sourceKind
	name string // file path, variable name or flag as written
}

func (s source) String() string {
	switch s.kind {
	case sourceFile:
		return "config file " + s.name
	case sourceEnv:
		return "environment variable " + s.name
	default:
		return "flag " + s.name
	}
}

type loader struct {
	opts     *Options
	warnings []string
}

func (l *loader) warn(msg string) { l.warnings = append(l.warnings, msg) }

// Load builds the configuration from the command line (without the program
// name) and the environment (as os.Environ returns it). It returns the
// warnings to show the user: options Restate knows that this server ignores,
// and unknown RESTATE_* variables. Errors name the key, the problem and where
// the bad value came from.
//
// When --help or --version is given, Load stops after reading the command
// line and returns the defaults with Command set; the caller prints and exits.
// The same holds for --dump-config after everything is loaded.
func Load(args []string, environ []string) (*Options, []string, error) {
	parsed, err := parseArgs(args)
	if err != nil {
		return nil, nil, err
	}
	l := &loader{opts: Defaults(), warnings: parsed.warnings}
	l.opts.Command = parsed.cmd
	if parsed.cmd.Help || parsed.cmd.Version {
		return l.opts, l.warnings, nil
	}
	if parsed.cmd.Production {
		l.opts.AutoProvision = false
	}

	env := environMap(environ)
	configFile := parsed.cmd.ConfigFile
	if configFile == "" {
		configFile = strings.TrimSpace(env["RESTATE_CONFIG"].value)
	}
	if configFile != "" {
		l.opts.Command.ConfigFile = configFile
		if err := l.loadFile(configFile); err != nil {
			return nil, nil, err
		}
	}
	if err := l.loadEnv(env); err != nil {
		return nil, nil, err
	}
	for _, s := range parsed.settings {
		if err := l.apply(s.key, s.in, source{kind: sourceFlag, name: s.flag}); err != nil {
			return nil, nil, err
		}
	}
	if p := l.opts.TopLevelRequestIdentityPrivateKeyPEMFile; p != "" {
		l.warn("using the deprecated config option request-identity-private-key-pem-file instead of worker.invoker.request-identity-private-key-pem-file; please move it there")
		l.opts.Worker.Invoker.RequestIdentityPrivateKeyPEMFile = p
		l.opts.TopLevelRequestIdentityPrivateKeyPEMFile = ""
	}
	if err := l.opts.checkTLS(); err != nil {
		return nil, nil, err
	}
	if so := l.opts.Worker.Snapshots; so.Destination == "" && (so.SnapshotIntervalNumRecords > 0 || so.SnapshotInterval > 0 || so.NumRetained > 0) {
		l.warn("worker.snapshots: snapshot-interval, snapshot-interval-num-records and num-retained have no effect without worker.snapshots.destination")
	}
	return l.opts, l.warnings, nil
}

type envEntry struct {
	name  string // as written
	value string
}

// environMap indexes KEY=value pairs by upper-cased name (Restate matches
// variable names case-insensitively). Later duplicates win, as in os/exec.
func environMap(environ []string) map[string]envEntry {
	m := make(map[string]envEntry, len(environ))
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			continue
		}
		m[strings.ToUpper(name)] = envEntry{name: name, value: value}
	}
	return m
}

func (l *loader) loadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config file: %w", err)
	}
	return l.loadTOML(data, path)
}

// loadTOML applies the contents of a config file; path names it in messages.
func (l *loader) loadTOML(data []byte, path string) error {
	doc := map[string]any{}
	if err := toml.Unmarshal(data, &doc); err != nil {
		var derr *toml.DecodeError
		if errors.As(err, &derr) {
			row, col := derr.Position()
			return fmt.Errorf("config file %s: line %d, column %d: %s", path, row, col, derr.Error())
		}
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return l.applyTable("", doc, source{kind: sourceFile, name: path})
}

func (l *loader) loadEnv(env map[string]envEntry) error {
	names := make([]string, 0, len(env))
	for upper := range env {
		names = append(names, upper)
	}
	sort.Strings(names)
	for _, upper := range names {
		e := env[upper]
		if !strings.HasPrefix(upper, envPrefix) || ignoredEnv[upper] {
			continue
		}
		// Empty variables are how compose files leave a setting unset.
		if strings.TrimSpace(e.value) == "" {
			continue
		}
		key, ok := envKeyPath(e.name)
		if !ok {
			continue
		}
		in := input{v: parseEnvValue(e.value), text: e.value, hasText: true}
		if err := l.apply(key, in, source{kind: sourceEnv, name: e.name}); err != nil {
			return err
		}
	}
	// Restate merges RUST_LOG after the RESTATE_* variables, so it wins over
	// RESTATE_LOG_FILTER.
	if e, ok := env["RUST_LOG"]; ok && strings.TrimSpace(e.value) != "" {
		in := input{v: e.value, text: e.value, hasText: true}
		if err := l.apply("log-filter", in, source{kind: sourceEnv, name: e.name}); err != nil {
			return err
		}
	}
	return nil
}

// applyTable applies every key of a table found at path.
func (l *loader) applyTable(path string, table map[string]any, src source) error {
	keys := make([]string, 0, len(table))
	for k := range table {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := l.apply(joinKey(path, k), input{v: table[k]}, src); err != nil {
			return err
		}
	}
	return nil
}

func joinKey(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// apply stores one value at a dotted key path.
func (l *loader) apply(path string, in input, src source) error {
	if f := fieldsByKey[path]; f != nil {
		if err := f.set(l, in); err != nil {
			return fmt.Errorf("invalid value for %s from %s: %v", path, src, err)
		}
		return nil
	}
	if parent, name := splitKey(path); fieldsByKey[parent] != nil && fieldsByKey[parent].setEntry != nil {
		// One entry of a table-valued key, e.g. RESTATE_TRACING_HEADERS__AUTHORIZATION.
		if err := fieldsByKey[parent].setEntry(l, name, in); err != nil {
			return fmt.Errorf("invalid value for %s from %s: %v", path, src, err)
		}
		return nil
	}
	if isSection(path) {
		table, ok := in.v.(map[string]any)
		if !ok {
			return fmt.Errorf("invalid value for %s from %s: expected a table, got %s", path, src, describe(in.v))
		}
		return l.applyTable(path, table, src)
	}
	if restateKnows(path) {
		l.warnIgnored(path, in.v, src)
		return nil
	}
	switch src.kind {
	case sourceEnv:
		l.warn(fmt.Sprintf("ignoring environment variable %s: %s is not a Restate configuration key", src.name, path))
		return nil
	case sourceFile:
		return fmt.Errorf("unknown configuration key %s in %s%s", path, src.name, suggestKey(path))
	default:
		return fmt.Errorf("unknown configuration key %s from %s", path, src)
	}
}

// warnIgnored warns about each key of a Restate option this server ignores,
// descending into tables so that the message names the exact key.
func (l *loader) warnIgnored(path string, v any, src source) {
	if table, ok := v.(map[string]any); ok && len(table) > 0 {
		keys := make([]string, 0, len(table))
		for k := range table {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			l.warnIgnored(joinKey(path, k), table[k], src)
		}
		return
	}
	l.warn(fmt.Sprintf("ignoring %s from %s: a Restate option this server does not implement", path, src))
}

// suggestKey proposes a known key close to a mistyped one.
func suggestKey(path string) string {
	parent, name := splitKey(path)
	if !isSection(parent) {
		return ""
	}
	var candidates []string
	for _, f := range fieldList {
		if p, n := splitKey(f.key); p == parent {
			candidates = append(candidates, n)
		}
	}
	for _, s := range sections {
		if p, n := splitKey(s); s != "" && p == parent {
			candidates = append(candidates, n)
		}
	}
	best, bestDist := "", 3
	for _, c := range candidates {
		d := editDistance(name, c)
		if strings.ReplaceAll(name, "_", "-") == c {
			d = 0
		}
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", joinKey(parent, best))
}

// editDistance is the Levenshtein distance between two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
