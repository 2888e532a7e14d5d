package authn

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseTokens(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string
		err      string
	}{
		{"empty", "", nil, ""},
		{"comments and blanks", "# admin tokens\n\n  tok-1  \n\t# old: removed\r\ntok-2\r\n", []string{"tok-1", "tok-2"}, ""},
		{"bom and no final newline", "\xef\xbb\xbfabc", []string{"abc"}, ""},
		{"duplicates dropped", "a\nb\na\n", []string{"a", "b"}, ""},
		{"hash inside token", "abc#def\n", []string{"abc#def"}, ""},
		{"jwt-like", "eyJhbGciOi.eyJzdWIi.sig_-+/=\n", []string{"eyJhbGciOi.eyJzdWIi.sig_-+/="}, ""},
		{"trailing comment", "tok # note\n", nil, "line 1: a token cannot contain spaces"},
		{"control byte", "ok\nbad\x01tok\n", nil, "line 2: a token must be printable ASCII; found byte 0x01 at column 4"},
		{"non-ascii", "tökén\n", nil, "line 1: a token must be printable ASCII"},
		{"placeholder", "[redacted]\n", nil, "placeholder"},
	}
	for _, c := range cases {
		got, err := ParseTokens([]byte(c.in))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one containing %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	if _, err := ParseTokens(bytes.Repeat([]byte("a"), MaxTokenFileSize+1)); err == nil {
		t.Error("an oversized file parses")
	}
}

func TestParseErrorsNeverEchoTheLine(t *testing.T) {
	_, err := ParseTokens([]byte("secret-part-one secret-part-two\n"))
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("error %v repeats the line", err)
	}
}

func FuzzParseTokens(f *testing.F) {
	for _, s := range []string{"", "a\nb\n", "# c\n tok \r\n", "\xef\xbb\xbfx", "a b", "\x00", "[redacted]", "é"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tokens, err := ParseTokens(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, tok := range tokens {
			if tok == "" || strings.ContainsAny(tok, " \t\r\n") || tok[0] == '#' || seen[tok] {
				t.Fatalf("bad token %q from %q", tok, data)
			}
			seen[tok] = true
			// A file of exactly the parsed tokens parses to the same list.
			if err := checkToken(tok); err != nil {
				t.Fatalf("accepted token %q fails its own check: %v", tok, err)
			}
		}
		again, err := ParseTokens([]byte(strings.Join(tokens, "\n")))
		if err != nil || len(again) != len(tokens) {
			t.Fatalf("re-parsing %q: %q, %v", tokens, again, err)
		}
	})
}

