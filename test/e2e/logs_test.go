package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestJSONLogs: with RESTATE_LOG_FORMAT=json (what Restate's Helm chart sets) every line the
// server writes is one JSON object shaped as Restate's, and the per-target filter applies.
func TestJSONLogs(t *testing.T) {
	s := startServer(t, "RESTATE_LOG_FORMAT=json", "RESTATE_LOG_FILTER=warn,restate=info,restate_ingress_http=off")
	ep := startEndpoint(t, true)
	s.Register(t, ep.URL)
	if r := s.Call(t, "/Greeter/Greet", "log"); r.Status != 200 {
		t.Fatalf("call: %d %s", r.Status, r.Body)
	}
	s.Stop()
	lines := strings.Split(strings.TrimSpace(s.Log()), "\n")
	targets := map[string]bool{}
	for _, l := range lines {
		var rec struct {
			Timestamp, Level, Target string
			Fields                   map[string]any
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("not a JSON line: %v\n%s", err, l)
		}
		if rec.Timestamp == "" || rec.Level == "" || rec.Target == "" || rec.Fields["message"] == nil {
			t.Fatalf("missing timestamp, level, target or fields.message: %s", l)
		}
		targets[rec.Target] = true
		if rec.Level == "DEBUG" || rec.Level == "TRACE" {
			t.Errorf("debug line under restate=info: %s", l)
		}
	}
	if !targets["restate_server"] || targets["restate_ingress_http"] {
		t.Errorf("targets seen: %v; want restate_server and not the silenced restate_ingress_http", targets)
	}
	if len(lines) < 2 {
		t.Errorf("only %d log lines", len(lines))
	}
}

func TestBadLogFilterRefusesToStart(t *testing.T) {
	srv := startServer(t)
	srv.Stop()
	srv.Env = append(srv.Env, "RESTATE_LOG_FILTER=restate=loud")
	out := srv.StartFailing(20 * time.Second)
	if !strings.Contains(out, "log-filter") || !strings.Contains(out, `unknown level "loud"`) {
		t.Fatalf("output does not name the bad filter:\n%s", out)
	}
}
