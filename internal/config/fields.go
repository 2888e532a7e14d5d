package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/restatego/restate/internal/duration"
	"github.com/restatego/restate/internal/netguard"
)

// input is one configuration value on its way into Options.
type input struct {
	// v is the value as its source typed it: from TOML a string, int64,
	// float64, bool, []any, map[string]any or date/time; from the environment
	// what parseEnvValue made of the text; from a flag the text itself.
	v any
	// text is the original text for environment and flag values, where a
	// string field should get exactly what was written (RESTATE_NODE_NAME=007
	// names the node "007", not 7).
	text    string
	hasText bool
}

// field binds one configuration key to Options.
type field struct {
	key string
	// set converts and stores a value; errors describe the problem with the
	// value only, the caller adds the key and source.
	set func(l *loader, in input) error
	// dump renders the current value as a TOML literal; ok=false leaves the
	// key out (unset optional values, and aliases which have no dump).
	dump func(o *Options) (literal string, ok bool)
	// setEntry, for table-valued keys, stores one entry given by a dotted path below the key
	// (environment variables name entries one at a time).
	setEntry func(l *loader, name string, in input) error
}

// sections are the tables this server implements, in dump order. Keys in them
// that are neither fields nor Restate-known are typos.
var sections = []string{
	"", "default-retry-policy", "metadata-client", "admin", "admin.query-engine", "ingress",
	"worker", "worker.invoker", "worker.snapshots", "bifrost", "metadata-server",
}

func isSection(path string) bool {
	for _, s := range sections {
		if s == path {
			return true
		}
	}
	return false
}

