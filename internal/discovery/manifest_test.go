package discovery

import (
	"strings"
	"testing"
	"time"
)

// sdkLikeManifest has the shape sdk-go v1.2.0 produces, plus service and handler options.
const sdkLikeManifest = `{
 "maxProtocolVersion": 7, "minProtocolVersion": 5, "protocolMode": "BIDI_STREAM",
 "services": [
  {"documentation": "", "name": "Counter", "ty": "VIRTUAL_OBJECT", "metadata": {"team": "a"},
   "handlers": [
    {"name": "Add", "ty": "EXCLUSIVE",
     "input": {"required": true, "contentType": "application/json", "jsonSchema": {"type": "integer"}},
     "output": {"contentType": "application/json", "setContentTypeIfEmpty": false, "jsonSchema": {"type": "integer"}},
     "documentation": ""},
    {"name": "Get", "ty": "SHARED", "input": {"required": false}, "output": {}, "documentation": ""},
    {"name": "Reset"}
   ]},
  {"name": "Greeter", "ty": "SERVICE", "inactivityTimeout": 30000, "abortTimeout": 1500,
   "journalRetention": 0, "idempotencyRetention": 86400000, "ingressPrivate": true, "enableLazyState": false,
   "retryPolicyInitialInterval": 250, "retryPolicyMaxInterval": 10000, "retryPolicyMaxAttempts": 12,
   "retryPolicyExponentiationFactor": 1.5, "retryPolicyOnMaxAttempts": "KILL",
   "handlers": [{"name": "Greet", "inactivityTimeout": 5000}]},
  {"name": "Signup", "ty": "WORKFLOW", "handlers": [
    {"name": "Run", "ty": "WORKFLOW", "workflowCompletionRetention": 3600000},
    {"name": "Click", "ty": "SHARED"}]}
 ]}`

