package schema

import (
	"context"
	"strings"
	"testing"
	"time"
)

func handlerFrom(t *testing.T, handlerJSON string) *Handler {
	t.Helper()
	r := newTestRegistry(t)
	_, svcs, err := r.Register(context.Background(), deploymentAt("http://a/"),
		manifest(t, `{"name":"S","ty":"SERVICE","handlers":[`+handlerJSON+`]}`), RegisterOptions{DryRun: true})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	for _, h := range svcs[0].Handlers {
		return h
	}
	t.Fatal("no handler")
	return nil
}

func TestValidateInput(t *testing.T) {
	type call struct {
		ct   string
		body string
		err  string // "" = accepted
	}
	cases := []struct {
		name    string
		handler string
		calls   []call
	}{
		{"default rules (no input in manifest)", `{"name":"h"}`, []call{
			{"", "", ""},
			{"text/plain", "x", ""},
			{"application/json", "", ""},
			{"", "x", "input validation error: Empty content-type"},
		}},
		{"void input {required:false}", `{"name":"h","input":{"required":false}}`, []call{
			{"", "", ""},
			{"application/json", "1", `input validation error: Expected body and content-type to be empty, but wasn't with content-type 'Some("application/json")'`},
			{"", "x", "input validation error: Expected body and content-type to be empty, but wasn't with content-type 'None'"},
		}},
		{"required json with schema", `{"name":"h","input":{"required":true,"contentType":"application/json","jsonSchema":{"type":"string"}}}`, []call{
			{"application/json", `"a"`, ""},
			{"application/json; charset=utf-8", `"a"`, ""},
			{"application/json", "", "input validation error: Empty body not allowed"},
			{"", "", "input validation error: Empty content-type"},
			{"text/plain", "a", "input validation error: Content-type 'text/plain' does not match 'application/json'"},
			{"application/jsonx", "a", "does not match"},
		}},
		{"optional json", `{"name":"h","input":{"required":false,"contentType":"application/json","jsonSchema":true}}`, []call{
			{"", "", ""},
			{"application/json", "1", ""},
			{"text/plain", "1", "does not match 'application/json'"},
		}},
		{"wildcard subtype", `{"name":"h","input":{"required":true,"contentType":"text/*"}}`, []call{
			{"text/plain", "x", ""},
			{"text/csv", "", ""},
			{"image/png", "x", "Content-type 'image/png' does not match 'text/*'"},
			{"garbage", "x", "does not match"},
		}},
		{"required without content type", `{"name":"h","input":{"required":true}}`, []call{
			{"", "", "input validation error: Bad configuration of the input validation rules"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := handlerFrom(t, tc.handler)
			for _, c := range tc.calls {
				err := h.ValidateInput(c.ct, []byte(c.body))
				switch {
				case c.err == "" && err != nil:
					t.Errorf("(%q,%q) rejected: %v", c.ct, c.body, err)
				case c.err != "" && err == nil:
					t.Errorf("(%q,%q) accepted, want %q", c.ct, c.body, c.err)
				case c.err != "" && !strings.Contains(err.Error(), c.err):
					t.Errorf("(%q,%q) error %q, want %q", c.ct, c.body, err, c.err)
				}
			}
		})
	}
}

func TestDescriptionsAndOutputContentType(t *testing.T) {
	cases := []struct {
		handler       string
		input, output string
		ctFull        string // content type for a non-empty body ("" = none)
		ctEmpty       string
	}{
		{`{"name":"h"}`, "*/*", "application/json", "application/json", ""},
		{`{"name":"h","input":{"required":false},"output":{}}`, "none", "none", "", ""},
		{`{"name":"h","input":{"required":true,"contentType":"application/json","jsonSchema":{"title":"Person","type":"object"}},
		   "output":{"contentType":"application/json","jsonSchema":{"type":"string"}}}`, "JSON 'Person'", "JSON string", "application/json", ""},
		{`{"name":"h","input":{"required":true,"contentType":"application/octet-stream"},
		   "output":{"contentType":"application/proto","setContentTypeIfEmpty":true}}`, "application/octet-stream", "optional application/proto", "application/proto", "application/proto"},
		{`{"name":"h","input":{"required":false,"contentType":"text/*"}}`, "text/*", "application/json", "application/json", ""},
	}
	for _, tc := range cases {
		h := handlerFrom(t, tc.handler)
		if got := h.InputDescription(); got != tc.input {
			t.Errorf("%s: input description %q, want %q", tc.handler, got, tc.input)
		}
		if got := h.OutputDescription(); got != tc.output {
			t.Errorf("%s: output description %q, want %q", tc.handler, got, tc.output)
		}
		ct, ok := h.OutputContentType(false)
		if (ct != tc.ctFull) || ok != (tc.ctFull != "") {
			t.Errorf("%s: output content type %q %v, want %q", tc.handler, ct, ok, tc.ctFull)
		}
		ct, ok = h.OutputContentType(true)
		if (ct != tc.ctEmpty) || ok != (tc.ctEmpty != "") {
			t.Errorf("%s: empty output content type %q %v, want %q", tc.handler, ct, ok, tc.ctEmpty)
		}
	}
}

func TestResolveOptions(t *testing.T) {
	r := newTestRegistry(t)
	_, svcs, err := r.Register(context.Background(), deploymentAt("http://a/"), manifest(t, `{"name":"S","ty":"VIRTUAL_OBJECT",
		"inactivityTimeout":30000,"enableLazyState":true,"retryPolicyMaxAttempts":5,"retryPolicyOnMaxAttempts":"KILL","ingressPrivate":false,
		"handlers":[
		  {"name":"plain"},
		  {"name":"tuned","ty":"SHARED","inactivityTimeout":1000,"abortTimeout":2000,"enableLazyState":false,
		   "retryPolicyInitialInterval":10,"retryPolicyExponentiationFactor":3,"retryPolicyMaxAttempts":0,"ingressPrivate":true}
		]}`), RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := svcs[0]
	d := RestateDefaults()
	plain := s.Resolve(s.Handler("plain"), d)
	want := ResolvedOptions{
		Public: true, InactivityTimeout: 30 * time.Second, AbortTimeout: time.Minute,
		IdempotencyRetention: 24 * time.Hour, WorkflowCompletionRetention: 24 * time.Hour, JournalRetention: 24 * time.Hour,
		EnableLazyState: true,
		RetryPolicy:     RetryPolicy{InitialInterval: 500 * time.Millisecond, Factor: 2, MaxAttempts: 5, MaxInterval: 20 * time.Second, OnMaxAttempts: OnMaxAttemptsKill},
	}
	if plain != want {
		t.Errorf("plain:\n got %+v\nwant %+v", plain, want)
	}
	tuned := s.Resolve(s.Handler("tuned"), d)
	want.Public = false
	want.InactivityTimeout, want.AbortTimeout = time.Second, 2*time.Second
	want.EnableLazyState = false
	want.RetryPolicy.InitialInterval, want.RetryPolicy.Factor, want.RetryPolicy.MaxAttempts = 10*time.Millisecond, 3, 1
	if tuned != want {
		t.Errorf("tuned:\n got %+v\nwant %+v", tuned, want)
	}
	if p := s.ServiceRetryPolicy(d); p.MaxAttempts != 5 || p.InitialInterval != 500*time.Millisecond {
		t.Errorf("service retry policy: %+v", p)
	}
}
