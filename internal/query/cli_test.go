package query

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"

	"github.com/restatego/restate/internal/ids"
	"strings"
	"testing"
	"time"
)

// The official restate CLI against Handler. Set RESTATE_CLI to the binary of
// @restatedev/restate (e.g. 1.7.12) to run these; they are skipped otherwise.

// Invocation ids of the CLI fixture; the CLI parses them, so they must be real ids.
var (
	cliRunning    = ids.DeterministicInvocationID(7, "running").String()
	cliCompleted  = ids.DeterministicInvocationID(7, "completed").String()
	cliBackoff    = ids.DeterministicInvocationID(7, "backing-off").String()
	cliSuspended  = ids.DeterministicInvocationID(7, "suspended").String()
	cliDeployment = ids.NewDeploymentID()
)

// cliFixture holds invocations, journal and state resembling a running server.
func cliFixture() []Table {
	now := time.Now().UnixMilli()
	inv := func(id, status, svc, key, handler, ty string, created int64) Row {
		b := newRowBuilder(sysInvocationColumns)()
		b.set("partition_key", Uint(7))
		b.set("id", String(id))
		b.set("status", String(status))
		target := svc + "/" + handler
		if key != "" {
			target = svc + "/" + key + "/" + handler
			b.set("target_service_key", String(key))
		}
		b.set("target", String(target))
		b.set("target_service_name", String(svc))
		b.set("target_handler_name", String(handler))
		b.set("target_service_ty", String(ty))
		b.set("invoked_by", String("ingress"))
		b.set("created_at", Timestamp(created))
		b.set("modified_at", Timestamp(created+10))
		b.set("journal_size", Uint32(3))
		if status == "completed" {
			b.set("completion_result", String("success"))
			b.set("completed_at", Timestamp(created+20))
		}
		if status == "backing-off" {
			b.set("retry_count", Uint(3))
			b.set("next_retry_at", Timestamp(now+60000))
			b.set("last_failure", String("[500] boom"))
			b.set("last_failure_error_code", String("500"))
			b.set("last_start_at", Timestamp(now-1000))
		}
		if status == "running" {
			b.set("last_start_at", Timestamp(now-1000))
			b.set("retry_count", Uint(0))
		}
		return b.row
	}
	invRows := []Row{
		inv(cliRunning, "running", "Greeter", "", "greet", "service", now-5000),
		inv(cliCompleted, "completed", "Greeter", "", "greet", "service", now-9000),
		inv(cliBackoff, "backing-off", "Counter", "alice", "add", "virtual_object", now-3000),
		inv(cliSuspended, "suspended", "Counter", "bob", "add", "virtual_object", now-2000),
	}
	statusRows := make([]Row, 0, len(invRows))
	statusIdx := newRowBuilder(sysInvocationStatusColumns)
	for _, r := range invRows {
		b := statusIdx()
		for i, c := range sysInvocationColumns {
			b.set(c.Name, r[i])
		}
		if st := r[2].Str(); st == "running" || st == "backing-off" {
			b.set("status", String("invoked"))
		}
		statusRows = append(statusRows, b.row)
	}
	journal := func(id string, index uint32, ty, name string) Row {
		b := newRowBuilder(sysJournalColumns)()
		b.set("partition_key", Uint(7))
		b.set("id", String(id))
		b.set("index", Uint32(index))
		b.set("entry_type", String(ty))
		b.set("name", OptString(name))
		b.set("version", Uint32(2))
		return b.row
	}
	stateRow := func(svc, key, k, v string) Row {
		return Row{Uint(9), String(svc), String(key), String(k), String(v), Bytes([]byte(v))}
	}
	return []Table{
		&StaticTable{TableName: "sys_invocation", Cols: sysInvocationColumns, Rows: invRows},
		&StaticTable{TableName: "sys_invocation_status", Cols: sysInvocationStatusColumns, Rows: statusRows},
		&StaticTable{TableName: "sys_journal", Cols: sysJournalColumns, Rows: []Row{
			journal(cliBackoff, 0, "Command: Input", ""),
			journal(cliBackoff, 1, "Command: Run", "fetch-user"),
			journal(cliBackoff, 2, "Notification: Run", ""),
		}},
		&StaticTable{TableName: "state", Cols: stateColumns, Rows: []Row{
			stateRow("Counter", "alice", "count", "42"),
			stateRow("Counter", "bob", "count", "7"),
		}},
		&StaticTable{TableName: "sys_inbox", Cols: sysInboxColumns},
		&StaticTable{TableName: "sys_service", Cols: sysServiceColumns, Rows: []Row{
			{String("Greeter"), Uint(1), Bool(true), String("service"), String(cliDeployment)},
			{String("Counter"), Uint(1), Bool(true), String("virtual_object"), String(cliDeployment)},
		}},
		&StaticTable{TableName: "sys_deployment", Cols: sysDeploymentColumns, Rows: []Row{
			{String(cliDeployment), String("http"), String("http://localhost:9080/"), Timestamp(now - 100000), Uint32(5), Uint32(6)},
		}},
	}
}

