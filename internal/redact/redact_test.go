package redact

import (
	"reflect"
	"testing"
)

func TestURI(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:9080/":                 "http://127.0.0.1:9080/",
		"http://user:pa55@svc:9080/api":          "http://REDACTED@svc:9080/api",
		"https://tok3n@svc/":                     "https://REDACTED@svc/",
		"http://u:p%40ss@svc/":                   "http://REDACTED@svc/",
		"http://svc/path@v2":                     "http://svc/path@v2",
		"::not a uri@":                           "::not a uri@",
		"http://user:pa55@[::1]:9080/?q=a@b.com": "http://REDACTED@[::1]:9080/?q=a@b.com",
	} {
		if got := URI(in); got != want {
			t.Errorf("URI(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		`got status code '500' from http://user:pa55@svc:9080/discover. Body: x`: `got status code '500' from http://REDACTED@svc:9080/discover. Body: x`,
		`Post "https://tok3n:***@svc/invoke/A/b": EOF`:                           `Post "https://REDACTED@svc/invoke/A/b": EOF`,
		`two: http://a:b@x/ and HTTP://c@y`:                                      `two: http://REDACTED@x/ and HTTP://REDACTED@y`,
		`mail me at bob@example.com about http://svc/path@v2`:                    `mail me at bob@example.com about http://svc/path@v2`,
		`plain`: `plain`,
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHeaders(t *testing.T) {
	in := map[string]string{
		"authorization": "Bearer abc", "x-api-key": "k", "cookie": "c=1", "x-auth-token": "t",
		"x-route": "blue", "x-tenant": "acme", "proxy-authorization": "Basic x", "x-client-secret": "s",
	}
	want := map[string]string{
		"authorization": Placeholder, "x-api-key": Placeholder, "cookie": Placeholder, "x-auth-token": Placeholder,
		"x-route": "blue", "x-tenant": "acme", "proxy-authorization": Placeholder, "x-client-secret": Placeholder,
	}
	if got := Headers(in); !reflect.DeepEqual(got, want) {
		t.Errorf("Headers = %v", got)
	}
	if in["authorization"] != "Bearer abc" {
		t.Error("Headers changed its input")
	}
	if Headers(nil) != nil {
		t.Error("nil map not kept")
	}
}