// fieldList is every key this server implements, in dump order.
var fieldList = []*field{
	{key: "roles", set: setRoles, dump: func(o *Options) (string, bool) { return tomlStrings(o.Roles), true }},
	stringField("node-name", func(o *Options) *string { return &o.NodeName }, nonEmpty, false),
	stringField("cluster-name", func(o *Options) *string { return &o.ClusterName }, nonEmpty, false),
	stringField("base-dir", func(o *Options) *string { return &o.BaseDir }, nonEmpty, false),
	{key: "force-node-id", set: setForceNodeID, dump: func(o *Options) (string, bool) {
		return strconv.FormatUint(uint64(o.ForceNodeID), 10), o.ForceNodeID != 0
	}},
	boolField("auto-provision", func(o *Options) *bool { return &o.AutoProvision }),
	alias(boolField("allow-bootstrap", func(o *Options) *bool { return &o.AutoProvision })),
	stringField("bind-address", func(o *Options) *string { return &o.BindAddress }, bindAddress, false),
	stringField("advertised-address", func(o *Options) *string { return &o.AdvertisedAddress }, advertisedAddress, false),
	uintField("default-num-partitions", func(o *Options) *uint16 { return &o.DefaultNumPartitions }, 1, math.MaxUint16, false),
	alias(uintField("bootstrap-num-partitions", func(o *Options) *uint16 { return &o.DefaultNumPartitions }, 1, math.MaxUint16, false)),
	{key: "default-replication", set: setReplication, dump: func(o *Options) (string, bool) {
		return strconv.Itoa(o.DefaultReplication), true
	}},
	stringField("tls-cert-file", func(o *Options) *string { return &o.TLSCertFile }, nil, true),
	stringField("tls-key-file", func(o *Options) *string { return &o.TLSKeyFile }, nil, true),
	stringField("tls-ca-file", func(o *Options) *string { return &o.TLSCAFile }, nil, true),
	durationField("shutdown-timeout", func(o *Options) *time.Duration { return &o.ShutdownTimeout }, true),
	byteSizeField("min-free-disk-space", func(o *Options) *uint64 { return &o.MinFreeDiskSpace }),
	stringField("log-filter", func(o *Options) *string { return &o.LogFilter }, nil, false),
	stringField("log-format", func(o *Options) *string { return &o.LogFormat },
		oneOf(LogFormatPretty, LogFormatCompact, LogFormatJSON), false),
	boolField("enable-pprof", func(o *Options) *bool { return &o.EnablePprof }),
	stringField("tracing-endpoint", func(o *Options) *string { return &o.Tracing.Endpoint }, tracingEndpoint, true),
	stringField("tracing-runtime-endpoint", func(o *Options) *string { return &o.Tracing.RuntimeEndpoint }, tracingEndpoint, true),
	stringField("tracing-services-endpoint", func(o *Options) *string { return &o.Tracing.ServicesEndpoint }, tracingEndpoint, true),
	stringField("tracing-json-path", func(o *Options) *string { return &o.Tracing.JSONPath }, nil, true),
	stringField("tracing-filter", func(o *Options) *string { return &o.Tracing.Filter }, nil, false),
	tracingHeadersField,
	optionalListField("deployment-allowed-addresses", func(o *Options) *[]string { return &o.DeploymentAllowedAddresses }, netguard.CheckEntry),

	durationField("default-retry-policy.initial-interval", func(o *Options) *time.Duration { return &o.DefaultRetryPolicy.InitialInterval }, true),
	floatField("default-retry-policy.exponentiation-factor", func(o *Options) *float64 { return &o.DefaultRetryPolicy.ExponentiationFactor }),
	{key: "default-retry-policy.max-attempts", set: setMaxAttempts, dump: func(o *Options) (string, bool) {
		if o.DefaultRetryPolicy.MaxAttempts == 0 {
			return tomlString("unlimited"), true
		}
		return strconv.Itoa(o.DefaultRetryPolicy.MaxAttempts), true
	}},
	stringField("default-retry-policy.on-max-attempts", func(o *Options) *string { return &o.DefaultRetryPolicy.OnMaxAttempts },
		oneOf(OnMaxAttemptsPause, OnMaxAttemptsKill), false),
	durationField("default-retry-policy.max-interval", func(o *Options) *time.Duration { return &o.DefaultRetryPolicy.MaxInterval }, true),

	listField("metadata-client.addresses", func(o *Options) *[]string { return &o.MetadataClient.Addresses }, advertisedAddress),
	alias(listField("metadata-client.address", func(o *Options) *[]string { return &o.MetadataClient.Addresses }, advertisedAddress)),
	// Only the replicated metadata store exists here; other types must fail
	// loudly rather than silently run a different store.
	alias(&field{key: "metadata-client.type", set: func(l *loader, in input) error {
		var s string
		return convertString(in, &s, oneOf("replicated", "embedded"))
	}}),

	stringField("admin.bind-address", func(o *Options) *string { return &o.Admin.BindAddress }, bindAddress, false),
	stringField("admin.advertised-admin-endpoint", func(o *Options) *string { return &o.Admin.AdvertisedAdminEndpoint }, advertisedAddress, true),
	alias(stringField("admin.advertised-address", func(o *Options) *string { return &o.Admin.AdvertisedAdminEndpoint }, advertisedAddress, true)),
	stringField("admin.tls-cert-file", func(o *Options) *string { return &o.Admin.TLSCertFile }, nil, true),
	stringField("admin.tls-key-file", func(o *Options) *string { return &o.Admin.TLSKeyFile }, nil, true),
	durationField("admin.log-trim-check-interval", func(o *Options) *time.Duration { return &o.Admin.LogTrimCheckInterval }, true),
	intField("admin.concurrent-api-requests-limit", func(o *Options) *int { return &o.Admin.ConcurrentAPIRequestsLimit }),
	atLeastBytes(byteSizeField("admin.query-engine.memory-size", func(o *Options) *uint64 { return &o.Admin.QueryEngine.MemorySize }),
		func(o *Options) *uint64 { return &o.Admin.QueryEngine.MemorySize }, 1<<20),
	durationField("admin.query-engine.query-timeout", func(o *Options) *time.Duration { return &o.Admin.QueryEngine.QueryTimeout }, true),
	stringField("admin.auth-tokens-file", func(o *Options) *string { return &o.Admin.AuthTokensFile }, nil, true),
	secretListField("admin.auth-tokens", func(o *Options) *[]Secret { return &o.Admin.AuthTokens }),

	stringField("ingress.bind-address", func(o *Options) *string { return &o.Ingress.BindAddress }, bindAddress, false),
	stringField("ingress.advertised-ingress-endpoint", func(o *Options) *string { return &o.Ingress.AdvertisedIngressEndpoint }, advertisedAddress, true),
	alias(stringField("ingress.advertised-address", func(o *Options) *string { return &o.Ingress.AdvertisedIngressEndpoint }, advertisedAddress, true)),
	stringField("ingress.tls-cert-file", func(o *Options) *string { return &o.Ingress.TLSCertFile }, nil, true),
	stringField("ingress.tls-key-file", func(o *Options) *string { return &o.Ingress.TLSKeyFile }, nil, true),
	intField("ingress.concurrent-api-requests-limit", func(o *Options) *int { return &o.Ingress.ConcurrentAPIRequestsLimit }),
	stringField("ingress.auth-tokens-file", func(o *Options) *string { return &o.Ingress.AuthTokensFile }, nil, true),
	secretListField("ingress.auth-tokens", func(o *Options) *[]Secret { return &o.Ingress.AuthTokens }),

	durationField("worker.invoker.inactivity-timeout", func(o *Options) *time.Duration { return &o.Worker.Invoker.InactivityTimeout }, false),
	durationField("worker.cleanup-interval", func(o *Options) *time.Duration { return &o.Worker.CleanupInterval }, false),
	durationField("worker.invoker.abort-timeout", func(o *Options) *time.Duration { return &o.Worker.Invoker.AbortTimeout }, false),
	intField("worker.invoker.concurrent-invocations-limit", func(o *Options) *int { return &o.Worker.Invoker.ConcurrentInvocationsLimit }),
	stringField("worker.invoker.request-identity-private-key-pem-file", func(o *Options) *string { return &o.Worker.Invoker.RequestIdentityPrivateKeyPEMFile }, nil, true),
	durationField("worker.invoker.request-identity-expiration", func(o *Options) *time.Duration { return &o.Worker.Invoker.RequestIdentityExpiration }, true),
	alias(stringField("request-identity-private-key-pem-file", func(o *Options) *string { return &o.TopLevelRequestIdentityPrivateKeyPEMFile }, nil, true)),

	stringField("worker.snapshots.destination", func(o *Options) *string { return &o.Worker.Snapshots.Destination }, objectStoreURL, true),
	uintField("worker.snapshots.snapshot-interval-num-records", func(o *Options) *uint64 { return &o.Worker.Snapshots.SnapshotIntervalNumRecords }, 1, math.MaxUint64, true),
	omitZeroDuration(durationField("worker.snapshots.snapshot-interval", func(o *Options) *time.Duration { return &o.Worker.Snapshots.SnapshotInterval }, true)),
	uintField("worker.snapshots.num-retained", func(o *Options) *uint64 { return &o.Worker.Snapshots.NumRetained }, 1, 1<<20, true),
	stringField("worker.snapshots.aws-region", func(o *Options) *string { return &o.Worker.Snapshots.AwsRegion }, nil, true),
	stringField("worker.snapshots.aws-endpoint-url", func(o *Options) *string { return &o.Worker.Snapshots.AwsEndpointURL }, httpURL, true),
	stringField("worker.snapshots.aws-access-key-id", func(o *Options) *string { return &o.Worker.Snapshots.AwsAccessKeyID }, nil, true),
	secretField("worker.snapshots.aws-secret-access-key", func(o *Options) *Secret { return &o.Worker.Snapshots.AwsSecretAccessKey }),
	secretField("worker.snapshots.aws-session-token", func(o *Options) *Secret { return &o.Worker.Snapshots.AwsSessionToken }),
	stringField("worker.snapshots.aws-profile", func(o *Options) *string { return &o.Worker.Snapshots.AwsProfile }, nil, true),
	omitFalse(boolField("worker.snapshots.aws-allow-http", func(o *Options) *bool { return &o.Worker.Snapshots.AwsAllowHTTP })),

	stringField("bifrost.default-provider", func(o *Options) *string { return &o.Bifrost.DefaultProvider }, oneOf("replicated", "local"), false),
	stringField("metadata-server.type", func(o *Options) *string { return &o.MetadataServer.Type }, oneOf("replicated", "local"), false),
}

