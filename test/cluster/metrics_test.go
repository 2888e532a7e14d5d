package cluster

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	ch "github.com/restatego/restate/internal/clusterharness"
	"github.com/restatego/restate/internal/clusterharness/workload"
	"github.com/restatego/restate/internal/metrics"
)

// TestClusterMetricNames: after a few calls, the three nodes together serve every family of
// internal/metrics/testdata/served.txt that a cluster has, with Restate's types and labels,
// and each node reports the replicated metadata store's positions.
func TestClusterMetricNames(t *testing.T) {
	needCluster(t)
	r := newRig(t, ch.Options{Partitions: 4})
	for i := range 20 {
		if res := r.caller.Call(context.Background(), fmt.Sprintf("/Register/m%d/Get", i), nil, "", ""); res.Outcome != workload.Acked {
			t.Fatalf("call %d: %v", i, res.LastErr)
		}
	}
	f, err := os.Open("../../internal/metrics/testdata/served.txt")
	if err != nil {
		t.Fatal(err)
	}
	served, _, err := metrics.ParseServedList(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	union := map[string]*dto.MetricFamily{}
	maxAlive := 0.0
	for _, n := range r.c.Nodes {
		resp, err := http.Get(n.NodeURL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := p.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		for _, name := range []string{"restate_metadata_server_replicated_committed_lsn", "restate_num_partitions"} {
			mf := mfs[name]
			if mf == nil || len(mf.Metric) != 1 || mf.Metric[0].GetGauge().GetValue() <= 0 {
				t.Errorf("%s: %s missing or zero: %v", n.Name, name, mf)
			}
		}
		if mf := mfs["restate_failure_detector_nodes_total"]; mf != nil {
			for _, m := range mf.Metric {
				for _, lp := range m.Label {
					if lp.GetName() == "state" && lp.GetValue() == "alive" {
						maxAlive = max(maxAlive, m.GetGauge().GetValue())
					}
				}
			}
		}
		for name, mf := range mfs {
			if union[name] == nil {
				union[name] = mf
			}
		}
	}
	if maxAlive != float64(len(r.c.Nodes)) {
		t.Errorf("restate_failure_detector_nodes_total{state=\"alive\"}: max %v across nodes, want %d", maxAlive, len(r.c.Nodes))
	}
	for _, want := range served {
		switch want.After {
		case "", "cluster":
		default:
			continue
		}
		mf := union[want.Name]
		if mf == nil {
			t.Errorf("%s is served by no node", want.Name)
			continue
		}
		if typ := strings.ToLower(mf.GetType().String()); typ != want.Type {
			t.Errorf("%s: type %s, Restate's is %s", want.Name, typ, want.Type)
		}
		labels := append([]string{"cluster_name", "node_name"}, want.Labels...)
		sort.Strings(labels)
		var got []string
		for _, lp := range mf.Metric[0].Label {
			got = append(got, lp.GetName())
		}
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(labels, ",") {
			t.Errorf("%s: labels %v, want %v", want.Name, got, labels)
		}
	}
}
