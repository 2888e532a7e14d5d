package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	th "github.com/restatego/restate/internal/testharness"
)

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// expect401 checks a refusal: status, challenge and a JSON body in the API's error shape.
func expect401(t *testing.T, r th.Response, realm string, invalid bool, bodyField string) {
	t.Helper()
	want := `Bearer realm="` + realm + `"`
	if invalid {
		want += `, error="invalid_token"`
	}
	if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") != want {
		t.Fatalf("want 401 with %q, got %d %q %s", want, r.Status, r.Header.Get("WWW-Authenticate"), r.Body)
	}
	m := r.JSON(t)
	if msg, _ := m["message"].(string); msg == "" {
		t.Fatalf("401 body without message: %s", r.Body)
	}
	if _, ok := m[bodyField]; !ok {
		t.Fatalf("401 body lacks %q: %s", bodyField, r.Body)
	}
}

func registerWith(t *testing.T, s *th.Server, body any, header ...string) th.Response {
	t.Helper()
	b, _ := json.Marshal(body)
	return do(t, http.MethodPost, "http://"+s.Admin+"/deployments", b, header...)
}

func TestBearerTokens(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "admin-tokens")
	if err := os.WriteFile(tokenFile, []byte("# admin tokens\nadmin-token-one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t,
		"RESTATE_ADMIN__AUTH_TOKENS_FILE="+tokenFile,
		"RESTATE_INGRESS__AUTH_TOKENS=ingress-token-one")
	ep := startEndpoint(t, true)
	admin := "http://" + s.Admin

	// Admin: refused without, or with a wrong, token; /health stays open.
	expect401(t, do(t, "GET", admin+"/deployments", nil), "restate-admin", false, "restate_code")
	expect401(t, do(t, "GET", admin+"/v2/deployments", nil, bearer("nope")...), "restate-admin", true, "restate_code")
	expect401(t, do(t, "GET", admin+"/version", nil, bearer("ingress-token-one")...), "restate-admin", true, "restate_code")
	expect401(t, registerWith(t, s, map[string]any{"uri": ep.URL}), "restate-admin", false, "restate_code")
	if r := do(t, "GET", admin+"/health", nil); r.Status != 200 {
		t.Fatalf("admin /health: %d", r.Status)
	}
	if r := registerWith(t, s, map[string]any{"uri": ep.URL}, bearer("admin-token-one")...); r.Status != 201 {
		t.Fatalf("register with token: %d %s", r.Status, r.Body)
	}

	// Ingress: its own tokens.
	expect401(t, s.Call(t, "/Greeter/Greet", "bob"), "restate-ingress", false, "source")
	expect401(t, s.Call(t, "/Greeter/Greet", "bob", bearer("admin-token-one")...), "restate-ingress", true, "source")
	if r := s.Call(t, "/Greeter/Greet", "bob", bearer("ingress-token-one")...); r.Status != 200 || string(r.Body) != `"hello bob"` {
		t.Fatalf("call with token: %d %s", r.Status, r.Body)
	}
	if r := do(t, "GET", "http://"+s.Ingress+"/restate/health", nil); r.Status != 200 {
		t.Fatalf("ingress health: %d %s", r.Status, r.Body)
	}

	// Rotation without a restart: the new token works and the old one stops working.
	if err := os.WriteFile(tokenFile+".tmp", []byte("admin-token-two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tokenFile+".tmp", tokenFile); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	eventually(t, 10*time.Second, func() error {
		if r := do(t, "GET", admin+"/deployments", nil, bearer("admin-token-two")...); r.Status != 200 {
			return fmt.Errorf("new token: %d", r.Status)
		}
		return nil
	})
	t.Logf("rotation took effect after %v", time.Since(start).Round(time.Millisecond))
	expect401(t, do(t, "GET", admin+"/deployments", nil, bearer("admin-token-one")...), "restate-admin", true, "restate_code")

	// The file going away keeps the last good tokens, with a warning in the log.
	os.Remove(tokenFile)
	logPath := filepath.Join(s.Dir, "server.log")
	eventually(t, 10*time.Second, func() error {
		if r := do(t, "GET", admin+"/deployments", nil, bearer("admin-token-two")...); r.Status != 200 {
			t.Fatalf("last good token refused after the file vanished: %d", r.Status)
		}
		b, _ := os.ReadFile(logPath)
		if !strings.Contains(string(b), "cannot reload the token file") || !strings.Contains(string(b), tokenFile) {
			return fmt.Errorf("no warning naming the file yet")
		}
		return nil
	})
	b, _ := os.ReadFile(logPath)
	for _, tok := range []string{"admin-token-one", "admin-token-two", "ingress-token-one"} {
		if strings.Contains(string(b), tok) {
			t.Errorf("the log contains token %q", tok)
		}
	}
}