var fieldsByKey = func() map[string]*field {
	m := make(map[string]*field, len(fieldList))
	for _, f := range fieldList {
		if m[f.key] != nil {
			panic("config: duplicate field " + f.key)
		}
		m[f.key] = f
	}
	return m
}()

// alias marks a field as an alternative spelling: it is read but not dumped.
func alias(f *field) *field {
	f.dump = nil
	return f
}

// atLeastBytes rejects a size below least.
func atLeastBytes(f *field, ptr func(*Options) *uint64, least uint64) *field {
	set := f.set
	f.set = func(l *loader, in input) error {
		if err := set(l, in); err != nil {
			return err
		}
		if *ptr(l.opts) < least {
			return fmt.Errorf("must be at least %s", formatByteSize(least))
		}
		return nil
	}
	return f
}

// omitFalse leaves a boolean option out of dumps while it is false.
func omitFalse(f *field) *field {
	dump := f.dump
	f.dump = func(o *Options) (string, bool) {
		literal, ok := dump(o)
		return literal, ok && literal != "false"
	}
	return f
}

// omitZeroDuration leaves an unset optional duration out of --dump-config.
func omitZeroDuration(f *field) *field {
	dump := f.dump
	f.dump = func(o *Options) (string, bool) {
		literal, ok := dump(o)
		return literal, ok && literal != tomlString(duration.Format(0))
	}
	return f
}

