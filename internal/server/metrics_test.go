package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/restatego/restate/internal/metrics"
)

func counterValue(t *testing.T, labels ...string) float64 {
	t.Helper()
	var m dto.Metric
	if err := metrics.IngressRequests.WithLabelValues(labels...).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestServiceOf(t *testing.T) {
	cases := []struct {
		path, service, rpcType string
		ok                     bool
	}{
		{"/Greeter/Greet", "Greeter", "call", true},
		{"/Greeter/Greet/send", "Greeter", "send", true},
		{"/Counter/k1/Add", "Counter", "call", true},
		{"/Counter/k1/Add/send", "Counter", "send", true},
		{"/restate/health", "", "", false},
		{"/restate/invocation/inv_1abc/attach", "", "", false},
		{"/openapi", "", "", false},
		{"/", "", "", false},
	}
	for _, c := range cases {
		service, rpcType, ok := serviceOf(c.path)
		if service != c.service || rpcType != c.rpcType || ok != c.ok {
			t.Errorf("serviceOf(%q) = %q, %q, %v; want %q, %q, %v", c.path, service, rpcType, ok, c.service, c.rpcType, c.ok)
		}
	}
}

func TestIngressStatus(t *testing.T) {
	cases := []struct {
		code    int
		invoked bool
		want    string
	}{
		{200, true, metrics.IngressCompleted},
		{202, true, metrics.IngressCompleted},
		{418, true, metrics.IngressInvocationError},
		{500, true, metrics.IngressInvocationError},
		{404, false, metrics.IngressRequestError},
		{400, false, metrics.IngressRequestError},
		{503, false, metrics.IngressError},
	}
	for _, c := range cases {
		if got := ingressStatus(c.code, c.invoked); got != c.want {
			t.Errorf("ingressStatus(%d, %v) = %s, want %s", c.code, c.invoked, got, c.want)
		}
	}
}

// Rate-limited requests are counted as such and not admitted; unknown services get no series.
func TestInstrumentIngressCounts(t *testing.T) {
	h := instrumentIngress(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/Busy/x":
			w.WriteHeader(http.StatusTooManyRequests)
		case "/Known/x":
			w.Header().Set("x-restate-id", "inv_1")
			w.Write([]byte("ok"))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}), func(s string) bool { return s == "Known" })
	limited := counterValue(t, metrics.IngressRateLimited, "", "")
	admitted := counterValue(t, metrics.IngressAdmitted, "", "")
	completed := counterValue(t, metrics.IngressCompleted, "Known", "call")
	for _, p := range []string{"/Busy/x", "/Known/x", "/Unknown/x"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", p, nil))
	}
	if d := counterValue(t, metrics.IngressRateLimited, "", "") - limited; d != 1 {
		t.Errorf("rate-limited +%v, want +1", d)
	}
	if d := counterValue(t, metrics.IngressAdmitted, "", "") - admitted; d != 2 {
		t.Errorf("admitted +%v, want +2", d)
	}
	if d := counterValue(t, metrics.IngressCompleted, "Known", "call") - completed; d != 1 {
		t.Errorf("completed +%v, want +1", d)
	}
	for _, status := range []string{metrics.IngressRequestError, metrics.IngressCompleted, metrics.IngressError} {
		if v := counterValue(t, status, "Unknown", "call"); v != 0 {
			t.Errorf("unknown service counted under %s", status)
		}
	}
}
