// Package metrics holds the node's Prometheus metric definitions under Restate's names, labels
// and units, so that Restate's Grafana dashboards and alerts work against this server.
//
// Restate's exporter renders its histograms as summaries (quantiles 0.5, 0.9, 0.99 and 1 plus
// _sum and _count) and puts cluster_name and node_name on every series; dashboards select
// quantile="0.99" and filter by cluster_name, so both carry over. Metrics without a Restate
// equivalent keep the restate_ prefix and say so in docs/metrics.md.
//
// Packages import this one and update the metrics where things happen; nothing here does I/O.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Label values used by more than one metric.
const (
	LeaderYes = "1" // leader label: the partition leader did it
	LeaderNo  = "0"
)

// Objectives are the quantiles Restate's summaries report.
var Objectives = map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001, 1: 0.0001}

func counter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	prometheus.MustRegister(c)
	if len(labels) == 0 {
		c.WithLabelValues() // served from the start at 0, so rate() has a base
	}
	return c
}

func gauge(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	prometheus.MustRegister(g)
	if len(labels) == 0 {
		g.WithLabelValues()
	}
	return g
}

func summary(name, help string, labels ...string) *prometheus.SummaryVec {
	s := prometheus.NewSummaryVec(prometheus.SummaryOpts{Name: name, Help: help, Objectives: Objectives}, labels)
	prometheus.MustRegister(s)
	if len(labels) == 0 {
		s.WithLabelValues()
	}
	return s
}

// ---- ingress (Restate: crates/ingress-http) ----

// Ingress request statuses (label status of IngressRequests).
const (
	IngressAdmitted        = "admitted"
	IngressCompleted       = "completed"
	IngressRequestError    = "request_error"
	IngressInvocationError = "invocation_error"
	IngressError           = "ingress_error"
	IngressRateLimited     = "rate-limited"
)

var (
	// IngressRequests counts ingress requests by status; admitted and rate-limited requests
	// have empty rpc_service and rpc_type (Restate leaves those labels off).
	IngressRequests = counter("restate_ingress_requests_total",
		"Number of ingress requests in different states, see label status to classify",
		"status", "rpc_service", "rpc_type")
	IngressRequestDuration = summary("restate_ingress_request_duration_seconds",
		"Total latency of Ingress request processing in seconds", "rpc_service", "rpc_type")
	IngressConnectionsCreated = counter("restate_ingress_http_connection_created_total",
		"Number of ingress incoming connections created")
	IngressConnectionsDropped = counter("restate_ingress_http_connection_dropped_total",
		"Number of ingress incoming connections dropped", "status")
)

// ---- invoker (Restate: crates/invoker-impl) ----

// Invocation task statuses (label status of InvokerTasks).
const (
	TaskStarted   = "started"
	TaskSuspended = "suspended"
	TaskFailed    = "failed"
	TaskCompleted = "completed"
)

var (
	InvokerEnqueue = counter("restate_invoker_enqueue_total",
		"Number of invocations that were added to the queue", "partition_id")
	// InvokerTasks counts attempts by how they ended; transient is "true" for a failure that
	// is retried, "false" for one that pauses or ends the invocation, empty otherwise.
	InvokerTasks = counter("restate_invoker_invocation_tasks_total",
		"Invocation task operation", "status", "partition_id", "transient")
	InvokerTaskDuration = summary("restate_invoker_task_duration_seconds",
		"Time taken to complete an invoker task")
	InvokerClientRequests = counter("restate_invoker_client_requests_total",
		"Requests sent to deployments and their status codes", "type", "status_code")
	InvokerConcurrencyLimit = gauge("restate_invoker_concurrency_limit",
		"Concurrency limit (slots) for invoker tasks")
	InvokerSlotsAcquired = counter("restate_invoker_concurrency_slots_acquired",
		"Number of concurrency slots acquired")
	InvokerSlotsReleased = counter("restate_invoker_concurrency_slots_released",
		"Number of concurrency slots released")
	InvokerSentBytes = counter("restate_invoker_sent_bytes_total",
		"Total bytes sent to deployments by the invoker", "type")
	InvokerReceivedBytes = counter("restate_invoker_received_bytes_total",
		"Total bytes invoker has received from deployments", "type")
	// InvokerInflight has no Restate 1.7 equivalent: invocation tasks on this node now.
	InvokerInflight = gauge("restate_invoker_inflight_tasks",
		"Invocation tasks running (attempting, backing off or waiting for a slot) on this node")
)

// ---- partition processor (Restate: crates/worker) ----