// describe names a value's type for error messages.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string %q", x)
	case int64, uint64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return "float " + strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return fmt.Sprintf("boolean %t", x)
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// convertString accepts strings; environment and flag text is taken as
// written even when it looks like a number.
func convertString(in input, dst *string, check func(string) error) error {
	var s string
	switch x := in.v.(type) {
	case string:
		s = x
	case int64, uint64, float64, bool:
		if !in.hasText {
			return fmt.Errorf("expected a string, got %s", describe(in.v))
		}
		s = strings.TrimSpace(in.text)
	default:
		return fmt.Errorf("expected a string, got %s", describe(in.v))
	}
	if check != nil {
		if err := check(s); err != nil {
			return err
		}
	}
	*dst = s
	return nil
}

func stringField(key string, ptr func(*Options) *string, check func(string) error, omitEmpty bool) *field {
	return &field{
		key: key,
		set: func(l *loader, in input) error { return convertString(in, ptr(l.opts), check) },
		dump: func(o *Options) (string, bool) {
			v := *ptr(o)
			return tomlString(v), !(omitEmpty && v == "")
		},
	}
}

func secretField(key string, ptr func(*Options) *Secret) *field {
	return &field{
		key: key,
		set: func(l *loader, in input) error {
			var s string
			if err := convertString(in, &s, nil); err != nil {
				return err
			}
			*ptr(l.opts) = Secret(s)
			return nil
		},
		dump: func(o *Options) (string, bool) {
			v := *ptr(o)
			return tomlString(v.String()), v != ""
		},
	}
}

// secretListField is a list of credentials: each dumps as "[redacted]", so --dump-config
// shows how many are set but none of them. An empty list turns the feature off.
func secretListField(key string, ptr func(*Options) *[]Secret) *field {
	return &field{
		key: key,
		set: func(l *loader, in input) error {
			list, err := convertStrings(in)
			if err != nil {
				return err
			}
			secrets := make([]Secret, 0, len(list))
			for _, s := range list {
				secrets = append(secrets, Secret(s))
			}
			if len(secrets) == 0 {
				secrets = nil
			}
			*ptr(l.opts) = secrets
			return nil
		},
		dump: func(o *Options) (string, bool) {
			list := *ptr(o)
			shown := make([]string, len(list))
			for i, s := range list {
				shown[i] = s.String()
			}
			return tomlStrings(shown), len(list) > 0
		},
	}
}

