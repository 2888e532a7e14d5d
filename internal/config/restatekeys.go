package config

import "strings"

// The tables below list configuration keys Restate 1.5–1.7 understands but
// this server does not implement. Such keys are accepted with a warning so
// that configuration written for Restate keeps working. They were collected
// from Restate's configuration reference and schema; only the names carry
// over.

// restateLeaves are single keys, by dotted path.
var restateLeaves = setOf(
	// Top level (Restate flattens its common and invocation options here).
	"location", "metadata-store-address",
	"log-disable-ansi-codes", "disable-prometheus", "disable-telemetry", "disable-config-sql-table",
	"default-thread-pool-size", "default-thread-stack-size",
	"storage-high-priority-bg-threads", "storage-low-priority-bg-threads",
	"metadata-update-interval", "metadata-fetch-from-peer-timeout", "initialization-timeout",
	"hlc-max-drift", "histogram-inactivity-timeout",
	"default-journal-retention", "max-journal-retention", "max-retry-policy-max-attempts",
	"default-idempotency-retention", "max-idempotency-retention",
	"default-workflow-completion-retention", "max-workflow-completion-retention",
	"bind-ip", "bind-port", "advertised-host", "use-random-ports", "listen-mode",
	"http-proxy", "no-proxy", "connect-timeout", "initial-max-send-streams",
	"request-compression-threshold",
	"aws-profile", "aws-assume-role-external-id",

	"metadata-client.connect-timeout", "metadata-client.keep-alive-interval",
	"metadata-client.keep-alive-timeout", "metadata-client.message-size-limit",
	"metadata-client.path",

	"admin.bind-ip", "admin.bind-port", "admin.advertised-host", "admin.use-random-ports",
	"admin.listen-mode", "admin.disable-web-ui", "admin.disable-cluster-controller",
	"admin.heartbeat-interval", "admin.deployment-routing-headers",
	"admin.log-trim-threshold", "admin.log-trim-interval", "admin.default-partition-replication",

	"ingress.bind-ip", "ingress.bind-port", "ingress.advertised-host", "ingress.use-random-ports",
	"ingress.listen-mode", "ingress.http2-max-concurrent-streams", "ingress.request-size-limit",

	"worker.internal-queue-length", "worker.num-timers-in-memory-limit",
	"worker.max-command-batch-size", "worker.max-command-batch-bytes", "worker.durability-mode",
	"worker.trim-delay-interval", "worker.data-service-memory-limit", "worker.rule-book-poll-interval",

	"worker.invoker.message-size-warning", "worker.invoker.message-size-limit",
	"worker.invoker.tmp-dir", "worker.invoker.in-memory-queue-length-limit",
	"worker.invoker.eager-state-size-limit", "worker.invoker.disable-eager-state",
	"worker.invoker.connect-timeout", "worker.invoker.http-proxy", "worker.invoker.no-proxy",
	"worker.invoker.aws-profile", "worker.invoker.aws-assume-role-external-id",
	"worker.invoker.request-compression-threshold",
	"worker.invoker.memory-limit",
	"worker.invoker.per-invocation-initial-memory", "worker.invoker.per-invocation-memory-limit",
	"worker.invoker.max-awaited-future-depth", "worker.invoker.on-future-recursion-limit",
	"worker.invoker.initial-max-send-streams",

	"admin.query-engine.tmp-dir", "admin.query-engine.query-parallelism",
	"admin.query-engine.pgsql-bind-address",

	"worker.snapshots.enable-cleanup",
	"worker.snapshots.export-concurrency-limit",

	"bifrost.append-retry-max-interval", "bifrost.append-retry-min-interval",
	"bifrost.auto-recovery-interval", "bifrost.disable-auto-improvement",
	"bifrost.record-cache-memory-size", "bifrost.seal-retry-interval",

	"metadata-server.auto-join", "metadata-server.log-trim-threshold",
	"metadata-server.raft-election-tick", "metadata-server.raft-heartbeat-tick",
	"metadata-server.raft-tick-interval", "metadata-server.request-queue-length",
	"metadata-server.status-update-interval", "metadata-server.bind-address",
)

// restateSections are whole tables (or arrays of tables); every key inside
// them is Restate's.
var restateSections = setOf(
	"networking", "log-server", "common", "service-client", "metadata-store",
	"network-error-retry-policy", "http-keep-alive-options",
	"additional-request-headers",
	"metadata-client.backoff-policy", "metadata-client.object-store-retry-policy",
	"admin.query-engine.datafusion-options",
	"ingress.ingestion", "ingress.kafka-clusters",
	"worker.storage", "worker.shuffle",
	"worker.invoker.retry-policy", "worker.invoker.invocation-throttling",
	"worker.invoker.action-throttling", "worker.invoker.additional-request-headers",
	"worker.invoker.http-keep-alive-options",
	"worker.snapshots.object-store-retry-policy",
	"bifrost.local", "bifrost.replicated-loglet", "bifrost.read-retry-policy", "bifrost.in-memory",
)

// restatePrefixes are key-name prefixes Restate uses for families of options,
// by the section (dotted path, "" for the top level) they appear in.
var restatePrefixes = map[string][]string{
	"":                 {"rocksdb-", "gossip-", "tokio-console-", "tracing-", "http2-"},
	"metadata-client":  {"aws-"},
	"worker.invoker":   {"http2-"},
	"worker.snapshots": {"aws-", "gcp-", "azure-"},
	"metadata-server":  {"rocksdb-", "raft-"},
}

// Every Restate section has had rocksdb tuning and experimental switches.
var restateAnywherePrefixes = []string{"rocksdb-", "experimental-"}

func setOf(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// restateKnows reports whether path (a dotted key) is a Restate option.
func restateKnows(path string) bool {
	if restateLeaves[path] {
		return true
	}
	for p := path; ; {
		if restateSections[p] {
			return true
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	parent, name := splitKey(path)
	if !isSection(parent) {
		return false
	}
	for _, prefix := range restatePrefixes[parent] {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	for _, prefix := range restateAnywherePrefixes {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// splitKey splits a dotted path into its parent section and last name.
func splitKey(path string) (parent, name string) {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}

// ignoredEnv are RESTATE_* variables that are not server settings: the
// config-file path itself, and variables of the restate and restatectl CLIs
// and of the SDKs, which often share an environment with the server.
var ignoredEnv = setOf(
	"RESTATE_CONFIG",
	"RESTATE_ADMIN_URL", "RESTATE_INGRESS_URL", "RESTATE_HOST", "RESTATE_HOST_SCHEME",
	"RESTATE_AUTH_TOKEN", "RESTATE_ADDRESS", "RESTATE_LOGGING", "RESTATE_DEBUG_LOGGING",
	"RESTATE_TEST_PARTITION_FILE", // our fault-injection hook for tests
)
