package config

import (
	"fmt"
	"strings"
)

type flagKind int

const (
	flagValue        flagKind = iota // --x v or --x=v
	flagOptionalBool                 // --x, --x=false, or --x true|false
	flagSwitch                       // --x
	flagList                         // --x a,b  --x a b  --x=a,b; repeatable
)

type flagSpec struct {
	names   []string // long names without dashes; the first is canonical
	short   byte     // single-letter form, 0 if none
	kind    flagKind
	key     string // configuration key the flag sets; "" for command flags
	value   string // value placeholder in the usage text
	usage   string
	ignored bool // a Restate flag this server accepts and ignores
}

// flagSpecs mirrors restate-server's command line.
var flagSpecs = []flagSpec{
	{names: []string{"config-file"}, short: 'c', kind: flagValue, value: "FILE", usage: "TOML configuration file (env RESTATE_CONFIG)"},
	{names: []string{"dump-config"}, kind: flagSwitch, usage: "print the effective configuration as TOML and exit"},
	{names: []string{"production"}, kind: flagSwitch, usage: "use production defaults (auto-provision off)"},
	{names: []string{"node-name"}, kind: flagValue, key: "node-name", value: "NAME", usage: "unique node name in the cluster (default: host name)"},
	{names: []string{"cluster-name"}, kind: flagValue, key: "cluster-name", value: "NAME", usage: "cluster name, the same on every node"},
	{names: []string{"base-dir"}, kind: flagValue, key: "base-dir", value: "DIR", usage: "data directory; node data lives in DIR/<node-name>"},
	{names: []string{"bind-address"}, kind: flagValue, key: "bind-address", value: "HOST:PORT", usage: "node-to-node address to listen on"},
	{names: []string{"advertised-address"}, kind: flagValue, key: "advertised-address", value: "URL", usage: "address other nodes use to reach this node"},
	{names: []string{"roles", "role"}, kind: flagList, key: "roles", value: "ROLE,..", usage: "roles to run: " + strings.Join(AllRoles, ", ")},
	{names: []string{"force-node-id"}, kind: flagValue, key: "force-node-id", value: "ID", usage: "insist on this node id (non-zero)"},
	{names: []string{"auto-provision", "allow-bootstrap"}, kind: flagOptionalBool, key: "auto-provision", value: "BOOL", usage: "provision a new cluster automatically"},
	{names: []string{"default-num-partitions", "bootstrap-num-partitions"}, kind: flagValue, key: "default-num-partitions", value: "N", usage: "partitions created when provisioning (1..65535)"},
	{names: []string{"default-replication"}, kind: flagValue, key: "default-replication", value: "N", usage: "replication factor used when provisioning"},
	{names: []string{"shutdown-timeout"}, kind: flagValue, key: "shutdown-timeout", value: "DURATION", usage: "grace period for shutting down"},
	{names: []string{"log-filter"}, kind: flagValue, key: "log-filter", value: "FILTER", usage: "log filter, RUST_LOG syntax"},
	{names: []string{"log-format"}, kind: flagValue, key: "log-format", value: "FORMAT", usage: "pretty, compact or json"},
	{names: []string{"tracing-endpoint"}, kind: flagValue, key: "tracing-endpoint", value: "URL", usage: "where to send OpenTelemetry spans: http(s):// OTLP/gRPC, otlp+http(s):// OTLP/HTTP"},
	{names: []string{"tracing-runtime-endpoint"}, kind: flagValue, key: "tracing-runtime-endpoint", value: "URL", usage: "accepted for Restate; this server has no runtime spans"},
	{names: []string{"tracing-services-endpoint"}, kind: flagValue, key: "tracing-services-endpoint", value: "URL", usage: "where to send invocation spans (default: tracing-endpoint)"},
	{names: []string{"tracing-json-path"}, kind: flagValue, key: "tracing-json-path", value: "PATH", usage: "directory to write spans to as Jaeger JSON files"},
	{names: []string{"tracing-filter"}, kind: flagValue, key: "tracing-filter", value: "FILTER", usage: "filter of runtime spans, RUST_LOG syntax"},
	{names: []string{"help"}, short: 'h', kind: flagSwitch, usage: "print this help and exit"},
	{names: []string{"version"}, short: 'V', kind: flagSwitch, usage: "print the version and exit"},

	// restate-server flags without an effect here.
	{names: []string{"no-logo"}, kind: flagSwitch, ignored: true},
	{names: []string{"metadata-migration-mode"}, kind: flagSwitch, ignored: true},
	{names: []string{"listen-mode"}, kind: flagValue, ignored: true},
	{names: []string{"use-random-ports"}, kind: flagOptionalBool, ignored: true},
	{names: []string{"advertised-host"}, kind: flagValue, ignored: true},
	{names: []string{"bind-ip"}, kind: flagValue, ignored: true},
	{names: []string{"bind-port"}, kind: flagValue, ignored: true},
	{names: []string{"location", "node-location"}, kind: flagValue, ignored: true},
	{names: []string{"metadata-store-address"}, kind: flagValue, ignored: true},
	{names: []string{"log-disable-ansi-codes"}, kind: flagOptionalBool, ignored: true},
}

