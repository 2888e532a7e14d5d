// Package config loads the server configuration the way Restate does:
// built-in defaults, then a TOML file (`--config-file` or RESTATE_CONFIG),
// then RESTATE_* environment variables, then command-line flags. Keys are
// Restate's kebab-case names; common options live at the top level.
//
// Options Restate knows but this server does not implement are accepted with
// a warning, so configuration written for Restate keeps working. Keys that
// neither knows are errors in a file (they are usually typos) and warnings in
// the environment (which often carries variables meant for other programs).
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Role names, as Restate spells them.
const (
	RoleWorker         = "worker"
	RoleAdmin          = "admin"
	RoleMetadataServer = "metadata-server"
	RoleLogServer      = "log-server"
	RoleHTTPIngress    = "http-ingress"
)

// AllRoles lists every role in canonical order; a node runs all of them by default.
var AllRoles = []string{RoleWorker, RoleAdmin, RoleMetadataServer, RoleLogServer, RoleHTTPIngress}

// Log formats accepted by log-format.
const (
	LogFormatPretty  = "pretty"
	LogFormatCompact = "compact"
	LogFormatJSON    = "json"
)

// What an invocation does once its retry policy runs out of attempts.
const (
	OnMaxAttemptsPause = "pause"
	OnMaxAttemptsKill  = "kill"
)

// Options is the effective server configuration. Field comments give the
// configuration key and its default.
type Options struct {
	ClusterName          string        // cluster-name, "localcluster"
	NodeName             string        // node-name, the host name
	BaseDir              string        // base-dir, "./restate-data"
	BindAddress          string        // bind-address, "0.0.0.0:5122"
	AdvertisedAddress    string        // advertised-address, "http://127.0.0.1:5122/"
	Roles                []string      // roles, all five, canonical order
	ForceNodeID          uint32        // force-node-id, 0 = unset
	AutoProvision        bool          // auto-provision (alias allow-bootstrap), true
	DefaultNumPartitions uint16        // default-num-partitions (alias bootstrap-num-partitions), 24
	DefaultReplication   int           // default-replication, 1 (number of nodes)
	LogFilter            string        // log-filter, "warn,restate=info"; RUST_LOG overrides it
	LogFormat            string        // log-format, "pretty"
	ShutdownTimeout      time.Duration // shutdown-timeout, 1m
	// Tracing are Restate's tracing-* keys (top level): where OpenTelemetry spans go.
	Tracing TracingOptions
	// EnablePprof serves Go's profiler under /debug/pprof/ on the node port (enable-pprof,
	// false): profiles expose internals and cost CPU, so they are opt-in.
	EnablePprof bool
	// DeploymentAllowedAddresses limits where deployments may be registered and called
	// (deployment-allowed-addresses): CIDR networks, IP addresses, host names and
	// *.suffix wildcards; empty allows every address, as Restate does.
	DeploymentAllowedAddresses []string
	// MinFreeDiskSpace is min-free-disk-space: below this much free space on the file system
	// holding base-dir the node refuses new work (reads go on), 128 MiB; 0 turns the check off.
	MinFreeDiskSpace uint64
	// TLS of the node port and default of the ingress and admin listeners; with TLSCAFile
	// the node port requires client certificates of that CA (mutual TLS between nodes).
	TLSCertFile string // tls-cert-file, "" = plain HTTP
	TLSKeyFile  string // tls-key-file
	TLSCAFile   string // tls-ca-file, "" = the system's roots, no client certificates
	// DefaultRetryPolicy is the default-retry-policy table for invocations.
	DefaultRetryPolicy InvocationRetryPolicy

	MetadataClient MetadataClientOptions // [metadata-client]
	Admin          AdminOptions          // [admin]
	Ingress        IngressOptions        // [ingress]
	Worker         WorkerOptions         // [worker]
	Bifrost        BifrostOptions        // [bifrost]
	MetadataServer MetadataServerOptions // [metadata-server]

	// TopLevelRequestIdentityPrivateKeyPEMFile holds request-identity-private-key-pem-file read
	// at the top level, where Restate before 1.7 had it, while loading: Load then moves it into
	// Worker.Invoker (where it wins when set, as in Restate), warns and clears it.
	TopLevelRequestIdentityPrivateKeyPEMFile string

	// Command is what the command line asked for besides configuration. It is
	// not part of the configuration and never dumped.
	Command Command
}

