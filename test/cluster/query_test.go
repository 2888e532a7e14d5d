package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	ch "github.com/restatego/restate/internal/clusterharness"
)

// sqlRunning reads restate_sql_queries_running from a node's /metrics.
func sqlRunning(n *ch.Node) (float64, error) {
	resp, err := http.Get(n.NodeURL() + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		// The series carries the node labels: restate_sql_queries_running{cluster_name=...} 0
		line := sc.Text()
		if strings.HasPrefix(line, "restate_sql_queries_running ") || strings.HasPrefix(line, "restate_sql_queries_running{") {
			return strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		}
	}
	return 0, fmt.Errorf("no restate_sql_queries_running in /metrics")
}

func postQuery(ctx context.Context, n *ch.Node, q string) (int, string, error) {
	b, _ := json.Marshal(map[string]string{"query": q})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.AdminURL()+"/query", strings.NewReader(string(b)))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("content-type", "application/json")
	req.Header.Set("accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

// TestQueryFanOutEndsWithQuery freezes a node so that another node's query waits on its
// partitions' remote scan (query.scan), and checks that the wait ends with the query: when the
// client hangs up, and at the query timeout, well before the remote scan's own 5 s bound.
func TestQueryFanOutEndsWithQuery(t *testing.T) {
	needCluster(t)
	c := ch.Start(t, ch.Options{Replication: 1, Env: []string{"RESTATE_ADMIN__QUERY_ENGINE__QUERY_TIMEOUT=1s"}})
	n1, n2 := c.Node(1), c.Node(2)
	const q = "SELECT count(*) AS n FROM sys_invocation"
	if code, body, err := postQuery(context.Background(), n1, q); err != nil || code != http.StatusOK {
		t.Fatalf("before: %d %s %v", code, body, err)
	}
	if err := n2.Pause(); err != nil {
		t.Fatal(err)
	}
	defer n2.Resume()

	// The client hangs up after 300 ms: the query on n1 ends then, not when the call to n2
	// gives up.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if code, body, err := postQuery(ctx, n1, q); err == nil {
		t.Fatalf("with n2 frozen the query answered %d %s; the test needs it to wait on n2", code, body)
	}
	hungUp := time.Now()
	for {
		n, err := sqlRunning(n1)
		if err == nil && n == 0 {
			break
		}
		if time.Since(hungUp) > 2*time.Second {
			t.Fatalf("n1 still runs %v queries 2 s after the client hung up (err %v)", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("the query ended %v after the client hung up", time.Since(hungUp))

	// Left to run, the query stops at its 1 s timeout with a 504.
	start := time.Now()
	code, body, err := postQuery(context.Background(), n1, q)
	took := time.Since(start)
	if err != nil || code != http.StatusGatewayTimeout || !strings.Contains(body, "admin.query-engine.query-timeout") {
		t.Fatalf("with n2 frozen: %d %s %v after %v, want a 504 at the 1s timeout", code, body, err, took)
	}
	if took > 3*time.Second {
		t.Errorf("the timeout answered after %v", took)
	}
}