// optionalListField is a list that may be empty (empty means unset), left out of dumps
// while empty.
func optionalListField(key string, ptr func(*Options) *[]string, check func(string) error) *field {
	return &field{
		key: key,
		set: func(l *loader, in input) error {
			list, err := convertStrings(in)
			if err != nil {
				return err
			}
			for _, s := range list {
				if err := check(s); err != nil {
					return err
				}
			}
			if len(list) == 0 {
				list = nil
			}
			*ptr(l.opts) = list
			return nil
		},
		dump: func(o *Options) (string, bool) { return tomlStrings(*ptr(o)), len(*ptr(o)) > 0 },
	}
}

func convertBool(in input) (bool, error) {
	switch x := in.v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, fmt.Errorf("expected true or false, got %s", describe(in.v))
}

func boolField(key string, ptr func(*Options) *bool) *field {
	return &field{
		key: key,
		set: func(l *loader, in input) error {
			b, err := convertBool(in)
			if err != nil {
				return err
			}
			*ptr(l.opts) = b
			return nil
		},
		dump: func(o *Options) (string, bool) { return strconv.FormatBool(*ptr(o)), true },
	}
}

// convertUint accepts non-negative integers, also written as decimal text.
func convertUint(in input) (uint64, error) {
	switch x := in.v.(type) {
	case int64:
		if x < 0 {
			return 0, fmt.Errorf("must not be negative, got %d", x)
		}
		return uint64(x), nil
	case uint64:
		return x, nil
	case string:
		t := strings.TrimSpace(x)
		if strings.HasPrefix(t, "-") && isAllDigits(t[1:]) {
			return 0, fmt.Errorf("must not be negative, got %s", t)
		}
		n, err := strconv.ParseUint(strings.TrimPrefix(t, "+"), 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return 0, fmt.Errorf("%q is too large", x)
			}
			return 0, fmt.Errorf("%q is not an integer", x)
		}
		return n, nil
	}
	return 0, fmt.Errorf("expected an integer, got %s", describe(in.v))
}

func uintField[T uint16 | uint32 | uint64](key string, ptr func(*Options) *T, lo, hi uint64, omitZero bool) *field {
	return &field{
		key: key,
		set: func(l *loader, in input) error {
			n, err := convertUint(in)
			if err != nil {
				return err
			}
			if n < lo || n > hi {
				return fmt.Errorf("must be between %d and %d, got %d", lo, hi, n)
			}
			*ptr(l.opts) = T(n)
			return nil
		},
		dump: func(o *Options) (string, bool) {
			v := *ptr(o)
			return strconv.FormatUint(uint64(v), 10), !(omitZero && v == 0)
		},
	}
}

// intField is for limits where 0 means unlimited and is left out of dumps.
func intField(key string, ptr func(*Options) *int) *field {
	return &field{
		key: key,
		set: func(l *loader, in input) error {
			n, err := convertUint(in)
			if err != nil {
				return err
			}
			if n > math.MaxInt32 {
				return fmt.Errorf("must be at most %d, got %d", math.MaxInt32, n)
			}
			*ptr(l.opts) = int(n)
			return nil
		},
		dump: func(o *Options) (string, bool) { return strconv.Itoa(*ptr(o)), *ptr(o) != 0 },
	}
}

func floatField(key string, ptr func(*Options) *float64) *field {
	return &field{
		key: key,
		set: func(l *loader, in input) error {
			var f float64
			switch x := in.v.(type) {
			case float64:
				f = x
			case int64:
				f = float64(x)
			case uint64:
				f = float64(x)
			case string:
				t := strings.TrimSpace(x)
				if !isDecimalFloat(t) {
					return fmt.Errorf("%q is not a number", x)
				}
				f, _ = strconv.ParseFloat(t, 64)
			default:
				return fmt.Errorf("expected a number, got %s", describe(in.v))
			}
			if math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
				return fmt.Errorf("must be a positive number, got %v", f)
			}
			*ptr(l.opts) = f
			return nil
		},
		dump: func(o *Options) (string, bool) { return tomlFloat(*ptr(o)), true },
	}
}

