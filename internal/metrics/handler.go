package metrics

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

var (
	nodeMu      sync.RWMutex
	nodeLabels  []*dto.LabelPair
	handlerOnce sync.Once
	handler     http.Handler
)

// SetNode names the node on every restate_* series (cluster_name and node_name, as Restate's
// exporter does; its dashboards filter on them). The last call wins: one node per process.
func SetNode(cluster, node string) {
	nodeMu.Lock()
	defer nodeMu.Unlock()
	nodeLabels = []*dto.LabelPair{
		{Name: strPtr("cluster_name"), Value: strPtr(cluster)},
		{Name: strPtr("node_name"), Value: strPtr(node)},
	}
}

func strPtr(s string) *string { return &s }

// Handler serves the default registry in Prometheus text or, when the scraper asks for it,
// OpenMetrics, with the node labels added to Restate's families.
func Handler() http.Handler {
	handlerOnce.Do(func() {
		handler = promhttp.HandlerFor(labeled{prometheus.DefaultGatherer},
			promhttp.HandlerOpts{EnableOpenMetrics: true, ErrorHandling: promhttp.ContinueOnError, ErrorLog: errorLog{}})
	})
	return handler
}

// errorLog reports a metric that could not be gathered (the rest is still served).
type errorLog struct{}

func (errorLog) Println(v ...any) { slog.Warn("serving /metrics", "err", fmt.Sprint(v...)) }

// labeled adds the node labels to every metric of the restate_* families it gathers.
type labeled struct{ g prometheus.Gatherer }

func (l labeled) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := l.g.Gather()
	nodeMu.RLock()
	extra := nodeLabels
	nodeMu.RUnlock()
	if len(extra) == 0 {
		return mfs, err
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "restate_") {
			continue
		}
		for _, m := range mf.Metric {
			m.Label = withLabels(m.Label, extra)
		}
	}
	return mfs, err
}

// withLabels returns pairs plus extra, sorted by name; a label the metric already has wins.
func withLabels(pairs, extra []*dto.LabelPair) []*dto.LabelPair {
	out := make([]*dto.LabelPair, 0, len(pairs)+len(extra))
	out = append(out, pairs...)
	for _, e := range extra {
		dup := false
		for _, p := range pairs {
			if p.GetName() == e.GetName() {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

// Quantiles reports values (one per partition, say) as a gauge family with a quantile label
// (0.5, 0.9, 0.99, 1.0), the shape Restate uses for per-node aggregates such as
// restate_partition_applied_lsn_lag. With no values it reports NaN, as Restate does.
func Quantiles(ch chan<- prometheus.Metric, desc *prometheus.Desc, values []float64) {
	sorted := append([]float64(nil), values...)
	sort.Float64s(sorted)
	for _, q := range []struct {
		label string
		q     float64
	}{{"0.5", 0.5}, {"0.9", 0.9}, {"0.99", 0.99}, {"1.0", 1}} {
		v := math.NaN()
		if len(sorted) > 0 {
			i := int(q.q*float64(len(sorted))+0.5) - 1
			if i < 0 {
				i = 0
			}
			if i >= len(sorted) {
				i = len(sorted) - 1
			}
			v = sorted[i]
		}
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, q.label)
	}
}