func TestParseManifestSDKShape(t *testing.T) {
	m, err := ParseManifest([]byte(sdkLikeManifest))
	if err != nil {
		t.Fatalf("ParseManifest: %v", err)
	}
	if m.ProtocolMode != ProtocolModeBidiStream || m.MinProtocolVersion != 5 || m.MaxProtocolVersion != 7 {
		t.Fatalf("header fields: %+v", m)
	}
	if len(m.Services) != 3 {
		t.Fatalf("services: %d", len(m.Services))
	}
	counter := m.Services[0]
	if counter.Name != "Counter" || counter.Ty != ServiceTypeVirtualObject || counter.Metadata["team"] != "a" {
		t.Fatalf("counter: %+v", counter)
	}
	if counter.Documentation == nil || *counter.Documentation != "" {
		t.Fatalf("documentation \"\" must be kept as present-but-empty, got %v", counter.Documentation)
	}
	add := counter.Handlers[0]
	if add.Ty != HandlerTypeExclusive || add.Input == nil || !add.Input.Required ||
		add.Input.ContentType == nil || *add.Input.ContentType != "application/json" ||
		string(add.Input.JSONSchema) != `{"type": "integer"}` {
		t.Fatalf("Add handler: %+v input %+v", add, add.Input)
	}
	get := counter.Handlers[1]
	if get.Input == nil || get.Input.Required || get.Input.ContentType != nil {
		t.Fatalf("Get input must be present, not required, without content type: %+v", get.Input)
	}
	if get.Output == nil || get.Output.ContentType != nil {
		t.Fatalf("Get output {} must be present without content type: %+v", get.Output)
	}
	reset := counter.Handlers[2]
	if reset.Ty != "" || reset.Input != nil || reset.Output != nil {
		t.Fatalf("Reset has no type/input/output in the manifest: %+v", reset)
	}

	greeter := m.Services[1]
	o := greeter.Options
	checkDur := func(name string, got *time.Duration, want time.Duration) {
		t.Helper()
		if got == nil || *got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	checkDur("inactivityTimeout", o.InactivityTimeout, 30*time.Second)
	checkDur("abortTimeout", o.AbortTimeout, 1500*time.Millisecond)
	checkDur("journalRetention", o.JournalRetention, 0)
	checkDur("idempotencyRetention", o.IdempotencyRetention, 24*time.Hour)
	checkDur("retryPolicyInitialInterval", o.RetryPolicyInitialInterval, 250*time.Millisecond)
	checkDur("retryPolicyMaxInterval", o.RetryPolicyMaxInterval, 10*time.Second)
	if o.IngressPrivate == nil || !*o.IngressPrivate || o.EnableLazyState == nil || *o.EnableLazyState {
		t.Errorf("booleans: private=%v lazy=%v", o.IngressPrivate, o.EnableLazyState)
	}
	if o.RetryPolicyMaxAttempts == nil || *o.RetryPolicyMaxAttempts != 12 ||
		o.RetryPolicyExponentiationFactor == nil || *o.RetryPolicyExponentiationFactor != 1.5 ||
		o.RetryPolicyOnMaxAttempts == nil || *o.RetryPolicyOnMaxAttempts != OnMaxAttemptsKill {
		t.Errorf("retry policy: %+v", o)
	}
	checkDur("Greet inactivityTimeout", greeter.Handlers[0].InactivityTimeout, 5*time.Second)
	if greeter.Handlers[0].AbortTimeout != nil {
		t.Errorf("handler options must not inherit at parse time")
	}
	checkDur("Run workflowCompletionRetention", m.Services[2].Handlers[0].WorkflowCompletionRetention, time.Hour)
}

func TestParseManifestErrors(t *testing.T) {
	cases := []struct {
		name     string
		body     string
		kind     Kind
		contains string
	}{
		{"not json", `<html>`, KindDecode, "cannot be decoded"},
		{"missing protocol mode", `{"minProtocolVersion":5,"maxProtocolVersion":7,"services":[]}`, KindBadResponse, "missing protocol mode"},
		{"unknown protocol mode", `{"protocolMode":"X","minProtocolVersion":5,"maxProtocolVersion":7,"services":[]}`, KindDecode, "protocolMode"},
		{"missing min", `{"protocolMode":"BIDI_STREAM","maxProtocolVersion":7,"services":[]}`, KindDecode, "minProtocolVersion"},
		{"missing services", `{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7}`, KindDecode, "services"},
		{"min > max", `{"protocolMode":"BIDI_STREAM","minProtocolVersion":8,"maxProtocolVersion":7,"services":[]}`, KindBadResponse, "min protocol version to be <= max"},
		{"zero version", `{"protocolMode":"BIDI_STREAM","minProtocolVersion":0,"maxProtocolVersion":7,"services":[]}`, KindBadResponse, "min protocol version must be in"},
		{"service without ty", `{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"services":[{"name":"A","handlers":[]}]}`, KindDecode, `services[0] ("A"): missing field ` + "`ty`"},
		{"bad service ty", `{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"services":[{"name":"A","ty":"ACTOR","handlers":[]}]}`, KindDecode, `unknown service type "ACTOR"`},
		{"bad service name", `{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"services":[{"name":"1A","ty":"SERVICE","handlers":[]}]}`, KindDecode, "invalid service name"},
		{"service without handlers", `{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"services":[{"name":"A","ty":"SERVICE"}]}`, KindDecode, "handlers"},
		{"bad handler name", `{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"services":[{"name":"A","ty":"SERVICE","handlers":[{"name":"a.b"}]}]}`, KindDecode, `services[0] ("A").handlers[0] ("a.b"): invalid handler name`},
		{"bad handler ty", `{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"services":[{"name":"A","ty":"SERVICE","handlers":[{"name":"h","ty":"LOCKED"}]}]}`, KindDecode, `unknown handler type "LOCKED"`},
		{"duplicate handler", `{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"services":[{"name":"A","ty":"SERVICE","handlers":[{"name":"h"},{"name":"h"}]}]}`, KindDecode, `duplicate handler name "h"`},
		{"duplicate service", `{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"services":[{"name":"A","ty":"SERVICE","handlers":[]},{"name":"A","ty":"SERVICE","handlers":[]}]}`, KindDecode, `duplicate service name "A"`},
		{"negative timeout", `{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"services":[{"name":"A","ty":"SERVICE","inactivityTimeout":-1,"handlers":[]}]}`, KindDecode, "inactivityTimeout"},
		{"huge timeout", `{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"services":[{"name":"A","ty":"SERVICE","handlers":[{"name":"h","abortTimeout":18446744073709551615}]}]}`, KindDecode, "abortTimeout: 18446744073709551615 milliseconds is out of range"},
		{"bad on max attempts", `{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"services":[{"name":"A","ty":"SERVICE","retryPolicyOnMaxAttempts":"RETRY","handlers":[]}]}`, KindDecode, "retryPolicyOnMaxAttempts"},
		{"bad json schema", `{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"services":[{"name":"A","ty":"SERVICE","handlers":[{"name":"h","input":{"jsonSchema":"x"}}]}]}`, KindDecode, "input.jsonSchema"},
		{"bad lambda compression", `{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"lambdaCompression":"gzip","services":[]}`, KindDecode, "lambdaCompression"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseManifest([]byte(tc.body))
			de, ok := AsError(err)
			if !ok {
				t.Fatalf("want *Error, got %v", err)
			}
			if de.Kind != tc.kind {
				t.Errorf("kind = %v, want %v (%v)", de.Kind, tc.kind, err)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("error %q does not mention %q", err, tc.contains)
			}
		})
	}
}