// fakeClock is a manually advanced clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// logBuffer collects log output safely.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func TestTokenFileRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("# v1\nold-token\n")
	clock := &fakeClock{now: time.Unix(1000, 0)}
	var logs logBuffer
	toks, err := NewTokens(Options{File: path, Setting: "admin.auth-tokens-file", Tokens: []string{"inline"},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if !toks.Valid("old-token") || !toks.Valid("inline") || toks.Valid("new-token") || toks.Valid("") || toks.Valid("old-toke") {
		t.Fatal("initial tokens wrong")
	}

	// Rewritten: not looked at until the interval passed, then both changes apply.
	write("new-token\n")
	// Make sure the file looks changed even on a file system with coarse timestamps.
	os.Chtimes(path, time.Now().Add(time.Hour), time.Now().Add(time.Hour))
	if !toks.Valid("old-token") {
		t.Fatal("the file was re-read before the check interval passed")
	}
	clock.Add(1100 * time.Millisecond)
	if toks.Valid("old-token") || !toks.Valid("new-token") || !toks.Valid("inline") {
		t.Fatal("rotation not applied")
	}

	// Unreadable (removed): the last good list stays, with one warning.
	os.Remove(path)
	for range 3 {
		clock.Add(2 * time.Second)
		if !toks.Valid("new-token") {
			t.Fatal("last good tokens dropped after the file vanished")
		}
	}
	if n := strings.Count(logs.String(), "cannot reload the token file"); n != 1 {
		t.Fatalf("want one warning, got %d:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), path) {
		t.Fatalf("warning does not name the file:\n%s", logs.String())
	}

	// Invalid content also keeps the last good list; a valid file again takes over.
	write("two words\n")
	clock.Add(2 * time.Second)
	if !toks.Valid("new-token") {
		t.Fatal("an invalid file replaced the tokens")
	}
	write("third\n")
	os.Chtimes(path, time.Now().Add(2*time.Hour), time.Now().Add(2*time.Hour))
	clock.Add(2 * time.Second)
	if toks.Valid("new-token") || !toks.Valid("third") {
		t.Fatal("recovered file not applied")
	}
	if strings.Contains(logs.String(), "third") || strings.Contains(logs.String(), "new-token") {
		t.Fatalf("a token reached the log:\n%s", logs.String())
	}
}

func TestNewTokensErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope")
	if _, err := NewTokens(Options{File: missing, Setting: "ingress.auth-tokens-file"}); err == nil ||
		!strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "ingress.auth-tokens-file") {
		t.Errorf("missing file: %v", err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("# nothing\n"), 0o600)
	if _, err := NewTokens(Options{File: empty, Setting: "s"}); err == nil || !strings.Contains(err.Error(), "no token") {
		t.Errorf("empty file: %v", err)
	}
	if _, err := NewTokens(Options{File: dir, Setting: "s"}); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: %v", err)
	}
	if _, err := NewTokens(Options{Tokens: []string{"[redacted]"}}); err == nil || !strings.Contains(err.Error(), "placeholder") {
		t.Errorf("placeholder: %v", err)
	}
	if _, err := NewTokens(Options{}); err == nil {
		t.Error("no tokens at all accepted")
	}
}

func TestGuard(t *testing.T) {
	toks, err := NewTokens(Options{Tokens: []string{"s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	g := &Guard{Tokens: toks, Realm: "restate-admin",
		Open: func(r *http.Request) bool { return r.URL.Path == "/health" },
		ErrorBody: func(status int, msg string) any {
			return map[string]any{"message": msg, "restate_code": nil}
		}}
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	do := func(path, auth string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, c := range []struct {
		path, auth string
		status     int
		challenge  string
	}{
		{"/deployments", "", 401, `Bearer realm="restate-admin"`},
		{"/deployments", "Basic czNjcmV0", 401, `Bearer realm="restate-admin"`},
		{"/deployments", "Bearer", 401, `Bearer realm="restate-admin"`},
		{"/deployments", "Bearer wrong", 401, `Bearer realm="restate-admin", error="invalid_token"`},
		{"/deployments", "Bearer s3cret", 204, ""},
		{"/deployments", "bearer   s3cret ", 204, ""},
		{"/health", "", 204, ""},
	} {
		w := do(c.path, c.auth)
		if w.Code != c.status || w.Header().Get("WWW-Authenticate") != c.challenge {
			t.Errorf("%s %q: %d %q", c.path, c.auth, w.Code, w.Header().Get("WWW-Authenticate"))
		}
		if c.status == 401 {
			if ct := w.Header().Get("Content-Type"); ct != "application/json" ||
				!strings.Contains(w.Body.String(), `"restate_code":null`) || !strings.Contains(w.Body.String(), `"message":"`) {
				t.Errorf("401 body %q (%s)", w.Body.String(), ct)
			}
		}
	}
}

func TestCORSPreflight(t *testing.T) {
	r := httptest.NewRequest("OPTIONS", "/Greeter/greet", nil)
	if IsCORSPreflight(r) {
		t.Error("OPTIONS without Origin counted as preflight")
	}
	r.Header.Set("Origin", "https://app.example")
	r.Header.Set("Access-Control-Request-Method", "POST")
	if !IsCORSPreflight(r) {
		t.Error("preflight not recognised")
	}
}

func BenchmarkValid(b *testing.B) {
	toks, _ := NewTokens(Options{Tokens: []string{"a", "b", "c", "d", "s3cret-token-value"}})
	for b.Loop() {
		toks.Valid("s3cret-token-value")
	}
}
