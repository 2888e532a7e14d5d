package query

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of the SQL engine, on the node port's /metrics: what runs now and what was stopped,
// so that an operator sees a runaway query and its end.
var (
	queriesRunning = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "restate_sql_queries_running",
		Help: "SQL queries running now.",
	})
	memoryHeld = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "restate_sql_query_memory_bytes",
		Help: "Approximate memory the running SQL queries hold, as drawn from admin.query-engine.memory-size.",
	})
	queriesStopped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "restate_sql_queries_stopped_total",
		Help: "SQL queries stopped before their end, by reason: memory (the memory pool ran out), timeout, cancelled (the client went away).",
	}, []string{"reason"})
)

func init() {
	prometheus.MustRegister(queriesRunning, memoryHeld, queriesStopped)
}

// countStopped counts a query that ended with err, if a limit or its client stopped it.
func countStopped(err error) {
	var mem *ResourcesExhaustedError
	var timeout *TimeoutError
	switch {
	case errors.As(err, &mem):
		queriesStopped.WithLabelValues("memory").Inc()
	case errors.As(err, &timeout):
		queriesStopped.WithLabelValues("timeout").Inc()
	case errors.Is(err, context.Canceled):
		queriesStopped.WithLabelValues("cancelled").Inc()
	}
}