// flagSetting is one configuration value given on the command line.
type flagSetting struct {
	flag string // as written, e.g. "--roles"
	key  string
	in   input
}

type parsedArgs struct {
	cmd      Command
	settings []flagSetting
	warnings []string
}

func lookupFlag(arg string) (*flagSpec, bool) {
	if strings.HasPrefix(arg, "--") {
		name := arg[2:]
		for i := range flagSpecs {
			for _, n := range flagSpecs[i].names {
				if n == name {
					return &flagSpecs[i], true
				}
			}
		}
		return nil, false
	}
	if len(arg) == 2 && arg[0] == '-' {
		for i := range flagSpecs {
			if flagSpecs[i].short == arg[1] {
				return &flagSpecs[i], true
			}
		}
	}
	return nil, false
}

// parseArgs reads the command line (without the program name). It supports
// --x=v and --x v, and -c FILE, -h, -V.
func parseArgs(args []string) (parsedArgs, error) {
	var out parsedArgs
	var roles []any
	rolesFlag := ""
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "-" || !strings.HasPrefix(arg, "-") {
			return out, fmt.Errorf("unexpected argument %q (see --help)", arg)
		}
		name, value, hasValue := strings.Cut(arg, "=")
		spec, ok := lookupFlag(name)
		if !ok {
			return out, fmt.Errorf("unknown flag %q%s (see --help)", name, suggestFlag(name))
		}
		// nextValue takes the following argument as this flag's value.
		nextValue := func() (string, error) {
			if hasValue {
				return value, nil
			}
			if i+1 >= len(args) || strings.HasPrefix(args[i+1], "-") && args[i+1] != "-" {
				return "", fmt.Errorf("flag %s needs a value", name)
			}
			i++
			return args[i], nil
		}
		switch spec.kind {
		case flagSwitch:
			if hasValue {
				return out, fmt.Errorf("flag %s does not take a value", name)
			}
		case flagOptionalBool:
			if !hasValue {
				value = "true"
				if i+1 < len(args) {
					if next := strings.ToLower(args[i+1]); next == "true" || next == "false" {
						value = args[i+1]
						i++
					}
				}
			}
		case flagValue:
			v, err := nextValue()
			if err != nil {
				return out, err
			}
			value = v
		case flagList:
			var values []string
			if hasValue {
				values = append(values, value)
			}
			// Like restate-server, the values may also follow as separate
			// arguments: --roles worker admin.
			for !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				values = append(values, args[i])
			}
			if len(values) == 0 {
				return out, fmt.Errorf("flag %s needs a value", name)
			}
			for _, v := range values {
				for _, part := range strings.Split(v, ",") {
					if part = strings.TrimSpace(part); part != "" {
						roles = append(roles, part)
					}
				}
			}
			rolesFlag = name
			continue
		}
		if spec.ignored {
			out.warnings = append(out.warnings, fmt.Sprintf("flag %s is accepted for compatibility with restate-server but has no effect here", name))
			continue
		}
		switch spec.names[0] {
		case "config-file":
			out.cmd.ConfigFile = value
		case "dump-config":
			out.cmd.DumpConfig = true
		case "production":
			out.cmd.Production = true
		case "help":
			out.cmd.Help = true
		case "version":
			out.cmd.Version = true
		default:
			out.settings = append(out.settings, flagSetting{
				flag: name, key: spec.key, in: input{v: value, text: value, hasText: true},
			})
		}
	}
	if rolesFlag != "" {
		out.settings = append(out.settings, flagSetting{flag: rolesFlag, key: "roles", in: input{v: roles}})
	}
	return out, nil
}

func suggestFlag(name string) string {
	bare := strings.TrimLeft(name, "-")
	best, bestDist := "", 3
	for _, spec := range flagSpecs {
		for _, n := range spec.names {
			if d := editDistance(bare, n); d < bestDist {
				best, bestDist = n, d
			}
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(", did you mean --%s?", best)
}

// Usage is the --help text.
func Usage() string {
	var b strings.Builder
	b.WriteString("Usage: restate-server [OPTIONS]\n\nOptions:\n")
	for _, spec := range flagSpecs {
		if spec.ignored {
			continue
		}
		var names []string
		if spec.short != 0 {
			names = append(names, "-"+string(spec.short))
		}
		for _, n := range spec.names {
			names = append(names, "--"+n)
		}
		left := strings.Join(names, ", ")
		if spec.value != "" {
			left += " <" + spec.value + ">"
		}
		fmt.Fprintf(&b, "  %-58s %s\n", left, spec.usage)
	}
	b.WriteString("\nEvery configuration key can also be set in the TOML file or as a RESTATE_*\n" +
		"environment variable (RESTATE_ADMIN__BIND_ADDRESS sets admin.bind-address).\n" +
		"Precedence: defaults < file < environment < flags.\n")
	return b.String()
}