// Command holds the command-line requests that are not configuration values.
type Command struct {
	ConfigFile string // the TOML file that was loaded, "" if none
	DumpConfig bool   // --dump-config: print DumpTOML and exit
	Help       bool   // --help / -h: print Usage and exit
	Version    bool   // --version / -V: print the version and exit
	Production bool   // --production: production defaults (auto-provision off)
}

// InvocationRetryPolicy is how failed invocations are retried.
type InvocationRetryPolicy struct {
	InitialInterval      time.Duration // initial-interval, 500ms
	ExponentiationFactor float64       // exponentiation-factor, 2.0
	MaxAttempts          int           // max-attempts, 200; 0 = unlimited
	OnMaxAttempts        string        // on-max-attempts, "pause" or "kill"
	MaxInterval          time.Duration // max-interval, 20s
}

// MetadataClientOptions configures how a node reaches the metadata store.
type MetadataClientOptions struct {
	Addresses []string // addresses (legacy: address), ["http://127.0.0.1:5122/"]
}

// AdminOptions configures the admin API server.
type AdminOptions struct {
	BindAddress                string             // bind-address, "0.0.0.0:9070"
	AdvertisedAdminEndpoint    string             // advertised-admin-endpoint (or advertised-address), "" = derived
	TLSCertFile                string             // tls-cert-file, "" = the top-level tls-cert-file
	TLSKeyFile                 string             // tls-key-file, "" = the top-level tls-key-file
	LogTrimCheckInterval       time.Duration      // log-trim-check-interval, 1h
	ConcurrentAPIRequestsLimit int                // concurrent-api-requests-limit, 0 = unlimited
	QueryEngine                QueryEngineOptions // [admin.query-engine]
	// AuthTokensFile and AuthTokens turn on bearer-token authentication of the admin API
	// (auth-tokens-file, auth-tokens; off when both are unset). The file holds one token
	// per line and is re-read when it changes.
	AuthTokensFile string
	AuthTokens     []Secret
}

// QueryEngineOptions bound the SQL queries of POST /query.
type QueryEngineOptions struct {
	// MemorySize is memory-size, 256 MiB: the approximate memory all running queries may hold
	// together (Restate's key, whose default is 1 GiB for DataFusion's leaner batches).
	MemorySize uint64
	// QueryTimeout is query-timeout, 1m: how long one query may run (this server's key).
	QueryTimeout time.Duration
}

// IngressOptions configures the HTTP ingress server.
type IngressOptions struct {
	BindAddress                string // bind-address, "0.0.0.0:8080"
	AdvertisedIngressEndpoint  string // advertised-ingress-endpoint (or advertised-address), "" = derived
	TLSCertFile                string // tls-cert-file, "" = the top-level tls-cert-file
	TLSKeyFile                 string // tls-key-file, "" = the top-level tls-key-file
	ConcurrentAPIRequestsLimit int    // concurrent-api-requests-limit, 0 = unlimited
	// AuthTokensFile and AuthTokens turn on bearer-token authentication of the ingress
	// (auth-tokens-file, auth-tokens), like the admin API's.
	AuthTokensFile string
	AuthTokens     []Secret
}

// WorkerOptions configures partition processing.
type WorkerOptions struct {
	CleanupInterval time.Duration    // cleanup-interval, 1h: how often expired invocations are removed
	Invoker         InvokerOptions   // [worker.invoker]
	Snapshots       SnapshotsOptions // [worker.snapshots]
}