// cliServer serves the query handler plus the few admin routes the CLI reads first.
func cliServer(t *testing.T, version string, logQueries bool) *httptest.Server {
	h := Handler(cliFixture()...)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"version":%q,"min_admin_api_version":1,"max_admin_api_version":2,"ingress_endpoint":"http://127.0.0.1:8080/"}`, version)
	})
	query := func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
	}
	if logQueries {
		inner := query
		query = func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			body, _ := readAll(r)
			t.Logf("query (Accept %q): %s", r.Header.Get("Accept"), body)
			r.Body = nopCloser(body)
			inner(rec, r)
			if rec.Code != http.StatusOK {
				t.Logf("  -> %d %s", rec.Code, rec.Body.String())
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		}
	}
	mux.HandleFunc("POST /query", query)
	mux.HandleFunc("POST /v2/query", query)
	services := `{"name":"Counter","ty":"VirtualObject","handlers":[{"name":"add","ty":"Exclusive","public":true,"input_description":"","output_description":""}],"deployment_id":"` + cliDeployment + `","revision":1,"public":true,"idempotency_retention":"1d","inactivity_timeout":"1m","abort_timeout":"10m","retry_policy":{"initial_interval":"50ms","exponentiation_factor":2.0,"max_interval":"1m","on_max_attempts":"Pause"}}`
	mux.HandleFunc("GET /services", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"services":[`+services+`]}`)
	})
	mux.HandleFunc("GET /services/Counter", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, services)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Logf("unhandled %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func runCLI(t *testing.T, srv *httptest.Server, args ...string) string {
	t.Helper()
	bin := os.Getenv("RESTATE_CLI")
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("RESTATE_CLI is not set; .ci/run installs the official restate CLI for this test")
		}
		t.Skip("RESTATE_CLI is not set")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "RESTATE_ADMIN_URL="+srv.URL, "RESTATE_INGRESS_URL=http://127.0.0.1:1", "NO_COLOR=1", "TERM=dumb")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("restate %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Servers before 1.5 get one CTE query with a RIGHT JOIN; newer ones a two-step lookup.
var cliServerVersions = []string{"1.4.4", "1.5.6", "1.7.0"}

func TestCLIInvocationsList(t *testing.T) {
	for _, version := range cliServerVersions {
		t.Run(version, func(t *testing.T) {
			srv := cliServer(t, version, testing.Verbose())
			out := runCLI(t, srv, "invocations", "list")
			for _, want := range []string{cliRunning, cliBackoff,
				"Counter/alice/add", "backing-off", "[500] boom", "Showing 3/3 invocations"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, cliCompleted) {
				t.Errorf("completed invocation listed by default:\n%s", out)
			}
			out = runCLI(t, srv, "invocations", "list", "--all", "--service", "Greeter")
			if !strings.Contains(out, cliCompleted) || strings.Contains(out, "Counter/") {
				t.Errorf("--all --service Greeter:\n%s", out)
			}
			out = runCLI(t, srv, "invocations", "list", "--virtual-objects-only", "--status", "suspended")
			if !strings.Contains(out, cliSuspended) || strings.Contains(out, cliBackoff) || strings.Contains(out, "Greeter") {
				t.Errorf("--virtual-objects-only --status suspended:\n%s", out)
			}
		})
	}
}

func TestCLIInvocationDescribe(t *testing.T) {
	for _, version := range cliServerVersions {
		t.Run(version, func(t *testing.T) {
			srv := cliServer(t, version, testing.Verbose())
			out := runCLI(t, srv, "invocations", "describe", cliBackoff)
			for _, want := range []string{"Counter/alice/add", "backing-off", "fetch-user", "Run"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			t.Log(out)
		})
	}
}

func TestCLIStateGet(t *testing.T) {
	srv := cliServer(t, "1.5.6", testing.Verbose())
	out := runCLI(t, srv, "kv", "get", "Counter", "alice")
	if !strings.Contains(out, "count") || !strings.Contains(out, "42") || strings.Contains(out, "bob") {
		t.Errorf("kv get Counter alice:\n%s", out)
	}
	t.Log(out)
}

func TestCLIServiceStatus(t *testing.T) {
	srv := cliServer(t, "1.5.6", testing.Verbose())
	out := runCLI(t, srv, "services", "status", "Counter")
	for _, want := range []string{"add", "alice"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	t.Log(out)
}

// TestCLISQL reads every column type through Arrow IPC with the CLI's Arrow reader, in the
// table view and as Arrow's own JSON rendering.
func TestCLISQL(t *testing.T) {
	srv := cliServer(t, "1.5.6", testing.Verbose())
	q := `SELECT id, index, entry_type, name, version, raw, partition_key, CAST(NULL AS STRING) AS nothing,
		1.5 AS f, -3 AS i, true AS b, TIMESTAMP '2024-05-06T07:08:09.123Z' AS ts, completed
		FROM sys_journal ORDER BY index`
	out := runCLI(t, srv, "sql", "--jsonl", q)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var rows []string
	for _, l := range lines {
		if strings.HasPrefix(l, "{") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 3 {
		t.Fatalf("want 3 JSON rows, got:\n%s", out)
	}
	// Arrow's JSON writer and ours must agree on every value.
	res, err := NewEngine(cliFixture()...).Query(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	ours := string(EncodeJSONRows(res.Columns, res.Rows))
	for _, r := range rows {
		if !strings.Contains(ours, r) {
			t.Errorf("Arrow rendered %s, not in ours:\n%s", r, ours)
		}
	}
	out = runCLI(t, srv, "sql", "SELECT COUNT(*) AS n, MAX(created_at) AS newest, SUM(journal_size) AS js FROM sys_invocation")
	if !strings.Contains(out, "4") || !strings.Contains(out, "NEWEST") {
		t.Errorf("table output:\n%s", out)
	}
	t.Log(out)
	out = runCLI(t, srv, "sql", "SELECT id FROM sys_invocation WHERE id = 'nope'")
	if !strings.Contains(out, "0 rows") {
		t.Errorf("empty answer:\n%s", out)
	}
}
func readAll(r *http.Request) ([]byte, error) {
	defer r.Body.Close()
	var b strings.Builder
	_, err := io.Copy(&b, r.Body)
	return []byte(b.String()), err
}

func nopCloser(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }
