package metrics

import (
	"bufio"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func loadServed(t *testing.T) ([]Served, []Unserved) {
	t.Helper()
	f, err := os.Open("testdata/served.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	served, unserved, err := ParseServedList(f)
	if err != nil {
		t.Fatal(err)
	}
	return served, unserved
}

func dashboardNames(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("testdata/restate-dashboard-names.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			names = append(names, l)
		}
	}
	return names
}

// Every name a stock Restate dashboard queries is either served (a summary's _count and _sum
// count as the summary) or listed as unserved with a reason.
func TestDashboardNamesAreClassified(t *testing.T) {
	served, unserved := loadServed(t)
	byName := map[string]Served{}
	for _, s := range served {
		byName[s.Name] = s
	}
	names := dashboardNames(t)
	if len(names) < 50 {
		t.Fatalf("only %d dashboard names: testdata is truncated", len(names))
	}
	for _, n := range names {
		if _, ok := byName[n]; ok {
			continue
		}
		base := strings.TrimSuffix(strings.TrimSuffix(n, "_count"), "_sum")
		if s, ok := byName[base]; ok && s.Type == "summary" {
			continue
		}
		covered := false
		for _, u := range unserved {
			covered = covered || u.Covers(n)
		}
		if !covered {
			t.Errorf("dashboard metric %s is neither served nor listed as unserved in testdata/served.txt", n)
		}
	}
}

// The definitions registered by this package match the served list: same type and labels.
func TestDefinitionsMatchServedList(t *testing.T) {
	served, _ := loadServed(t)
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf
	}
	// Families with labels appear once a series exists; create one of each listed here.
	IngressRequests.WithLabelValues(IngressCompleted, "Greeter", "call")
	IngressRequestDuration.WithLabelValues("Greeter", "call")
	mfs, _ = prometheus.DefaultGatherer.Gather()
	for _, mf := range mfs {
		got[mf.GetName()] = mf
	}
	for _, want := range []string{"restate_ingress_requests_total", "restate_ingress_request_duration_seconds",
		"restate_invoker_task_duration_seconds", "restate_bifrost_sequencer_append_duration_seconds"} {
		if got[want] == nil {
			t.Errorf("%s is not registered", want)
		}
	}
	for _, s := range served {
		mf := got[s.Name]
		if mf == nil {
			continue // defined in internal/server or labelled and unused here; the e2e test checks them
		}
		if typ := strings.ToLower(mf.GetType().String()); typ != s.Type {
			t.Errorf("%s: type %s, Restate's is %s", s.Name, typ, s.Type)
		}
		if len(mf.Metric) == 0 {
			continue
		}
		var labels []string
		for _, lp := range mf.Metric[0].Label {
			labels = append(labels, lp.GetName())
		}
		if strings.Join(labels, ",") != strings.Join(s.Labels, ",") {
			t.Errorf("%s: labels %v, Restate's are %v", s.Name, labels, s.Labels)
		}
	}
}

func TestParseServedListErrors(t *testing.T) {
	for _, bad := range []string{
		"restate_x counter",
		"restate_x kind -",
		"restate_x counter - when=later",
		"unserved restate_x",
	} {
		if _, _, err := ParseServedList(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestHandlerAddsNodeLabelsAndNegotiatesOpenMetrics(t *testing.T) {
	SetNode("c1", "n7")
	IngressRequests.WithLabelValues(IngressAdmitted, "", "").Inc()
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	get := func(accept string) (string, string) {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.Header.Get("Content-Type"), string(b)
	}
	ct, body := get("")
	if !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("default content type %q", ct)
	}
	if !strings.Contains(body, `restate_ingress_requests_total{cluster_name="c1",node_name="n7",rpc_service="",rpc_type="",status="admitted"}`) {
		t.Errorf("no node labels on restate_ingress_requests_total:\n%s", grepLines(body, "restate_ingress_requests_total"))
	}
	if strings.Contains(body, `go_goroutines{cluster_name`) {
		t.Error("node labels added to a non-Restate family")
	}
	ct, body = get("application/openmetrics-text; version=1.0.0; charset=utf-8")
	if !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Errorf("OpenMetrics content type %q", ct)
	}
	if !strings.HasSuffix(body, "# EOF\n") || !strings.Contains(body, "# TYPE restate_ingress_requests counter") {
		t.Errorf("not OpenMetrics:\n%s", grepLines(body, "restate_ingress_requests"))
	}
}

func grepLines(body, sub string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestQuantiles(t *testing.T) {
	desc := prometheus.NewDesc("restate_test_quantiles", "test", []string{"quantile"}, nil)
	collect := func(values []float64) map[string]float64 {
		ch := make(chan prometheus.Metric, 8)
		Quantiles(ch, desc, values)
		close(ch)
		out := map[string]float64{}
		for m := range ch {
			var pb dto.Metric
			if err := m.Write(&pb); err != nil {
				t.Fatal(err)
			}
			out[pb.Label[0].GetValue()] = pb.GetGauge().GetValue()
		}
		return out
	}
	var values []float64
	for i := 1; i <= 100; i++ {
		values = append(values, float64(101-i)) // unsorted on purpose
	}
	got := collect(values)
	want := map[string]float64{"0.5": 50, "0.9": 90, "0.99": 99, "1.0": 100}
	for q, v := range want {
		if got[q] != v {
			t.Errorf("quantile %s = %v, want %v", q, got[q], v)
		}
	}
	if got := collect([]float64{7}); got["0.5"] != 7 || got["1.0"] != 7 {
		t.Errorf("one value: %v", got)
	}
	if got := collect(nil); !math.IsNaN(got["0.5"]) || len(got) != 4 {
		t.Errorf("no values: %v, want four NaN", got)
	}
}
