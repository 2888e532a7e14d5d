package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeConfig writes a TOML file into a temporary directory.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "restate.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, args, env []string) (*Options, []string) {
	t.Helper()
	o, warnings, err := Load(args, env)
	if err != nil {
		t.Fatalf("Load(%q, %q): %v", args, env, err)
	}
	return o, warnings
}

func TestDefaults(t *testing.T) {
	o, warnings := mustLoad(t, nil, nil)
	if len(warnings) != 0 {
		t.Errorf("warnings with no configuration: %q", warnings)
	}
	host, _ := os.Hostname()
	checks := []struct {
		name      string
		got, want any
	}{
		{"cluster-name", o.ClusterName, "localcluster"},
		{"node-name", o.NodeName, host},
		{"base-dir", o.BaseDir, "./restate-data"},
		{"bind-address", o.BindAddress, "0.0.0.0:5122"},
		{"advertised-address", o.AdvertisedAddress, "http://127.0.0.1:5122/"},
		{"roles", o.Roles, []string{"worker", "admin", "metadata-server", "log-server", "http-ingress"}},
		{"auto-provision", o.AutoProvision, true},
		{"default-num-partitions", o.DefaultNumPartitions, uint16(24)},
		{"default-replication", o.DefaultReplication, 1},
		{"log-filter", o.LogFilter, "warn,restate=info"},
		{"log-format", o.LogFormat, "pretty"},
		{"shutdown-timeout", o.ShutdownTimeout, time.Minute},
		{"retry initial", o.DefaultRetryPolicy.InitialInterval, 500 * time.Millisecond},
		{"retry factor", o.DefaultRetryPolicy.ExponentiationFactor, 2.0},
		{"retry attempts", o.DefaultRetryPolicy.MaxAttempts, 200},
		{"retry on max", o.DefaultRetryPolicy.OnMaxAttempts, "pause"},
		{"retry max interval", o.DefaultRetryPolicy.MaxInterval, 20 * time.Second},
		{"metadata-client.addresses", o.MetadataClient.Addresses, []string{"http://127.0.0.1:5122/"}},
		{"admin.bind-address", o.Admin.BindAddress, "0.0.0.0:9070"},
		{"admin.log-trim-check-interval", o.Admin.LogTrimCheckInterval, time.Hour},
		{"ingress.bind-address", o.Ingress.BindAddress, "0.0.0.0:8080"},
		{"inactivity-timeout", o.Worker.Invoker.InactivityTimeout, time.Minute},
		{"abort-timeout", o.Worker.Invoker.AbortTimeout, time.Minute},
		{"concurrent-invocations-limit", o.Worker.Invoker.ConcurrentInvocationsLimit, 0},
		{"bifrost.default-provider", o.Bifrost.DefaultProvider, "replicated"},
		{"metadata-server.type", o.MetadataServer.Type, "replicated"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	// Defaults must hand out fresh slices: one caller's edits must not leak.
	o.Roles[0] = "changed"
	if Defaults().Roles[0] != RoleWorker {
		t.Error("Defaults shares the roles slice between calls")
	}
}

func TestPrecedence(t *testing.T) {
	file := writeConfig(t, `
cluster-name = "from-file"
default-num-partitions = 8
roles = ["worker"]
[admin]
bind-address = "0.0.0.0:19070"
[worker.invoker]
inactivity-timeout = "2m"
`)
	cases := []struct {
		name string
		args []string
		env  []string
		want func(o *Options) []any // cluster, partitions, admin bind, inactivity, roles
		exp  []any
	}{
		{
			name: "defaults",
			exp:  []any{"localcluster", uint16(24), "0.0.0.0:9070", time.Minute, AllRoles},
		},
		{
			name: "file over defaults",
			args: []string{"--config-file", file},
			exp:  []any{"from-file", uint16(8), "0.0.0.0:19070", 2 * time.Minute, []string{"worker"}},
		},
		{
			name: "RESTATE_CONFIG names the file",
			env:  []string{"RESTATE_CONFIG=" + file},
			exp:  []any{"from-file", uint16(8), "0.0.0.0:19070", 2 * time.Minute, []string{"worker"}},
		},
		{
			name: "env over file",
			args: []string{"--config-file=" + file},
			env: []string{
				"RESTATE_CLUSTER_NAME=from-env", "RESTATE_DEFAULT_NUM_PARTITIONS=12",
				"RESTATE_ADMIN__BIND_ADDRESS=0.0.0.0:29070",
				"RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT=3 minutes", "RESTATE_ROLES=[worker,admin]",
			},
			exp: []any{"from-env", uint16(12), "0.0.0.0:29070", 3 * time.Minute, []string{"worker", "admin"}},
		},
		{
			name: "flags over env",
			args: []string{"-c", file, "--cluster-name", "from-flag", "--default-num-partitions=16", "--roles", "admin,http-ingress"},
			env:  []string{"RESTATE_CLUSTER_NAME=from-env", "RESTATE_DEFAULT_NUM_PARTITIONS=12", "RESTATE_ROLES=[worker]"},
			exp:  []any{"from-flag", uint16(16), "0.0.0.0:19070", 2 * time.Minute, []string{"admin", "http-ingress"}},
		},
		{
			name: "flag file wins over RESTATE_CONFIG",
			args: []string{"--config-file", file},
			env:  []string{"RESTATE_CONFIG=/does/not/exist.toml"},
			exp:  []any{"from-file", uint16(8), "0.0.0.0:19070", 2 * time.Minute, []string{"worker"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, _ := mustLoad(t, c.args, c.env)
			got := []any{o.ClusterName, o.DefaultNumPartitions, o.Admin.BindAddress, o.Worker.Invoker.InactivityTimeout, o.Roles}
			if !reflect.DeepEqual(got, c.exp) {
				t.Errorf("got %#v\nwant %#v", got, c.exp)
			}
		})
	}
}

func TestEnvMapping(t *testing.T) {
	cases := []struct {
		env  string
		get  func(o *Options) any
		want any
	}{
		{"RESTATE_WORKER__SNAPSHOTS__SNAPSHOT_INTERVAL_NUM_RECORDS=1000",
			func(o *Options) any { return o.Worker.Snapshots.SnapshotIntervalNumRecords }, uint64(1000)},
		{`RESTATE_METADATA_CLIENT__ADDRESSES=["http://a:5122","http://b:5122"]`,
			func(o *Options) any { return o.MetadataClient.Addresses }, []string{"http://a:5122", "http://b:5122"}},
		{`RESTATE_METADATA_CLIENT__ADDRESSES=[http://a:5122, http://b:5122]`,
			func(o *Options) any { return o.MetadataClient.Addresses }, []string{"http://a:5122", "http://b:5122"}},
		{"RESTATE_METADATA_CLIENT__ADDRESSES=http://a:5122",
			func(o *Options) any { return o.MetadataClient.Addresses }, []string{"http://a:5122"}},
		{"RESTATE_ROLES=[worker,admin,metadata-store]",
			func(o *Options) any { return o.Roles }, []string{"worker", "admin", "metadata-server"}},
		{"RESTATE_ROLES=http-ingress,worker",
			func(o *Options) any { return o.Roles }, []string{"worker", "http-ingress"}},
		{"RESTATE_AUTO_PROVISION=false", func(o *Options) any { return o.AutoProvision }, false},
		{"RESTATE_ALLOW_BOOTSTRAP=false", func(o *Options) any { return o.AutoProvision }, false},
		{"RESTATE_DEFAULT_REPLICATION=2", func(o *Options) any { return o.DefaultReplication }, 2},
		{"RESTATE_DEFAULT_REPLICATION={node: 3}", func(o *Options) any { return o.DefaultReplication }, 3},
		{"RESTATE_DEFAULT_REPLICATION={node=2}", func(o *Options) any { return o.DefaultReplication }, 2},
		{"RESTATE_NODE_NAME=007", func(o *Options) any { return o.NodeName }, "007"},
		{"RESTATE_NODE_NAME=true", func(o *Options) any { return o.NodeName }, "true"},
		{`RESTATE_NODE_NAME="n1"`, func(o *Options) any { return o.NodeName }, "n1"},
		{"restate_cluster_name=lower", func(o *Options) any { return o.ClusterName }, "lower"},
		{"RESTATE_FORCE_NODE_ID=7", func(o *Options) any { return o.ForceNodeID }, uint32(7)},
		{"RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT=60000",
			func(o *Options) any { return o.Worker.Invoker.InactivityTimeout }, time.Minute},
		{"RESTATE_WORKER__INVOKER__ABORT_TIMEOUT=PT5M",
			func(o *Options) any { return o.Worker.Invoker.AbortTimeout }, 5 * time.Minute},
		{"RESTATE_WORKER__INVOKER__CONCURRENT_INVOCATIONS_LIMIT=100",
			func(o *Options) any { return o.Worker.Invoker.ConcurrentInvocationsLimit }, 100},
		{"RESTATE_ADMIN__LOG_TRIM_CHECK_INTERVAL=10m",
			func(o *Options) any { return o.Admin.LogTrimCheckInterval }, 10 * time.Minute},
		{"RESTATE_ADMIN__ADVERTISED_ADDRESS=https://admin.example/",
			func(o *Options) any { return o.Admin.AdvertisedAdminEndpoint }, "https://admin.example/"},
		{"RESTATE_INGRESS__ADVERTISED_INGRESS_ENDPOINT=http://in:8080/",
			func(o *Options) any { return o.Ingress.AdvertisedIngressEndpoint }, "http://in:8080/"},
		{"RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS=unlimited",
			func(o *Options) any { return o.DefaultRetryPolicy.MaxAttempts }, 0},
		{"RESTATE_DEFAULT_RETRY_POLICY__EXPONENTIATION_FACTOR=1.5",
			func(o *Options) any { return o.DefaultRetryPolicy.ExponentiationFactor }, 1.5},
		{"RESTATE_DEFAULT_RETRY_POLICY__EXPONENTIATION_FACTOR=3",
			func(o *Options) any { return o.DefaultRetryPolicy.ExponentiationFactor }, 3.0},
		{"RESTATE_DEFAULT_RETRY_POLICY__ON_MAX_ATTEMPTS=kill",
			func(o *Options) any { return o.DefaultRetryPolicy.OnMaxAttempts }, "kill"},
		{"RESTATE_WORKER__SNAPSHOTS__AWS_ALLOW_HTTP=true",
			func(o *Options) any { return o.Worker.Snapshots.AwsAllowHTTP }, true},
		{"RESTATE_WORKER__SNAPSHOTS__DESTINATION=s3://bucket/prefix",
			func(o *Options) any { return o.Worker.Snapshots.Destination }, "s3://bucket/prefix"},
		{"RESTATE_WORKER__SNAPSHOTS__AWS_SECRET_ACCESS_KEY=hunter2",
			func(o *Options) any { return o.Worker.Snapshots.AwsSecretAccessKey.Reveal() }, "hunter2"},
		{"RESTATE_METADATA_SERVER__TYPE=replicated",
			func(o *Options) any { return o.MetadataServer.Type }, "replicated"},
		{"RESTATE_BIFROST__DEFAULT_PROVIDER=local",
			func(o *Options) any { return o.Bifrost.DefaultProvider }, "local"},
		{"RESTATE_LOG_FORMAT=json", func(o *Options) any { return o.LogFormat }, "json"},
		{"RESTATE_NODE_NAME=", func(o *Options) any { return o.NodeName }, Defaults().NodeName},
		{"RESTATE_ADMIN={bind-address=\"0.0.0.0:1\"}", func(o *Options) any { return o.Admin.BindAddress }, "0.0.0.0:1"},
	}
	for _, c := range cases {
		t.Run(c.env, func(t *testing.T) {
			env := []string{c.env}
			if strings.HasPrefix(c.env, "RESTATE_WORKER__SNAPSHOTS__") && !strings.Contains(c.env, "DESTINATION") {
				env = append(env, "RESTATE_WORKER__SNAPSHOTS__DESTINATION=s3://b/p") // or they only warn
			}
			o, warnings := mustLoad(t, nil, env)
			if got := c.get(o); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %#v, want %#v", got, c.want)
			}
			if len(warnings) != 0 {
				t.Errorf("unexpected warnings: %q", warnings)
			}
		})
	}
}

func TestRustLogOverridesLogFilter(t *testing.T) {
	o, _ := mustLoad(t, nil, []string{"RESTATE_LOG_FILTER=debug", "RUST_LOG=trace"})
	if o.LogFilter != "trace" {
		t.Errorf("log-filter = %q; RUST_LOG should win as in Restate", o.LogFilter)
	}
	o, _ = mustLoad(t, []string{"--log-filter", "info"}, []string{"RUST_LOG=trace"})
	if o.LogFilter != "info" {
		t.Errorf("log-filter = %q; the flag should win over RUST_LOG", o.LogFilter)
	}
	o, _ = mustLoad(t, nil, []string{"RESTATE_LOG_FILTER=debug"})
	if o.LogFilter != "debug" {
		t.Errorf("log-filter = %q, want debug", o.LogFilter)
	}
}

func TestEnvKeyPath(t *testing.T) {
	cases := []struct{ name, want string }{
		{"RESTATE_WORKER__SNAPSHOTS__SNAPSHOT_INTERVAL_NUM_RECORDS", "worker.snapshots.snapshot-interval-num-records"},
		{"RESTATE_METADATA_CLIENT__ADDRESSES", "metadata-client.addresses"},
		{"RESTATE_DEFAULT_REPLICATION", "default-replication"},
		{"restate_admin__bind_address", "admin.bind-address"},
		{"Restate_Cluster_Name", "cluster-name"},
		{"RESTATE_A___B", "a.-b"},
	}
	for _, c := range cases {
		got, ok := envKeyPath(c.name)
		if !ok || got != c.want {
			t.Errorf("envKeyPath(%q) = %q, %v; want %q", c.name, got, ok, c.want)
		}
	}
	for _, name := range []string{"RESTATE_", "RESTATE", "OTHER_X", "RESTATEX_Y", ""} {
		if got, ok := envKeyPath(name); ok {
			t.Errorf("envKeyPath(%q) = %q, want no key", name, got)
		}
	}
}

func TestParseEnvValue(t *testing.T) {
	cases := []struct {
		in   string
		want any
	}{
		{"true", true},
		{"false", false},
		{"truex", "truex"},
		{"42", int64(42)},
		{"+42", int64(42)},
		{"-7", int64(-7)},
		{"18446744073709551615", uint64(18446744073709551615)},
		{"99999999999999999999", "99999999999999999999"},
		{"1.5", 1.5},
		{".5", 0.5},
		{"1.5e3", 1500.0},
		{"1e3", "1e3"},
		{"1.2.3", "1.2.3"},
		{"0x1.8p1", "0x1.8p1"},
		{"5s", "5s"},
		{"http://a:5122", "http://a:5122"},
		{"  7  ", int64(7)},
		{"a b", "a b"},
		{"[]", []any{}},
		{"[a,b]", []any{"a", "b"}},
		{"[ a , b ]", []any{"a", "b"}},
		{"[a,]", []any{"a"}},
		{`["http://a:5122","http://b:5122"]`, []any{"http://a:5122", "http://b:5122"}},
		{"[1, true, 2.5]", []any{int64(1), true, 2.5}},
		{"[[1],[2]]", []any{[]any{int64(1)}, []any{int64(2)}}},
		{"[a", "[a"},
		{"[a]x", "[a]x"},
		{`"quoted, with comma"`, "quoted, with comma"},
		{`"unterminated`, `"unterminated`},
		{"'x'", "x"},
		{"'xy'", "'xy'"},
		{"{node=2}", map[string]any{"node": int64(2)}},
		{"{a = 1, b = [x]}", map[string]any{"a": int64(1), "b": []any{"x"}}},
		{"{node: 2}", "{node: 2}"},
		{"{}", map[string]any{}},
		{"warn,restate=info", "warn,restate=info"},
	}
	for _, c := range cases {
		if got := parseEnvValue(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseEnvValue(%q) = %#v, want %#v", c.in, got, c.want)
		}
	}
}

// TestErrors checks that every malformed value fails with a one-line message
// naming the key, the problem and the source.
func TestErrors(t *testing.T) {
	cases := []struct {
		name  string
		file  string
		args  []string
		env   []string
		parts []string
	}{
		{name: "env not an integer", env: []string{"RESTATE_DEFAULT_NUM_PARTITIONS=abc"},
			parts: []string{"default-num-partitions", "RESTATE_DEFAULT_NUM_PARTITIONS", `"abc" is not an integer`}},
		{name: "env partitions out of range", env: []string{"RESTATE_DEFAULT_NUM_PARTITIONS=70000"},
			parts: []string{"default-num-partitions", "between 1 and 65535", "70000"}},
		{name: "zero partitions", file: "default-num-partitions = 0",
			parts: []string{"default-num-partitions", "between 1 and 65535", "config file"}},
		{name: "file integer for string", file: "[admin]\nbind-address = 12",
			parts: []string{"admin.bind-address", "expected a string, got integer 12", "config file"}},
		{name: "bad bind address", file: "[ingress]\nbind-address = \"8080\"",
			parts: []string{"ingress.bind-address", "host:port"}},
		{name: "bad duration", file: "shutdown-timeout = \"soon\"",
			parts: []string{"shutdown-timeout", `invalid duration "soon"`}},
		{name: "zero shutdown timeout", env: []string{"RESTATE_SHUTDOWN_TIMEOUT=0s"},
			parts: []string{"shutdown-timeout", "must not be zero", "RESTATE_SHUTDOWN_TIMEOUT"}},
		{name: "negative duration", env: []string{"RESTATE_WORKER__INVOKER__ABORT_TIMEOUT=-5"},
			parts: []string{"worker.invoker.abort-timeout", "negative"}},
		{name: "months", file: "[worker.invoker]\ninactivity-timeout = \"P1M\"",
			parts: []string{"worker.invoker.inactivity-timeout", "months are not supported"}},
		{name: "unknown role", env: []string{"RESTATE_ROLES=[worker,chef]"},
			parts: []string{"roles", `unknown role "chef"`, "RESTATE_ROLES"}},
		{name: "unknown role flag", args: []string{"--roles", "wroker"},
			parts: []string{"roles", `unknown role "wroker"`, "flag --roles"}},
		{name: "force node id zero", env: []string{"RESTATE_FORCE_NODE_ID=0"},
			parts: []string{"force-node-id", "0 is reserved"}},
		{name: "force node id zero flag", args: []string{"--force-node-id=0"},
			parts: []string{"force-node-id", "0 is reserved", "flag --force-node-id"}},
		{name: "bad log format", args: []string{"--log-format", "xml"},
			parts: []string{"log-format", `"xml" is not one of pretty, compact, json`}},
		{name: "bad bool", env: []string{"RESTATE_AUTO_PROVISION=yes"},
			parts: []string{"auto-provision", "expected true or false", "yes"}},
		{name: "bad replication", env: []string{"RESTATE_DEFAULT_REPLICATION={zone: 2}"},
			parts: []string{"default-replication", `"node" scope`}},
		{name: "replication zero", args: []string{"--default-replication", "0"},
			parts: []string{"default-replication", "between 1 and 255"}},
		{name: "bad advertised address", env: []string{"RESTATE_ADVERTISED_ADDRESS=127.0.0.1:5122"},
			parts: []string{"advertised-address", "is not an http:// or https:// URL"}},
		{name: "bad metadata address element", env: []string{`RESTATE_METADATA_CLIENT__ADDRESSES=["http://a:1", "nope"]`},
			parts: []string{"metadata-client.addresses", `"nope"`}},
		{name: "metadata client etcd", file: "[metadata-client]\ntype = \"etcd\"",
			parts: []string{"metadata-client.type", `"etcd" is not one of replicated`}},
		{name: "section given a scalar", file: "admin = 5",
			parts: []string{"admin", "expected a table, got integer 5"}},
		{name: "max attempts zero", file: "[default-retry-policy]\nmax-attempts = 0",
			parts: []string{"default-retry-policy.max-attempts", "between 1 and"}},
		{name: "typo top level", file: "defualt-num-partitions = 4",
			parts: []string{"unknown configuration key defualt-num-partitions", "did you mean default-num-partitions?"}},
		{name: "typo in section", file: "[ingress]\nbind-adress = \"0.0.0.0:1\"",
			parts: []string{"unknown configuration key ingress.bind-adress", "did you mean ingress.bind-address?"}},
		{name: "underscore key", file: "cluster_name = \"x\"",
			parts: []string{"unknown configuration key cluster_name", "did you mean cluster-name?"}},
		{name: "unknown section", file: "[wroker]\nx = 1",
			parts: []string{"unknown configuration key wroker", "did you mean worker?"}},
		{name: "toml syntax", file: "cluster-name = ",
			parts: []string{"config file", "line 1"}},
		{name: "missing file", args: []string{"--config-file", "/does/not/exist.toml"},
			parts: []string{"reading config file", "/does/not/exist.toml"}},
		{name: "unknown flag", args: []string{"--node-nam", "x"},
			parts: []string{`unknown flag "--node-nam"`, "did you mean --node-name?"}},
		{name: "missing flag value", args: []string{"--node-name"},
			parts: []string{"flag --node-name needs a value"}},
		{name: "flag value is a flag", args: []string{"--node-name", "--cluster-name", "x"},
			parts: []string{"flag --node-name needs a value"}},
		{name: "positional", args: []string{"serve"},
			parts: []string{`unexpected argument "serve"`}},
		{name: "switch with value", args: []string{"--dump-config=yes"},
			parts: []string{"flag --dump-config does not take a value"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if c.file != "" {
				args = append([]string{"--config-file", writeConfig(t, c.file)}, args...)
			}
			_, _, err := Load(args, c.env)
			if err == nil {
				t.Fatalf("Load succeeded, want an error mentioning %q", c.parts)
			}
			msg := err.Error()
			for _, p := range c.parts {
				if !strings.Contains(msg, p) {
					t.Errorf("error %q does not mention %q", msg, p)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans several lines: %q", msg)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	file := writeConfig(t, `
rocksdb-total-memory-size = "2 GiB"
tracing-endpoint = "http://otel:4317"
default-journal-retention = "7d"
location = "us-east.a"
disable-telemetry = true
[common]
anything = 1
[worker]
internal-queue-length = 100
num-timers-in-memory-limit = 10
[worker.storage]
rocksdb-memory-budget = "1 GiB"
[metadata-server]
raft-election-tick = 10
[admin]
disable-web-ui = true
[admin.query-engine]
pgsql-bind-address = "0.0.0.0:9071"
[ingress]
kafka-clusters = [{name = "k", brokers = ["b:9092"]}]
[networking]
handshake-timeout = "3s"
[log-server]
rocksdb-disable-wal-fsync = true
[bifrost.replicated-loglet]
default-log-replication = 2
`)
	env := []string{
		"RESTATE_TRACING_ENDPOINT=http://otel:4317",
		"RESTATE_WORKER__INTERNAL_QUEUE_LENGTH=100",
		"RESTATE_TOTALLY_MADE_UP=1",
		"RESTATE_ADMIN__BIND_ADRESS=0.0.0.0:1",
		"RESTATE_ADMIN_URL=http://localhost:9070",
		"RESTATE_CONFIG=" + file,
		"HTTP_PROXY=http://proxy",
		"PATH=/bin",
	}
	o, warnings := mustLoad(t, []string{"--no-logo"}, env)
	wantWarn := []string{
		"rocksdb-total-memory-size from config file",
		"default-journal-retention from config file",
		"location from config file",
		"disable-telemetry from config file",
		"common.anything",
		"worker.internal-queue-length from config file",
		"worker.num-timers-in-memory-limit",
		"worker.storage.rocksdb-memory-budget",
		"metadata-server.raft-election-tick",
		"admin.disable-web-ui",
		"admin.query-engine.pgsql-bind-address",
		"ingress.kafka-clusters",
		"networking.handshake-timeout",
		"log-server.rocksdb-disable-wal-fsync",
		"bifrost.replicated-loglet.default-log-replication",
		"worker.internal-queue-length from environment variable RESTATE_WORKER__INTERNAL_QUEUE_LENGTH",
		"environment variable RESTATE_TOTALLY_MADE_UP: totally-made-up is not a Restate configuration key",
		"environment variable RESTATE_ADMIN__BIND_ADRESS: admin.bind-adress is not",
		"flag --no-logo",
	}
	all := strings.Join(warnings, "\n")
	for _, w := range wantWarn {
		if !strings.Contains(all, w) {
			t.Errorf("no warning mentions %q; warnings:\n%s", w, all)
		}
	}
	for _, quiet := range []string{"RESTATE_ADMIN_URL", "RESTATE_CONFIG", "HTTP_PROXY", "PATH"} {
		if strings.Contains(all, quiet) {
			t.Errorf("warning about %s, which is not a server setting:\n%s", quiet, all)
		}
	}
	if len(warnings) != len(wantWarn) {
		t.Errorf("got %d warnings, want %d:\n%s", len(warnings), len(wantWarn), all)
	}
	// Ignored options must not disturb the implemented ones.
	if o.Admin.BindAddress != "0.0.0.0:9070" {
		t.Errorf("admin.bind-address = %q", o.Admin.BindAddress)
	}
}

func TestReplicationScopesWarn(t *testing.T) {
	o, warnings := mustLoad(t, nil, []string{"RESTATE_DEFAULT_REPLICATION={region: 2, node: 3}"})
	if o.DefaultReplication != 3 {
		t.Errorf("default-replication = %d, want 3", o.DefaultReplication)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], `scope "region"`) {
		t.Errorf("warnings = %q, want one about the region scope", warnings)
	}
}

func TestFileValues(t *testing.T) {
	file := writeConfig(t, `
roles = ["worker", "admin", "http-ingress"]
node-name = "n1"
base-dir = "/data"
force-node-id = 3
allow-bootstrap = false
bootstrap-num-partitions = 4
default-replication = {node = 2}
shutdown-timeout = 30000
worker.invoker.abort-timeout = "PT90S"

[default-retry-policy]
initial-interval = "100ms"
exponentiation-factor = 1.5
max-attempts = "infinite"
on-max-attempts = "kill"
max-interval = "1 minute"

[metadata-client]
address = "http://m1:5122/"

[admin]
advertised-admin-endpoint = "http://a:9070/"
concurrent-api-requests-limit = 10

[ingress]
advertised-address = "http://i:8080/"
concurrent-api-requests-limit = 20

[worker.snapshots]
destination = "s3://b/p"
snapshot-interval-num-records = 5000
aws-region = "eu-1"
aws-endpoint-url = "http://minio:9000"
aws-access-key-id = "id"
aws-secret-access-key = "sekrit"
aws-session-token = "tok"
aws-profile = "prof"
aws-allow-http = true
`)
	o, warnings := mustLoad(t, []string{"--config-file", file}, nil)
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
	want := Defaults()
	want.Command.ConfigFile = file
	want.Roles = []string{"worker", "admin", "http-ingress"}
	want.NodeName = "n1"
	want.BaseDir = "/data"
	want.ForceNodeID = 3
	want.AutoProvision = false
	want.DefaultNumPartitions = 4
	want.DefaultReplication = 2
	want.ShutdownTimeout = 30 * time.Second
	want.Worker.Invoker.AbortTimeout = 90 * time.Second
	want.DefaultRetryPolicy = InvocationRetryPolicy{
		InitialInterval: 100 * time.Millisecond, ExponentiationFactor: 1.5,
		MaxAttempts: 0, OnMaxAttempts: "kill", MaxInterval: time.Minute,
	}
	want.MetadataClient.Addresses = []string{"http://m1:5122/"}
	want.Admin.AdvertisedAdminEndpoint = "http://a:9070/"
	want.Admin.ConcurrentAPIRequestsLimit = 10
	want.Ingress.AdvertisedIngressEndpoint = "http://i:8080/"
	want.Ingress.ConcurrentAPIRequestsLimit = 20
	want.Worker.Snapshots = SnapshotsOptions{
		Destination: "s3://b/p", SnapshotIntervalNumRecords: 5000, AwsRegion: "eu-1",
		AwsEndpointURL: "http://minio:9000", AwsAccessKeyID: "id", AwsSecretAccessKey: "sekrit",
		AwsSessionToken: "tok", AwsProfile: "prof", AwsAllowHTTP: true,
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("options differ\n got %+v\nwant %+v", *o, *want)
	}
}

func TestFlags(t *testing.T) {
	cases := []struct {
		args []string
		get  func(o *Options) any
		want any
	}{
		{[]string{"--node-name=n2"}, func(o *Options) any { return o.NodeName }, "n2"},
		{[]string{"--node-name", "n2"}, func(o *Options) any { return o.NodeName }, "n2"},
		{[]string{"--base-dir", "/tmp/x"}, func(o *Options) any { return o.BaseDir }, "/tmp/x"},
		{[]string{"--bind-address", "127.0.0.1:6000"}, func(o *Options) any { return o.BindAddress }, "127.0.0.1:6000"},
		{[]string{"--advertised-address", "http://n2:5122/"}, func(o *Options) any { return o.AdvertisedAddress }, "http://n2:5122/"},
		{[]string{"--roles", "worker", "admin"}, func(o *Options) any { return o.Roles }, []string{"worker", "admin"}},
		{[]string{"--roles=worker", "--role", "log-server"}, func(o *Options) any { return o.Roles }, []string{"worker", "log-server"}},
		{[]string{"--force-node-id", "9"}, func(o *Options) any { return o.ForceNodeID }, uint32(9)},
		{[]string{"--auto-provision"}, func(o *Options) any { return o.AutoProvision }, true},
		{[]string{"--auto-provision=false"}, func(o *Options) any { return o.AutoProvision }, false},
		{[]string{"--auto-provision", "false"}, func(o *Options) any { return o.AutoProvision }, false},
		{[]string{"--allow-bootstrap", "false", "--node-name", "x"}, func(o *Options) any { return o.AutoProvision }, false},
		{[]string{"--production"}, func(o *Options) any { return o.AutoProvision }, false},
		{[]string{"--production", "--auto-provision"}, func(o *Options) any { return o.AutoProvision }, true},
		{[]string{"--bootstrap-num-partitions", "2"}, func(o *Options) any { return o.DefaultNumPartitions }, uint16(2)},
		{[]string{"--default-replication", "3"}, func(o *Options) any { return o.DefaultReplication }, 3},
		{[]string{"--shutdown-timeout", "5s"}, func(o *Options) any { return o.ShutdownTimeout }, 5 * time.Second},
		{[]string{"--log-filter", "debug"}, func(o *Options) any { return o.LogFilter }, "debug"},
		{[]string{"--dump-config"}, func(o *Options) any { return o.Command.DumpConfig }, true},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			o, _ := mustLoad(t, c.args, nil)
			if got := c.get(o); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %#v, want %#v", got, c.want)
			}
		})
	}
}

func TestHelpAndVersionSkipLoading(t *testing.T) {
	for _, flag := range []string{"--help", "-h", "--version", "-V"} {
		o, _, err := Load([]string{flag}, []string{"RESTATE_DEFAULT_NUM_PARTITIONS=abc", "RESTATE_CONFIG=/nope"})
		if err != nil {
			t.Fatalf("%s: %v", flag, err)
		}
		if !o.Command.Help && !o.Command.Version {
			t.Errorf("%s: neither Help nor Version set", flag)
		}
	}
	usage := Usage()
	for _, want := range []string{"--config-file", "--roles", "--auto-provision, --allow-bootstrap", "--dump-config"} {
		if !strings.Contains(usage, want) {
			t.Errorf("usage lacks %q", want)
		}
	}
	if strings.Contains(usage, "--no-logo") {
		t.Error("usage lists a flag that has no effect")
	}
}

func TestNodeDir(t *testing.T) {
	o, _ := mustLoad(t, []string{"--base-dir", "/var/lib/restate", "--node-name", "n1"}, nil)
	if got := o.NodeDir(); got != filepath.Join("/var/lib/restate", "n1") {
		t.Errorf("NodeDir = %q", got)
	}
	if got := Defaults().NodeDir(); got != filepath.Join("restate-data", Defaults().NodeName) {
		t.Errorf("default NodeDir = %q", got)
	}
	if !o.HasRole(RoleAdmin) {
		t.Error("HasRole(admin) = false with all roles")
	}
	o, _ = mustLoad(t, []string{"--roles", "worker"}, nil)
	if o.HasRole(RoleAdmin) || !o.HasRole(RoleWorker) {
		t.Errorf("HasRole wrong for roles %q", o.Roles)
	}
}

func TestDumpTOML(t *testing.T) {
	env := []string{
		"RESTATE_WORKER__SNAPSHOTS__DESTINATION=s3://bucket/p",
		"RESTATE_WORKER__SNAPSHOTS__AWS_ACCESS_KEY_ID=AKIDPLAIN",
		"RESTATE_WORKER__SNAPSHOTS__AWS_SECRET_ACCESS_KEY=topsecretvalue",
		"RESTATE_WORKER__SNAPSHOTS__AWS_SESSION_TOKEN=sessiontokenvalue",
		"RESTATE_CLUSTER_NAME=quote\"and\\slash",
		"RESTATE_ADMIN__CONCURRENT_API_REQUESTS_LIMIT=5",
		"RESTATE_FORCE_NODE_ID=4",
	}
	o, _ := mustLoad(t, []string{"--shutdown-timeout", "90s", "--dump-config"}, env)
	out, err := o.DumpTOML()
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, secret := range []string{"topsecretvalue", "sessiontokenvalue"} {
		if strings.Contains(text, secret) {
			t.Errorf("dump leaks %q:\n%s", secret, text)
		}
	}
	for _, want := range []string{
		`aws-secret-access-key = "[redacted]"`,
		`aws-access-key-id = "AKIDPLAIN"`,
		`shutdown-timeout = "1m 30s"`,
		`roles = ["worker", "admin", "metadata-server", "log-server", "http-ingress"]`,
		"[worker.snapshots]",
		"[default-retry-policy]\ninitial-interval = \"500ms\"",
		"force-node-id = 4",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("dump lacks %q:\n%s", want, text)
		}
	}
	for _, absent := range []string{"allow-bootstrap", "advertised-admin-endpoint", "concurrent-invocations-limit", "metadata-client.type", "Command"} {
		if strings.Contains(text, absent) {
			t.Errorf("dump contains %q, which is unset or an alias:\n%s", absent, text)
		}
	}

	// The dump reads back to the same options, secrets aside.
	path := writeConfig(t, text)
	again, warnings := mustLoad(t, []string{"--config-file", path}, nil)
	if len(warnings) != 0 {
		t.Errorf("reloading the dump warns: %q", warnings)
	}
	again.Command, o.Command = Command{}, Command{}
	o.Worker.Snapshots.AwsSecretAccessKey = "[redacted]"
	o.Worker.Snapshots.AwsSessionToken = "[redacted]"
	if !reflect.DeepEqual(again, o) {
		t.Errorf("dump does not round-trip\n got %+v\nwant %+v", *again, *o)
	}
}

// redactTokens turns inline tokens into what a dump shows of them.
func redactTokens(o *Options) {
	for _, list := range []*[]Secret{&o.Admin.AuthTokens, &o.Ingress.AuthTokens} {
		for i, s := range *list {
			(*list)[i] = Secret(s.String())
		}
	}
}

func TestAccessSettings(t *testing.T) {
	o, warnings := mustLoad(t, nil, []string{
		"RESTATE_ADMIN__AUTH_TOKENS_FILE=/run/secrets/admin-tokens",
		"RESTATE_ADMIN__AUTH_TOKENS=[tok-admin-1, tok-admin-2]",
		"RESTATE_INGRESS__AUTH_TOKENS=tok-ingress",
		"RESTATE_ENABLE_PPROF=true",
		"RESTATE_DEPLOYMENT_ALLOWED_ADDRESSES=[10.0.0.0/8, *.svc.cluster.local, 192.168.1.5]",
	})
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
	if o.Admin.AuthTokensFile != "/run/secrets/admin-tokens" || len(o.Admin.AuthTokens) != 2 ||
		o.Admin.AuthTokens[1].Reveal() != "tok-admin-2" || len(o.Ingress.AuthTokens) != 1 || !o.EnablePprof ||
		!reflect.DeepEqual(o.DeploymentAllowedAddresses, []string{"10.0.0.0/8", "*.svc.cluster.local", "192.168.1.5"}) {
		t.Fatalf("loaded %+v %+v %v %q", o.Admin, o.Ingress, o.EnablePprof, o.DeploymentAllowedAddresses)
	}
	out, err := o.DumpTOML()
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	if strings.Contains(text, "tok-") {
		t.Errorf("dump leaks a token:\n%s", text)
	}
	for _, want := range []string{
		`auth-tokens-file = "/run/secrets/admin-tokens"`,
		`auth-tokens = ["[redacted]", "[redacted]"]`,
		`auth-tokens = ["[redacted]"]`,
		"enable-pprof = true",
		`deployment-allowed-addresses = ["10.0.0.0/8", "*.svc.cluster.local", "192.168.1.5"]`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("dump lacks %q:\n%s", want, text)
		}
	}
	again, _ := mustLoad(t, []string{"--config-file", writeConfig(t, text)}, nil)
	again.Command, o.Command = Command{}, Command{}
	redactTokens(o)
	if !reflect.DeepEqual(again, o) {
		t.Errorf("dump does not round-trip\n got %+v\nwant %+v", *again, *o)
	}
	if _, _, err := Load([]string{}, []string{"RESTATE_DEPLOYMENT_ALLOWED_ADDRESSES=10.0.0.0/40"}); err == nil ||
		!strings.Contains(err.Error(), "deployment-allowed-addresses") {
		t.Errorf("bad CIDR: %v", err)
	}
	// Off by default, and left out of the dump.
	def, _ := mustLoad(t, nil, nil)
	dump, _ := def.DumpTOML()
	if def.EnablePprof || def.Admin.AuthTokensFile != "" || def.Ingress.AuthTokens != nil ||
		strings.Contains(string(dump), "auth-tokens") || strings.Contains(string(dump), "deployment-allowed") {
		t.Errorf("defaults:\n%s", dump)
	}
}

func TestSnapshotSettingsWithoutDestinationWarn(t *testing.T) {
	_, warnings := mustLoad(t, nil, []string{"RESTATE_WORKER__SNAPSHOTS__SNAPSHOT_INTERVAL_NUM_RECORDS=1000"})
	if len(warnings) != 1 || !strings.Contains(warnings[0], "worker.snapshots.destination") {
		t.Fatalf("warnings = %q", warnings)
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	o := Defaults()
	o.Worker.Snapshots.AwsSecretAccessKey = "topsecretvalue"
	o.Worker.Snapshots.AwsSessionToken = "sessiontokenvalue"
	js, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{
		fmt.Sprint(o), fmt.Sprintf("%v", *o), fmt.Sprintf("%+v", *o), fmt.Sprintf("%#v", *o),
		fmt.Sprintf("%s", o.Worker.Snapshots.AwsSecretAccessKey), fmt.Sprintf("%q", o.Worker.Snapshots.AwsSessionToken),
		string(js),
	} {
		if strings.Contains(text, "topsecretvalue") || strings.Contains(text, "sessiontokenvalue") {
			t.Errorf("secret printed: %s", text)
		}
	}
	if o.Worker.Snapshots.AwsSecretAccessKey.Reveal() != "topsecretvalue" {
		t.Error("Reveal lost the value")
	}
	if Secret("").String() != "" {
		t.Error("an empty secret should print empty")
	}
}

func TestRestateKnows(t *testing.T) {
	known := []string{
		"rocksdb-total-memory-size", "worker.internal-queue-length", "metadata-server.raft-election-tick",
		"tracing-endpoint", "admin.disable-web-ui", "worker.storage.rocksdb-memory-budget",
		"networking.connect-timeout", "log-server.x", "bifrost.replicated-loglet.anything",
		"admin.query-engine.tmp-dir", "ingress.kafka-clusters", "worker.num-timers-in-memory-limit",
		"default-journal-retention", "location", "disable-telemetry", "common.x", "gossip-num-peers",
		"worker.invoker.http2-keep-alive-interval", "worker.experimental-feature-x",
	}
	for _, k := range known {
		if !restateKnows(k) {
			t.Errorf("restateKnows(%q) = false", k)
		}
	}
	for _, k := range []string{"defualt-num-partitions", "ingress.bind-adress", "wroker", "foo.rocksdb-x", "admin.gossip-x"} {
		if restateKnows(k) {
			t.Errorf("restateKnows(%q) = true", k)
		}
	}
	// Nothing may be both implemented and in the warn-only tables.
	for _, f := range fieldList {
		if restateLeaves[f.key] || restateSections[f.key] {
			t.Errorf("%s is implemented and also listed as ignored", f.key)
		}
	}
	if !slices.Contains(sections, "worker.invoker") {
		t.Error("worker.invoker missing from sections")
	}
}

func FuzzParseEnvValue(f *testing.F) {
	for _, s := range []string{
		"true", "42", "-7", "1.5", "[a,b]", `["http://a:5122","http://b:5122"]`, "{node=2}",
		"{node: 2}", `"q"`, "'x'", "[[1],[2]]", "[a,]", "", " ", "[", "{a=", "99999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := parseEnvValue(s)
		checkEnvValueTypes(t, s, v)
		// Whatever the value, applying it to any key must not panic, and a
		// failure must be a one-line message.
		in := input{v: v, text: s, hasText: true}
		for _, fl := range fieldList {
			l := &loader{opts: Defaults()}
			if err := l.apply(fl.key, in, source{kind: sourceEnv, name: "RESTATE_FUZZ"}); err != nil {
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("multi-line error for %q at %s: %q", s, fl.key, err)
				}
			} else if _, err := l.opts.DumpTOML(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func checkEnvValueTypes(t *testing.T, s string, v any) {
	switch x := v.(type) {
	case bool, int64, uint64, float64, string:
	case []any:
		for _, e := range x {
			checkEnvValueTypes(t, s, e)
		}
	case map[string]any:
		for _, e := range x {
			checkEnvValueTypes(t, s, e)
		}
	default:
		t.Fatalf("parseEnvValue(%q) produced %T", s, v)
	}
}

func FuzzEnvKeyPath(f *testing.F) {
	for _, s := range []string{
		"RESTATE_WORKER__SNAPSHOTS__SNAPSHOT_INTERVAL_NUM_RECORDS", "RESTATE_METADATA_CLIENT__ADDRESSES",
		"restate_x", "RESTATE_", "RESTATE_A___B", "RESTATE____", "OTHER",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		key, ok := envKeyPath(name)
		if !ok {
			return
		}
		if strings.Contains(key, "_") {
			t.Fatalf("envKeyPath(%q) = %q keeps an underscore", name, key)
		}
		if key != strings.ToLower(key) {
			t.Fatalf("envKeyPath(%q) = %q is not lower-case", name, key)
		}
		// Mapping the key back to a variable name and again gives the same key.
		back := envPrefix + strings.ToUpper(strings.ReplaceAll(strings.ReplaceAll(key, "-", "_"), ".", "__"))
		if again, ok := envKeyPath(back); isEnvNameChars(name) && (!ok || again != key) {
			t.Fatalf("envKeyPath(%q) = %q, but %q maps to %q", name, key, back, again)
		}
		// Loading the variable never panics; unknown names only warn.
		if _, _, err := Load(nil, []string{name + "=1"}); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error: %q", err)
		}
	})
}

// isEnvNameChars reports whether s uses only the characters of portable
// environment variable names.
func isEnvNameChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func FuzzLoadTOML(f *testing.F) {
	for _, s := range []string{
		"cluster-name = \"x\"\n[admin]\nbind-address = \"0.0.0.0:1\"\n",
		"roles = [\"worker\"]\ndefault-replication = {node = 2}\n",
		"[worker.invoker]\ninactivity-timeout = 5000\n[log-server]\nx = 1\n",
		"admin = 5", "defualt = 1", "[[ingress.kafka-clusters]]\nname = \"k\"\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		l := &loader{opts: Defaults()}
		if err := l.loadTOML([]byte(doc), "fuzz.toml"); err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
			return
		}
		// Whatever loaded must dump to TOML that loads to the same options.
		out, err := l.opts.DumpTOML()
		if err != nil {
			t.Fatal(err)
		}
		l2 := &loader{opts: Defaults()}
		if err := l2.loadTOML(out, "dump.toml"); err != nil {
			t.Fatalf("dump of %q does not load: %v\n%s", doc, err, out)
		}
		l.opts.Worker.Snapshots.AwsSecretAccessKey = Secret(l.opts.Worker.Snapshots.AwsSecretAccessKey.String())
		l.opts.Worker.Snapshots.AwsSessionToken = Secret(l.opts.Worker.Snapshots.AwsSessionToken.String())
		redactTokens(l.opts)
		if !reflect.DeepEqual(l.opts, l2.opts) {
			t.Fatalf("dump of %q does not round-trip:\n%s", doc, out)
		}
	})
}

func TestRequestIdentitySettings(t *testing.T) {
	o, warnings := mustLoad(t, nil, nil)
	if o.Worker.Invoker.RequestIdentityPrivateKeyPEMFile != "" || o.Worker.Invoker.RequestIdentityExpiration != time.Minute {
		t.Errorf("defaults: %+v", o.Worker.Invoker)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings %q", warnings)
	}

	o, warnings = mustLoad(t, nil, []string{
		"RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE=/keys/a.pem",
		"RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_EXPIRATION=5m",
	})
	if o.Worker.Invoker.RequestIdentityPrivateKeyPEMFile != "/keys/a.pem" || o.Worker.Invoker.RequestIdentityExpiration != 5*time.Minute {
		t.Errorf("from env: %+v", o.Worker.Invoker)
	}
	if len(warnings) != 0 {
		t.Errorf("implemented settings warn: %q", warnings)
	}
	text, err := o.DumpTOML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), `request-identity-private-key-pem-file = "/keys/a.pem"`) ||
		!strings.Contains(string(text), `request-identity-expiration = "5m"`) {
		t.Errorf("dump lacks the identity settings:\n%s", text)
	}

	// The top-level location Restate 1.7 still reads: it wins over worker.invoker's, with a
	// warning naming the new place, as in Restate.
	file := writeConfig(t, "request-identity-private-key-pem-file = \"/keys/old.pem\"\n[worker.invoker]\nrequest-identity-private-key-pem-file = \"/keys/new.pem\"\n")
	o, warnings = mustLoad(t, []string{"--config-file", file}, nil)
	if o.Worker.Invoker.RequestIdentityPrivateKeyPEMFile != "/keys/old.pem" || o.TopLevelRequestIdentityPrivateKeyPEMFile != "" {
		t.Errorf("top level: %q, left %q", o.Worker.Invoker.RequestIdentityPrivateKeyPEMFile, o.TopLevelRequestIdentityPrivateKeyPEMFile)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "worker.invoker.request-identity-private-key-pem-file") {
		t.Errorf("warnings %q", warnings)
	}
	o, _ = mustLoad(t, nil, []string{"RESTATE_REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE=/keys/env.pem"})
	if o.Worker.Invoker.RequestIdentityPrivateKeyPEMFile != "/keys/env.pem" {
		t.Errorf("top level from env: %q", o.Worker.Invoker.RequestIdentityPrivateKeyPEMFile)
	}

	if _, _, err := Load(nil, []string{"RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_EXPIRATION=0s"}); err == nil ||
		!strings.Contains(err.Error(), "worker.invoker.request-identity-expiration") {
		t.Errorf("zero expiration: %v", err)
	}
}

func TestTLSSettings(t *testing.T) {
	o, _ := mustLoad(t, nil, []string{
		"RESTATE_TLS_CERT_FILE=/c/node.pem", "RESTATE_TLS_KEY_FILE=/c/node-key.pem", "RESTATE_TLS_CA_FILE=/c/ca.pem",
		"RESTATE_INGRESS__TLS_CERT_FILE=/c/in.pem", "RESTATE_INGRESS__TLS_KEY_FILE=/c/in-key.pem",
	})
	if got := o.IngressTLS(); got != (TLSPair{"/c/in.pem", "/c/in-key.pem"}) {
		t.Errorf("ingress pair %+v", got)
	}
	if got := o.AdminTLS(); got != (TLSPair{"/c/node.pem", "/c/node-key.pem"}) {
		t.Errorf("admin pair %+v, want the node's", got)
	}
	if o.AdvertisedAddress != "https://127.0.0.1:5122/" || o.MetadataClient.Addresses[0] != "https://127.0.0.1:5122/" {
		t.Errorf("default addresses did not follow TLS: %q %q", o.AdvertisedAddress, o.MetadataClient.Addresses)
	}
	plain, _ := mustLoad(t, nil, nil)
	if plain.IngressTLS().Enabled() || plain.NodeTLS().Enabled() || plain.AdvertisedAddress != "http://127.0.0.1:5122/" {
		t.Errorf("TLS is on by default: %+v", plain)
	}
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"RESTATE_TLS_CERT_FILE=/c.pem"}, "tls-cert-file and tls-key-file must be set together"},
		{[]string{"RESTATE_ADMIN__TLS_KEY_FILE=/k.pem"}, "admin.tls-cert-file and admin.tls-key-file"},
		{[]string{"RESTATE_TLS_CA_FILE=/ca.pem"}, "tls-ca-file (mutual TLS between nodes) needs tls-cert-file"},
		{[]string{"RESTATE_TLS_CERT_FILE=/c.pem", "RESTATE_TLS_KEY_FILE=/k.pem", "RESTATE_ADVERTISED_ADDRESS=http://n1:5122/"}, `advertised-address "http://n1:5122/" must use https://`},
		{[]string{"RESTATE_TLS_CERT_FILE=/c.pem", "RESTATE_TLS_KEY_FILE=/k.pem", "RESTATE_ADVERTISED_ADDRESS=https://n1:5122/", "RESTATE_METADATA_CLIENT__ADDRESSES=[http://n1:5122/]"}, `metadata-client.addresses entry "http://n1:5122/" must use https://`},
	} {
		_, _, err := Load(nil, c.env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want it to contain %q", c.env, err, c.want)
		}
	}
}

// The tracing keys are real settings now: file, environment and flags reach Options, bad
// endpoints are refused naming the key, and header values never show in --dump-config.
func TestTracingKeys(t *testing.T) {
	file := writeConfig(t, `
tracing-endpoint = "http://otel:4317"
tracing-json-path = "/tmp/spans"
tracing-filter = "debug"
[tracing-headers]
authorization = "Bearer s3cret"
`)
	o, warnings := mustLoad(t, []string{"--tracing-services-endpoint", "otlp+http://otel:4318/v1/traces"},
		[]string{"RESTATE_CONFIG=" + file, "RESTATE_TRACING_HEADERS__X_TENANT=acme"})
	for _, w := range warnings {
		if strings.Contains(w, "tracing") {
			t.Errorf("unexpected warning %q", w)
		}
	}
	tr := o.Tracing
	if tr.Endpoint != "http://otel:4317" || tr.JSONPath != "/tmp/spans" || tr.Filter != "debug" ||
		tr.ServicesEndpointOrDefault() != "otlp+http://otel:4318/v1/traces" {
		t.Fatalf("tracing options %+v", tr)
	}
	if tr.Headers["authorization"] != "Bearer s3cret" || tr.Headers["x-tenant"] != "acme" || len(tr.Headers) != 2 {
		t.Fatalf("tracing headers %v", tr.Headers)
	}
	dump, err := o.DumpTOML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(dump), "s3cret") || strings.Contains(string(dump), "acme") || !strings.Contains(string(dump), "tracing-headers = {") {
		t.Fatalf("dump shows header values or misses them:\n%s", dump)
	}
	if d, _ := mustLoad(t, nil, nil); d.Tracing.Filter != "info" || d.Tracing.Endpoint != "" {
		t.Fatalf("defaults %+v", d.Tracing)
	}
	for _, bad := range []string{"ftp://otel:21", "otel:4317", "otlp+json+http://otel:4318"} {
		_, _, err := Load(nil, []string{"RESTATE_TRACING_ENDPOINT=" + bad})
		if err == nil || !strings.Contains(err.Error(), "tracing-endpoint") {
			t.Errorf("endpoint %q: err %v", bad, err)
		}
	}
}