// runBinary runs restate-server with args and env and returns its output and exit code; it
// must exit within the timeout.
func runBinary(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, th.ServerBinary(), args...)
	cmd.Env = append(os.Environ(), append([]string{
		"RESTATE_BASE_DIR=" + filepath.Join(dir, "data"),
		"RESTATE_BIND_ADDRESS=" + freePort(t), "RESTATE_ADMIN__BIND_ADDRESS=" + freePort(t),
		"RESTATE_INGRESS__BIND_ADDRESS=" + freePort(t),
	}, env...)...)
	cmd.Dir = dir
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("restate-server %v did not exit", args)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func TestUnreadableTokenFileStopsStart(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-tokens")
	_, stderr, code := runBinary(t, []string{"RESTATE_INGRESS__AUTH_TOKENS_FILE=" + missing})
	if code == 0 || !strings.Contains(stderr, missing) || !strings.Contains(stderr, "ingress.auth-tokens-file") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestPprofIsOptIn(t *testing.T) {
	off := startServer(t)
	if r := do(t, "GET", "http://"+off.Node+"/debug/pprof/", nil); r.Status != http.StatusNotFound {
		t.Fatalf("pprof without enable-pprof: %d", r.Status)
	}
	if r := do(t, "GET", "http://"+off.Node+"/metrics", nil); r.Status != 200 {
		t.Fatalf("metrics: %d", r.Status)
	}
	on := startServer(t, "RESTATE_ENABLE_PPROF=true")
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/heap"} {
		if r := do(t, "GET", "http://"+on.Node+path, nil); r.Status != 200 {
			t.Fatalf("%s with enable-pprof: %d", path, r.Status)
		}
	}
}