// InvokerOptions configures how the worker calls service deployments.
type InvokerOptions struct {
	InactivityTimeout          time.Duration // inactivity-timeout, 1m
	AbortTimeout               time.Duration // abort-timeout, 1m
	ConcurrentInvocationsLimit int           // concurrent-invocations-limit, 0 = unlimited
	// RequestIdentityPrivateKeyPEMFile (request-identity-private-key-pem-file) is a PEM file with
	// one ed25519 private key that signs every request to deployments; "" = unsigned. Restate
	// 1.7 also reads it at the top level (its older location) when it is not set here.
	RequestIdentityPrivateKeyPEMFile string
	RequestIdentityExpiration        time.Duration // request-identity-expiration, 60s: token validity around its issuing time
}

// SnapshotsOptions configures partition snapshots in an object store.
type SnapshotsOptions struct {
	Destination                string        // destination, e.g. "s3://bucket/prefix"; "" = disabled
	SnapshotIntervalNumRecords uint64        // snapshot-interval-num-records, 0 = not by record count
	SnapshotInterval           time.Duration // snapshot-interval, 0 = not by time; with both, both must be met
	NumRetained                uint64        // num-retained: snapshots kept per partition, 0 = all
	AwsRegion                  string        // aws-region
	AwsEndpointURL             string        // aws-endpoint-url
	AwsAccessKeyID             string        // aws-access-key-id
	AwsSecretAccessKey         Secret        // aws-secret-access-key
	AwsSessionToken            Secret        // aws-session-token
	AwsProfile                 string        // aws-profile
	AwsAllowHTTP               bool          // aws-allow-http
}

// BifrostOptions configures the durable log.
type BifrostOptions struct {
	DefaultProvider string // default-provider, "replicated" or "local"
}

// MetadataServerOptions configures the metadata store server.
type MetadataServerOptions struct {
	Type string // type, "replicated"
}

// Secret holds a credential. It prints as "[redacted]" in every fmt verb and
// encoding so that logging or dumping the options never leaks it; Reveal
// returns the actual value.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]" for a set secret and "" for an empty one.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// MarshalText keeps text and JSON encoders from printing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Defaults returns the built-in configuration.
func Defaults() *Options {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return &Options{
		ClusterName:          "localcluster",
		NodeName:             host,
		BaseDir:              "./restate-data",
		BindAddress:          "0.0.0.0:5122",
		AdvertisedAddress:    "http://127.0.0.1:5122/",
		Roles:                append([]string(nil), AllRoles...),
		AutoProvision:        true,
		DefaultNumPartitions: 24,
		DefaultReplication:   1,
		LogFilter:            "warn,restate=info",
		LogFormat:            LogFormatPretty,
		ShutdownTimeout:      time.Minute,
		Tracing:              TracingOptions{Filter: "info"},
		MinFreeDiskSpace:     128 << 20,
		DefaultRetryPolicy: InvocationRetryPolicy{
			InitialInterval:      500 * time.Millisecond,
			ExponentiationFactor: 2.0,
			MaxAttempts:          200,
			OnMaxAttempts:        OnMaxAttemptsPause,
			MaxInterval:          20 * time.Second,
		},
		MetadataClient: MetadataClientOptions{Addresses: []string{"http://127.0.0.1:5122/"}},
		Admin: AdminOptions{
			BindAddress:          "0.0.0.0:9070",
			LogTrimCheckInterval: time.Hour,
			QueryEngine:          QueryEngineOptions{MemorySize: 256 << 20, QueryTimeout: time.Minute},
		},
		Ingress: IngressOptions{BindAddress: "0.0.0.0:8080"},
		Worker: WorkerOptions{
			CleanupInterval: time.Hour,
			Invoker: InvokerOptions{
				InactivityTimeout: time.Minute,
				AbortTimeout:      time.Minute,

				RequestIdentityExpiration: time.Minute,
			},
		},
		Bifrost:        BifrostOptions{DefaultProvider: "replicated"},
		MetadataServer: MetadataServerOptions{Type: "replicated"},
	}
}

// NodeDir is the directory holding this node's data: <base-dir>/<node-name>.
func (o *Options) NodeDir() string { return filepath.Join(o.BaseDir, o.NodeName) }