// convertDuration accepts ISO-8601 and friendly strings, and integers as
// milliseconds.
func convertDuration(in input) (time.Duration, error) {
	switch x := in.v.(type) {
	case string:
		return duration.Parse(x)
	case int64:
		if x < 0 {
			return 0, fmt.Errorf("negative durations are not allowed, got %d", x)
		}
		if x > math.MaxInt64/int64(time.Millisecond) {
			return 0, fmt.Errorf("%d milliseconds is too large", x)
		}
		return time.Duration(x) * time.Millisecond, nil
	case uint64:
		return 0, fmt.Errorf("%d milliseconds is too large", x)
	}
	return 0, fmt.Errorf("expected a duration such as \"10s\", \"5 minutes\" or \"PT1H\", got %s", describe(in.v))
}

func durationField(key string, ptr func(*Options) *time.Duration, nonZero bool) *field {
	return &field{
		key: key,
		set: func(l *loader, in input) error {
			d, err := convertDuration(in)
			if err != nil {
				return err
			}
			if nonZero && d == 0 {
				return errors.New("must not be zero")
			}
			*ptr(l.opts) = d
			return nil
		},
		dump: func(o *Options) (string, bool) { return tomlString(duration.Format(*ptr(o))), true },
	}
}

// convertStrings accepts an array of strings, or a single string holding a
// comma-separated list (how lists are usually written in env vars and flags).
func convertStrings(in input) ([]string, error) {
	var out []string
	switch x := in.v.(type) {
	case []any:
		for i, e := range x {
			switch v := e.(type) {
			case string:
				out = append(out, v)
			case int64, uint64, float64, bool:
				// Environment text like [1, 2] parses into numbers; the
				// list was written as text, so take the elements as written.
				if !in.hasText {
					return nil, fmt.Errorf("element %d: expected a string, got %s", i, describe(e))
				}
				out = append(out, fmt.Sprint(v))
			default:
				return nil, fmt.Errorf("element %d: expected a string, got %s", i, describe(e))
			}
		}
	case string:
		for _, part := range strings.Split(x, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	default:
		return nil, fmt.Errorf("expected an array of strings, got %s", describe(in.v))
	}
	return out, nil
}

func listField(key string, ptr func(*Options) *[]string, check func(string) error) *field {
	return &field{
		key: key,
		set: func(l *loader, in input) error {
			list, err := convertStrings(in)
			if err != nil {
				return err
			}
			if len(list) == 0 {
				return errors.New("must not be empty")
			}
			for _, s := range list {
				if err := check(s); err != nil {
					return err
				}
			}
			*ptr(l.opts) = list
			return nil
		},
		dump: func(o *Options) (string, bool) { return tomlStrings(*ptr(o)), true },
	}
}

func setRoles(l *loader, in input) error {
	list, err := convertStrings(in)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return errors.New("must name at least one role")
	}
	roles, err := normalizeRoles(list)
	if err != nil {
		return err
	}
	l.opts.Roles = roles
	return nil
}

// normalizeRoles validates role names, maps the old name metadata-store to
// metadata-server, drops duplicates and sorts into canonical order.
func normalizeRoles(list []string) ([]string, error) {
	seen := map[string]bool{}
	for _, r := range list {
		name := strings.ToLower(strings.TrimSpace(r))
		if name == "metadata-store" {
			name = RoleMetadataServer
		}
		valid := false
		for _, known := range AllRoles {
			valid = valid || known == name
		}
		if !valid {
			return nil, fmt.Errorf("unknown role %q (valid roles: %s)", r, strings.Join(AllRoles, ", "))
		}
		seen[name] = true
	}
	var out []string
	for _, known := range AllRoles {
		if seen[known] {
			out = append(out, known)
		}
	}
	return out, nil
}

func setForceNodeID(l *loader, in input) error {
	n, err := convertUint(in)
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("0 is reserved; choose a non-zero node id or leave it unset")
	}
	if n > math.MaxUint32 {
		return fmt.Errorf("must be at most %d, got %d", uint32(math.MaxUint32), n)
	}
	l.opts.ForceNodeID = uint32(n)
	return nil
}