var (
	PartitionApplyCommand = summary("restate_partition_apply_command_duration_seconds",
		"Time spent applying partition processor command", "command", "leader")
	PartitionStart = counter("restate_partition_start_total",
		"Number of partition processor starts on this node", "partition")
	// PartitionStop counts processor stops by type: normal (shutdown, moved away) or error.
	PartitionStop = counter("restate_partition_stop_total",
		"Number of partition processor stops on this node", "partition", "type")
	// PartitionLeaderChanges has no Restate equivalent: leadership gained or lost.
	PartitionLeaderChanges = counter("restate_partition_leader_changes_total",
		"Leadership changes of the partition processors on this node, by event (gained, lost)",
		"partition", "event")
)

// ---- log (Restate: crates/bifrost, crates/log-server) ----

var (
	LogAppendDuration = summary("restate_bifrost_sequencer_append_duration_seconds",
		"Append batch duration in seconds as measured by the sequencer")
	LogCommittedRecords = counter("restate_bifrost_sequencer_committed_records_total",
		"Number of records committed")
	LogCommittedBytes = counter("restate_bifrost_sequencer_committed_records_bytes_total",
		"Size of records committed")
	LogStoreDuration = summary("restate_bifrost_sequencer_store_duration_seconds",
		"Log server store duration in seconds as measured by the sequencer")
	LogRecordSize = summary("restate_bifrost_sequencer_record_size_bytes",
		"Distribution of record sizes sent by the sequencer")
	LogEnqueuedRecords = counter("restate_bifrost_replicatedloglet_enqueued_records_total",
		"Number of records enqueued for writing")
	LogEnqueuedBytes = counter("restate_bifrost_replicatedloglet_enqueued_records_bytes_total",
		"Size of records enqueued for writing")
	LogReadRecords = counter("restate_bifrost_replicatedloglet_read_record_total",
		"Number of records read")
	// LogAppendFailures has no Restate equivalent: appends that returned an error.
	LogAppendFailures = counter("restate_bifrost_append_failed_total",
		"Log appends that failed (not leader, closed, write error)")
	LocalLogAppends = counter("restate_bifrost_localloglet_appends_total",
		"Number of append requests to bifrost's local loglet")
	LocalLogBatchCount = summary("restate_bifrost_localloglet_write_batch_count",
		"Histogram of the number of records in each append request to local loglet")
	LocalLogBatchBytes = summary("restate_bifrost_localloglet_write_batch_size_bytes",
		"Histogram of size in bytes of local loglet write batches")
	LogServerBatchBytes = summary("restate_log_server_write_batch_size_bytes",
		"Histogram of size in bytes of write batches written to log-store")
)

// ---- metadata (Restate: crates/metadata-server, crates/metadata-store) ----

// Request statuses (label status of the metadata request counters).
const (
	StatusSuccess = "success"
	StatusFailure = "failure"
)

var (
	MetadataClientGet = counter("restate_metadata_client_get_total",
		"Metadata client get request success count", "status")
	MetadataClientPut = counter("restate_metadata_client_put_total",
		"Metadata client put request success count", "status")
	MetadataClientGetDuration = summary("restate_metadata_client_get_duration_seconds",
		"Metadata client get request duration in seconds")
	MetadataClientPutDuration = summary("restate_metadata_client_put_duration_seconds",
		"Metadata client put request duration in seconds")
	MetadataServerGet = counter("restate_metadata_server_get_total",
		"Metadata get request success count as measured by the metadata handler", "status")
	MetadataServerPut = counter("restate_metadata_server_put_total",
		"Metadata put request success count as measured by the metadata handler", "status")
	MetadataServerGetDuration = summary("restate_metadata_server_get_duration",
		"Metadata get request duration in seconds as measured by the metadata handler")
	MetadataServerPutDuration = summary("restate_metadata_server_put_duration",
		"Metadata put request duration in seconds as measured by the metadata handler")
)

// ---- snapshots (Restate: crates/partition-store) ----

var (
	SnapshotUploads = counter("restate_partition_store_snapshots_upload_total",
		"Number of successful partition snapshot uploads")
	SnapshotUploadFailures = counter("restate_partition_store_snapshots_upload_failed_total",
		"Number of failed partition snapshot uploads")
	SnapshotUploadDuration = summary("restate_partition_store_snapshots_upload_duration_seconds",
		"Duration of partition snapshot upload operations")
	SnapshotDownloadDuration = summary("restate_partition_store_snapshots_download_duration_seconds",
		"Duration of partition snapshot download operations")
	SnapshotDownloadFailures = counter("restate_partition_store_snapshots_download_failed_total",
		"Number of failed partition snapshot download operations")
)