func TestParseManifestMissingProtocolModeCode(t *testing.T) {
	_, err := ParseManifest([]byte(`{"minProtocolVersion":5,"maxProtocolVersion":7,"services":[]}`))
	de, _ := AsError(err)
	if de == nil || de.RestateCode() != CodeBadResponse {
		t.Fatalf("want %s, got %v", CodeBadResponse, err)
	}
	if got, want := err.Error(), "received a bad response from the SDK: missing protocol mode"; got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
}

func TestNegotiateProtocolVersion(t *testing.T) {
	cases := []struct {
		min, max, want int
		ok             bool
	}{
		{5, 7, 7, true},
		{5, 5, 5, true},
		{1, 6, 6, true},
		{5, 9, 7, true},
		{7, 9, 7, true},
		{1, 4, 0, false},
		{8, 9, 0, false},
		{7, 5, 0, false},
	}
	for _, tc := range cases {
		got, ok := NegotiateProtocolVersion(tc.min, tc.max)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Negotiate(%d,%d) = %d,%v want %d,%v", tc.min, tc.max, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDiscoverURL(t *testing.T) {
	cases := map[string]string{
		"http://localhost:9080":              "http://localhost:9080/discover",
		"http://localhost:9080/":             "http://localhost:9080/discover",
		"http://h/prefix":                    "http://h/prefix/discover",
		"https://h/a/b/?x=1":                 "https://h/a/b/discover",
		"http://[::1]:9080/restate/":         "http://[::1]:9080/restate/discover",
		"http://h/with%20space/":             "http://h/with%20space/discover",
		"http://user:pw@h:1/p":               "http://user:pw@h:1/p/discover",
		"https://example.com:8443/svc#frag":  "https://example.com:8443/svc/discover",
		"http://h/already/discover/endpoint": "http://h/already/discover/endpoint/discover",
	}
	for in, want := range cases {
		got, err := DiscoverURL(in)
		if err != nil || got != want {
			t.Errorf("DiscoverURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"localhost:9080", "/relative", "ftp://h/x", "http://"} {
		if _, err := DiscoverURL(bad); err == nil {
			t.Errorf("DiscoverURL(%q) should fail", bad)
		}
	}
}