// setReplication accepts a node count (2, "2") or Restate's replication
// property notation "{node: 2}" (also as a TOML table {node = 2}). Only the
// node scope exists in this server; zone or region scopes are ignored with a
// warning.
func setReplication(l *loader, in input) error {
	var scopes map[string]any
	switch x := in.v.(type) {
	case map[string]any:
		scopes = x
	case string:
		t := strings.TrimSpace(x)
		if !strings.HasPrefix(t, "{") {
			break
		}
		if !strings.HasSuffix(t, "}") {
			return fmt.Errorf("%q is not a replication property like \"{node: 2}\"", x)
		}
		scopes = map[string]any{}
		for _, part := range strings.Split(t[1:len(t)-1], ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			k, v, ok := strings.Cut(part, ":")
			if !ok {
				k, v, ok = strings.Cut(part, "=")
			}
			if !ok {
				return fmt.Errorf("%q is not a replication property like \"{node: 2}\"", x)
			}
			scopes[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if scopes == nil {
		n, err := convertUint(in)
		if err != nil {
			return fmt.Errorf("expected a node count or a replication property like \"{node: 2}\": %w", err)
		}
		return storeReplication(l, n)
	}
	node, ok := scopes["node"]
	if !ok {
		return errors.New(`a replication property needs a "node" scope, e.g. "{node: 2}"`)
	}
	for scope := range scopes {
		switch scope {
		case "node":
		case "zone", "region":
			l.warn(fmt.Sprintf("default-replication: scope %q is not supported by this server and is ignored; only the node count applies", scope))
		default:
			return fmt.Errorf("unknown replication scope %q (valid scopes: node, zone, region)", scope)
		}
	}
	n, err := convertUint(input{v: node})
	if err != nil {
		return fmt.Errorf("node scope: %w", err)
	}
	return storeReplication(l, n)
}

func storeReplication(l *loader, n uint64) error {
	if n < 1 || n > math.MaxUint8 {
		return fmt.Errorf("must be between 1 and %d, got %d", math.MaxUint8, n)
	}
	l.opts.DefaultReplication = int(n)
	return nil
}

// setMaxAttempts accepts a positive count or "unlimited" (alias "infinite").
func setMaxAttempts(l *loader, in input) error {
	if s, ok := in.v.(string); ok {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "unlimited", "infinite":
			l.opts.DefaultRetryPolicy.MaxAttempts = 0
			return nil
		}
	}
	n, err := convertUint(in)
	if err != nil {
		return fmt.Errorf("expected a positive count or \"unlimited\": %w", err)
	}
	if n < 1 || n > math.MaxInt32 {
		return fmt.Errorf("must be between 1 and %d, or \"unlimited\", got %d", math.MaxInt32, n)
	}
	l.opts.DefaultRetryPolicy.MaxAttempts = int(n)
	return nil
}

func nonEmpty(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("must not be empty")
	}
	return nil
}

func oneOf(values ...string) func(string) error {
	return func(s string) error {
		for _, v := range values {
			if s == v {
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", s, strings.Join(values, ", "))
	}
}

// bindAddress accepts host:port (the host may be empty for all interfaces)
// or a unix socket "unix:<path>".
func bindAddress(s string) error {
	if strings.HasPrefix(s, "unix:") && len(s) > len("unix:") {
		return nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not a host:port address", s)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p > math.MaxUint16 {
		return fmt.Errorf("%q has an invalid port %q", s, port)
	}
	return nil
}

// advertisedAddress accepts an http(s) URL with a host, or "unix:<path>".
func advertisedAddress(s string) error {
	if strings.HasPrefix(s, "unix:") && len(s) > len("unix:") {
		return nil
	}
	return httpURL(s)
}

func httpURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL", s)
	}
	return nil
}

func objectStoreURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" && u.Path == "" {
		return fmt.Errorf("%q is not an object store URL like s3://bucket/prefix", s)
	}
	return nil
}
