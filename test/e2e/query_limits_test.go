package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	th "github.com/restatego/restate/internal/testharness"
)

// The query of the reliability report that took a server from 57 MB to 4.4 GB in 18 s.
const tripleCrossJoin = "SELECT * FROM information_schema.columns a, information_schema.columns b, information_schema.columns c"

func sqlQuery(t *testing.T, s *th.Server, q string) th.Response {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"query": q})
	return do(t, http.MethodPost, "http://"+s.Admin+"/query", b, "accept", "application/json")
}

// nodeMetric reads one series from the node port's /metrics. name is the metric's name,
// optionally with labels (`restate_x{reason="cancelled"}`); the series also carries the node
// labels (cluster_name, node_name), which are not matched.
func nodeMetric(t *testing.T, s *th.Server, name string) float64 {
	t.Helper()
	resp, err := client.Get("http://" + s.Node + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	base, labels, _ := strings.Cut(strings.TrimSuffix(name, "}"), "{")
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, base+" ") && !strings.HasPrefix(line, base+"{") {
			continue
		}
		matches := true
		for _, l := range strings.Split(labels, ",") {
			if l != "" && !strings.Contains(line, l) {
				matches = false
			}
		}
		if matches {
			f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestQueryMemoryBudgetAnswers500(t *testing.T) {
	s := startServer(t)
	rssBefore := nodeMetric(t, s, "process_resident_memory_bytes")
	start := time.Now()
	r := sqlQuery(t, s, tripleCrossJoin)
	took := time.Since(start)
	var body struct{ Message string }
	if r.Status != http.StatusInternalServerError || json.Unmarshal(r.Body, &body) != nil ||
		!strings.HasPrefix(body.Message, "query failed: Resources exhausted: the query needs more than the 256 MiB of memory that SQL queries may hold (admin.query-engine.memory-size)") {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	rssAfter := nodeMetric(t, s, "process_resident_memory_bytes")
	t.Logf("answered in %v; RSS %d MiB before, %d MiB after", took, int(rssBefore)>>20, int(rssAfter)>>20)
	if took > 15*time.Second {
		t.Errorf("took %v to answer", took)
	}
	if rssAfter > 800<<20 {
		t.Errorf("RSS reached %d MiB", int(rssAfter)>>20)
	}
	if held := nodeMetric(t, s, "restate_sql_query_memory_bytes"); held != 0 {
		t.Errorf("the pool still holds %v bytes", held)
	}
	// The server is unharmed: the next queries answer.
	if r := sqlQuery(t, s, "SELECT count(*) AS n FROM information_schema.columns"); r.Status != http.StatusOK {
		t.Fatalf("after: %d %s", r.Status, r.Body)
	}

	// A smaller budget from the environment applies and is named in the message.
	s.Stop()
	s.Env = append(s.Env, "RESTATE_ADMIN__QUERY_ENGINE__MEMORY_SIZE=16 MiB")
	s.Start()
	eventually(t, 20*time.Second, func() error {
		r := sqlQuery(t, s, tripleCrossJoin)
		if r.Status != http.StatusInternalServerError || !strings.Contains(string(r.Body), "the 16 MiB of memory") {
			return fmt.Errorf("%d %s", r.Status, r.Body)
		}
		return nil
	})
}

func TestQueryTimeoutAnswers504(t *testing.T) {
	// With a pool of 2 GiB the join runs for seconds: the timeout stops it first.
	s := startServer(t, "RESTATE_ADMIN__QUERY_ENGINE__MEMORY_SIZE=2 GiB", "RESTATE_ADMIN__QUERY_ENGINE__QUERY_TIMEOUT=500ms")
	start := time.Now()
	r := sqlQuery(t, s, "SELECT count(*) FROM information_schema.columns a, information_schema.columns b, information_schema.columns c WHERE a.column_name = 'x'")
	took := time.Since(start)
	if r.Status != http.StatusGatewayTimeout || !strings.Contains(string(r.Body), "the query ran longer than 500ms (admin.query-engine.query-timeout)") {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	t.Logf("answered after %v", took)
	if took > 5*time.Second {
		t.Errorf("took %v", took)
	}
	if n := nodeMetric(t, s, "restate_sql_queries_running"); n != 0 {
		t.Errorf("%v queries still running", n)
	}
}

// A client that gives up on a long query ends it: the query stops within a moment, its memory
// goes back, and the server answers the next query at once.
func TestQueryEndsWhenClientDisconnects(t *testing.T) {
	s := startServer(t, "RESTATE_ADMIN__QUERY_ENGINE__MEMORY_SIZE=2 GiB", "RESTATE_ADMIN__QUERY_ENGINE__QUERY_TIMEOUT=10m")
	b, _ := json.Marshal(map[string]string{"query": tripleCrossJoin + " ORDER BY a.column_name"})
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.Admin+"/query", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("content-type", "application/json")
	done := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	// Wait until the query runs and holds memory, then hang up.
	eventually(t, 10*time.Second, func() error {
		if held := nodeMetric(t, s, "restate_sql_query_memory_bytes"); held < 32<<20 {
			return fmt.Errorf("query holds %v bytes", held)
		}
		return nil
	})
	cancel()
	hungUp := time.Now()
	<-done
	eventually(t, 5*time.Second, func() error {
		if n := nodeMetric(t, s, "restate_sql_queries_running"); n != 0 {
			return fmt.Errorf("%v queries running", n)
		}
		if held := nodeMetric(t, s, "restate_sql_query_memory_bytes"); held != 0 {
			return fmt.Errorf("queries hold %v bytes", held)
		}
		return nil
	})
	t.Logf("query ended %v after the client hung up", time.Since(hungUp))
	if n := nodeMetric(t, s, `restate_sql_queries_stopped_total{reason="cancelled"}`); n != 1 {
		t.Errorf("cancelled queries = %v, want 1", n)
	}
	start := time.Now()
	if r := sqlQuery(t, s, "SELECT table_name FROM information_schema.tables"); r.Status != http.StatusOK {
		t.Fatalf("next query: %d %s", r.Status, r.Body)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("next query took %v", took)
	}
}
