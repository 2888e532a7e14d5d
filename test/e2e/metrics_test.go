package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/restatego/restate/internal/metrics"
	"github.com/restatego/restate/internal/testservices"
)

// TestRestateMetricNames runs a small workload (calls, sends, retried failures, a terminal
// failure, a suspension, a snapshot) against a real server and checks that /metrics on the
// node and admin ports serves every family of internal/metrics/testdata/served.txt with
// Restate's type and labels, and values that reflect the workload.
func TestRestateMetricNames(t *testing.T) {
	repo := t.TempDir()
	s := startServer(t, append([]string{"RESTATE_DEFAULT_NUM_PARTITIONS=4", "RESTATE_WORKER__SNAPSHOTS__DESTINATION=file://" + repo,
		"RESTATE_CLUSTER_NAME=metrics-test"}, fastRetries...)...)
	ep := startEndpoint(t, false) // request-response: a durable sleep suspends the attempt
	s.Register(t, ep.URL)

	for i := range 40 {
		if r := s.Call(t, "/Greeter/Greet", fmt.Sprint("n", i)); r.Status != http.StatusOK {
			t.Fatalf("call: %d %s", r.Status, r.Body)
		}
	}
	for i := range 10 {
		if r := s.Call(t, "/Greeter/Greet/send", fmt.Sprint("s", i)); r.Status != http.StatusAccepted {
			t.Fatalf("send: %d %s", r.Status, r.Body)
		}
	}
	if r := s.Call(t, "/Failing/FailTimes", testservices.FailTimesRequest{Key: "m", Times: 2}); r.Status != http.StatusOK {
		t.Fatalf("FailTimes: %d %s", r.Status, r.Body)
	}
	if r := s.Call(t, "/Failing/Terminal", "no"); r.Status != 418 {
		t.Fatalf("Terminal: %d %s", r.Status, r.Body)
	}
	if r := s.Call(t, "/Sleeper/RunSleepRun", testservices.SleepRequest{Key: "m", Millis: 50}); r.Status != http.StatusOK {
		t.Fatalf("RunSleepRun: %d %s", r.Status, r.Body)
	}
	if r := s.Call(t, "/Greeter/nope", "x"); r.Status != http.StatusNotFound {
		t.Fatalf("unknown handler: %d %s", r.Status, r.Body)
	}
	if r := do(t, "POST", "http://"+s.Node+"/v1/partitions/0/snapshot", nil); r.Status != http.StatusOK {
		t.Fatalf("snapshot: %d %s", r.Status, r.Body)
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

	for _, port := range []string{s.Node, s.Admin} {
		var mfs map[string]*dto.MetricFamily
		// Sends finish after their 202: poll until the invoker has counted every invocation.
		eventually(t, 10*time.Second, func() error {
			mfs = scrape(t, "http://"+port+"/metrics")
			if got := sample(mfs, "restate_invoker_invocation_tasks_total", "status", "completed"); got < 53 {
				return fmt.Errorf("%v completed invocation tasks, want 53", got)
			}
			return nil
		})
		for _, want := range served {
			if want.After != "" && want.After != "single-node" {
				continue
			}
			mf := mfs[want.Name]
			if mf == nil {
				t.Errorf("%s: %s is not served", port, want.Name)
				continue
			}
			if typ := strings.ToLower(mf.GetType().String()); typ != want.Type {
				t.Errorf("%s: type %s, Restate's is %s", want.Name, typ, want.Type)
			}
			all := append([]string{"cluster_name", "node_name"}, want.Labels...)
			sort.Strings(all)
			wantLabels := strings.Join(all, ",")
			for _, m := range mf.Metric {
				if got := labelNames(m); got != wantLabels {
					t.Errorf("%s: labels %s, want %s", want.Name, got, wantLabels)
					break
				}
				if v := labelValue(m, "cluster_name"); v != "metrics-test" {
					t.Errorf("%s: cluster_name %q", want.Name, v)
					break
				}
			}
		}
		checks := []struct {
			name   string
			labels []string
			min    float64
		}{
			{"restate_ingress_requests_total", []string{"status", "completed", "rpc_service", "Greeter", "rpc_type", "call"}, 40},
			{"restate_ingress_requests_total", []string{"status", "completed", "rpc_service", "Greeter", "rpc_type", "send"}, 10},
			{"restate_ingress_requests_total", []string{"status", "invocation_error", "rpc_service", "Failing"}, 1},
			{"restate_ingress_requests_total", []string{"status", "request_error", "rpc_service", "Greeter"}, 1},
			{"restate_ingress_requests_total", []string{"status", "admitted"}, 54},
			{"restate_ingress_request_duration_seconds", []string{"rpc_service", "Greeter", "rpc_type", "call"}, 40},
			{"restate_invoker_invocation_tasks_total", []string{"status", "failed", "transient", "true"}, 2},
			{"restate_invoker_invocation_tasks_total", []string{"status", "suspended"}, 1},
			{"restate_invoker_invocation_tasks_total", []string{"status", "started"}, 57},
			{"restate_invoker_client_requests_total", []string{"type", "Http/request-response", "status_code", "200"}, 57},
			{"restate_invoker_task_duration_seconds", nil, 57},
			{"restate_partition_apply_command_duration_seconds", []string{"command", "Invoke", "leader", "1"}, 53},
			{"restate_bifrost_sequencer_committed_records_total", nil, 100},
			{"restate_bifrost_localloglet_write_batch_count", nil, 1},
			{"restate_num_partitions", nil, 4},
			{"restate_num_active_partition_leaders", nil, 4},
			{"restate_partition_store_snapshots_upload_total", nil, 1},
			{"restate_metadata_server_put_total", []string{"status", "success"}, 1},
			{"restate_failure_detector_nodes_total", []string{"state", "alive"}, 1},
		}
		for _, c := range checks {
			if got := sample(mfs, c.name, c.labels...); got < c.min {
				t.Errorf("%s: %s%v = %v, want at least %v", port, c.name, c.labels, got, c.min)
			}
		}
		if got := sample(mfs, "restate_partition_applied_lsn_lag", "quantile", "0.99"); got != 0 {
			t.Errorf("applied lsn lag p99 = %v on an idle node, want 0", got)
		}
	}

	// OpenMetrics on request (Prometheus asks for it first).
	req, _ := http.NewRequest("GET", "http://"+s.Admin+"/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("content-type"); !strings.HasPrefix(ct, "application/openmetrics-text") || !strings.HasSuffix(string(body), "# EOF\n") {
		t.Fatalf("OpenMetrics: content-type %q, body ends %q", ct, string(body[max(0, len(body)-40):]))
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	return mfs
}

// sample sums the family's series whose labels match the given name/value pairs: counter and
// gauge values, a summary's count.
func sample(mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	mf := mfs[name]
	if mf == nil {
		return -1
	}
	sum := 0.0
	for _, m := range mf.Metric {
		ok := true
		for i := 0; i+1 < len(labels); i += 2 {
			ok = ok && labelValue(m, labels[i]) == labels[i+1]
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Summary != nil:
			sum += float64(m.Summary.GetSampleCount())
		}
	}
	return sum
}

func labelNames(m *dto.Metric) string {
	var names []string
	for _, lp := range m.Label {
		names = append(names, lp.GetName())
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func labelValue(m *dto.Metric, name string) string {
	for _, lp := range m.Label {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}