// Deployment credentials (URI user info, credential headers) are used for the calls but never
// shown: not in admin answers, SQL, error messages, logs or --dump-config.
func TestCredentialsNeverShown(t *testing.T) {
	s := startServer(t)
	ep := startEndpoint(t, true)
	uri := strings.Replace(ep.URL, "http://", "http://svcuser:pa55word@", 1)
	r := registerWith(t, s, map[string]any{"uri": uri, "additional_headers": map[string]string{
		"Authorization": "Bearer hdr-s3cret", "X-Route": "blue"}})
	if r.Status != 201 {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	if r := s.Call(t, "/Greeter/Greet", "bob"); r.Status != 200 || string(r.Body) != `"hello bob"` {
		t.Fatalf("call through the credentialed deployment: %d %s", r.Status, r.Body)
	}
	secrets := []string{"pa55word", "svcuser", "hdr-s3cret"}
	check := func(what string, body []byte) {
		t.Helper()
		for _, sec := range secrets {
			if strings.Contains(string(body), sec) {
				t.Errorf("%s shows %q: %s", what, sec, body)
			}
		}
	}
	list := s.AdminDo(t, "GET", "/deployments", nil)
	check("GET /deployments", list.Body)
	if !strings.Contains(string(list.Body), "REDACTED@") || !strings.Contains(string(list.Body), `"x-route":"blue"`) {
		t.Errorf("deployments: %s", list.Body)
	}
	id := list.JSON(t)["deployments"].([]any)[0].(map[string]any)["id"].(string)
	check("GET /deployments/{id}", s.AdminDo(t, "GET", "/deployments/"+id, nil).Body)
	check("GET /services", s.AdminDo(t, "GET", "/services", nil).Body)
	q := do(t, "POST", "http://"+s.Admin+"/query", []byte(`{"query":"SELECT * FROM sys_deployment"}`), "Accept", "application/json")
	if q.Status != 200 || !strings.Contains(string(q.Body), "REDACTED@") {
		t.Errorf("sys_deployment: %d %s", q.Status, q.Body)
	}
	check("sys_deployment", q.Body)

	// A failed registration's message names the address without the credentials.
	dead := "http://svcuser:pa55word@" + freePort(t) + "/"
	r = registerWith(t, s, map[string]any{"uri": dead})
	if r.Status < 400 || !strings.Contains(string(r.Body), "REDACTED@") {
		t.Errorf("failed registration: %d %s", r.Status, r.Body)
	}
	check("failed registration", r.Body)
	logs, _ := os.ReadFile(filepath.Join(s.Dir, "server.log"))
	check("server log", logs)

	// --dump-config shows the token file's path and how many inline tokens there are, never
	// the tokens or the file's content.
	tokenFile := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(tokenFile, []byte("file-token-value\n"), 0o600)
	keyFile := filepath.Join(t.TempDir(), "identity.pem")
	os.WriteFile(keyFile, []byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIPEMKEYBODYSECRETx\n-----END PRIVATE KEY-----\n"), 0o600)
	out, stderr, code := runBinary(t, []string{
		"RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE=" + keyFile,
		"RESTATE_ADMIN__AUTH_TOKENS_FILE=" + tokenFile,
		"RESTATE_ADMIN__AUTH_TOKENS=[inline-token-a, inline-token-b]",
		"RESTATE_INGRESS__AUTH_TOKENS=inline-token-c",
	}, "--dump-config")
	if code != 0 {
		t.Fatalf("--dump-config: exit %d %s", code, stderr)
	}
	for _, sec := range []string{"file-token-value", "inline-token-a", "inline-token-b", "inline-token-c", "PEMKEYBODYSECRET"} {
		if strings.Contains(out+stderr, sec) {
			t.Errorf("--dump-config shows %q:\n%s", sec, out)
		}
	}
	if !strings.Contains(out, `auth-tokens-file = "`+tokenFile+`"`) || !strings.Contains(out, `auth-tokens = ["[redacted]", "[redacted]"]`) {
		t.Errorf("--dump-config:\n%s", out)
	}
}

func TestDeploymentAllowList(t *testing.T) {
	ep := startEndpoint(t, true)
	s := startServer(t, "RESTATE_DEPLOYMENT_ALLOWED_ADDRESSES=[10.0.0.0/8, *.svc.cluster.local]")
	r := registerWith(t, s, map[string]any{"uri": ep.URL})
	if r.Status != 400 || !strings.Contains(string(r.Body), "127.0.0.1") || !strings.Contains(string(r.Body), "deployment-allowed-addresses") {
		t.Fatalf("loopback under 10/8: %d %s", r.Status, r.Body)
	}
	r = registerWith(t, s, map[string]any{"uri": strings.Replace(ep.URL, "127.0.0.1", "localhost", 1)})
	if r.Status != 400 || !strings.Contains(string(r.Body), "resolved from localhost") {
		t.Fatalf("localhost under 10/8: %d %s", r.Status, r.Body)
	}

	// Allowed: registration and calls work.
	s.Stop()
	s.Env = append(s.Env, "RESTATE_DEPLOYMENT_ALLOWED_ADDRESSES=[127.0.0.0/8]")
	s.Start()
	s.Register(t, ep.URL)
	if r := s.Call(t, "/Greeter/Greet", "bob"); r.Status != 200 {
		t.Fatalf("call: %d %s", r.Status, r.Body)
	}

	// Narrowed after registration: the invoker's dialer refuses the registered deployment.
	s.Stop()
	s.Env = append(s.Env, "RESTATE_DEPLOYMENT_ALLOWED_ADDRESSES=[10.0.0.0/8]")
	s.Start()
	if r := s.Call(t, "/Greeter/Greet/send", "eve"); r.Status != http.StatusAccepted {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	eventually(t, 20*time.Second, func() error {
		q := do(t, "POST", "http://"+s.Admin+"/query",
			[]byte(`{"query":"SELECT last_failure FROM sys_invocation WHERE last_failure IS NOT NULL"}`), "Accept", "application/json")
		if !strings.Contains(string(q.Body), "not allowed by deployment-allowed-addresses") {
			return fmt.Errorf("no refusal recorded yet: %s", q.Body)
		}
		return nil
	})
}

// The official restate CLI sends a bearer token from RESTATE_AUTH_TOKEN or from bearer_token
// in its environment config file; both work against a token-protected admin API.
func TestRestateCLIWithToken(t *testing.T) {
	bin := os.Getenv("RESTATE_CLI")
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("RESTATE_CLI is not set; .ci/run installs the official restate CLI for this test")
		}
		t.Skip("RESTATE_CLI is not set")
	}
	s := startServer(t, "RESTATE_ADMIN__AUTH_TOKENS=cli-token")
	ep := startEndpoint(t, true)
	if r := registerWith(t, s, map[string]any{"uri": ep.URL}, bearer("cli-token")...); r.Status != 201 {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	home := t.TempDir()
	run := func(env ...string) (string, error) {
		cmd := exec.Command(bin, "services", "list")
		// Only what the test sets: no CLI settings inherited from the machine.
		var base []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "RESTATE_") {
				base = append(base, kv)
			}
		}
		cmd.Env = append(base, append([]string{"RESTATE_CLI_CONFIG_HOME=" + home, "NO_COLOR=1", "TERM=dumb"}, env...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	adminURL := "http://" + s.Admin
	out, err := run("RESTATE_ADMIN_URL="+adminURL, "RESTATE_AUTH_TOKEN=cli-token")
	if err != nil || !strings.Contains(out, "Greeter") {
		t.Fatalf("with RESTATE_AUTH_TOKEN: %v\n%s", err, out)
	}
	out, err = run("RESTATE_ADMIN_URL="+adminURL, "RESTATE_AUTH_TOKEN=wrong")
	if err == nil || strings.Contains(out, "Greeter") {
		t.Fatalf("with a wrong token the CLI succeeded:\n%s", out)
	}
	t.Logf("CLI with a wrong token:\n%s", out)
	// bearer_token in the config file's environment table.
	config := fmt.Sprintf("[local]\nadmin_base_url = %q\nbearer_token = \"cli-token\"\n", adminURL+"/")
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run()
	if err != nil || !strings.Contains(out, "Greeter") {
		t.Fatalf("with bearer_token in config.toml: %v\n%s", err, out)
	}
}