// HasRole reports whether the node runs the given role.
func (o *Options) HasRole(role string) bool {
	for _, r := range o.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// TLSPair is a certificate and key file; empty means plain HTTP.
type TLSPair struct{ CertFile, KeyFile string }

// Enabled tells whether the listener speaks TLS.
func (p TLSPair) Enabled() bool { return p.CertFile != "" }

// NodeTLS is the node port's pair, also the certificate nodes present to each other.
func (o *Options) NodeTLS() TLSPair { return TLSPair{o.TLSCertFile, o.TLSKeyFile} }

// IngressTLS is the ingress listener's pair: its own, else the node's.
func (o *Options) IngressTLS() TLSPair {
	if o.Ingress.TLSCertFile != "" {
		return TLSPair{o.Ingress.TLSCertFile, o.Ingress.TLSKeyFile}
	}
	return o.NodeTLS()
}

// AdminTLS is the admin listener's pair: its own, else the node's.
func (o *Options) AdminTLS() TLSPair {
	if o.Admin.TLSCertFile != "" {
		return TLSPair{o.Admin.TLSCertFile, o.Admin.TLSKeyFile}
	}
	return o.NodeTLS()
}

// checkTLS requires complete pairs, and https:// node addresses when the node port speaks
// TLS. The built-in http:// defaults follow the node port's scheme by themselves.
func (o *Options) checkTLS() error {
	for _, k := range []struct {
		prefix    string
		cert, key string
	}{{"", o.TLSCertFile, o.TLSKeyFile}, {"ingress.", o.Ingress.TLSCertFile, o.Ingress.TLSKeyFile}, {"admin.", o.Admin.TLSCertFile, o.Admin.TLSKeyFile}} {
		if (k.cert == "") != (k.key == "") {
			return fmt.Errorf("%stls-cert-file and %stls-key-file must be set together", k.prefix, k.prefix)
		}
	}
	if o.TLSCAFile != "" && o.TLSCertFile == "" {
		return errors.New("tls-ca-file (mutual TLS between nodes) needs tls-cert-file and tls-key-file: the certificate this node presents")
	}
	if !o.NodeTLS().Enabled() {
		return nil
	}
	def := Defaults()
	if o.AdvertisedAddress == def.AdvertisedAddress {
		o.AdvertisedAddress = "https://" + strings.TrimPrefix(o.AdvertisedAddress, "http://")
	}
	if strings.HasPrefix(o.AdvertisedAddress, "http://") {
		return fmt.Errorf("advertised-address %q must use https:// when tls-cert-file is set", o.AdvertisedAddress)
	}
	for i, a := range o.MetadataClient.Addresses {
		if i < len(def.MetadataClient.Addresses) && a == def.MetadataClient.Addresses[i] {
			o.MetadataClient.Addresses[i] = "https://" + strings.TrimPrefix(a, "http://")
			continue
		}
		if strings.HasPrefix(a, "http://") {
			return fmt.Errorf("metadata-client.addresses entry %q must use https:// when tls-cert-file is set", a)
		}
	}
	return nil
}

// TracingOptions are the tracing-* keys. Spans are exported only when an endpoint or a JSON
// path is set.
type TracingOptions struct {
	Endpoint         string            // tracing-endpoint: http(s):// OTLP/gRPC, otlp+http(s):// OTLP/HTTP
	RuntimeEndpoint  string            // tracing-runtime-endpoint: accepted; this server has no runtime spans
	ServicesEndpoint string            // tracing-services-endpoint: overrides tracing-endpoint for invocation spans
	JSONPath         string            // tracing-json-path: a directory for Jaeger JSON span files
	Filter           string            // tracing-filter, "info": Restate's filter of runtime spans
	Headers          map[string]Secret // tracing-headers: sent with every export (often credentials)
}

// ServicesEndpointOrDefault is where invocation spans go: tracing-services-endpoint, else
// tracing-endpoint.
func (t TracingOptions) ServicesEndpointOrDefault() string {
	if t.ServicesEndpoint != "" {
		return t.ServicesEndpoint
	}
	return t.Endpoint
}
