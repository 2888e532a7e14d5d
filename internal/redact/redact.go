// Package redact hides credentials in values the server shows: deployment URIs with
// user:password@ and the values of deployment headers that carry credentials. The real
// values stay in the schema and are used for the calls; only what is displayed (admin
// answers, SQL tables, error messages, logs) goes through here.
package redact

import (
	"net/url"
	"strings"
)

// Placeholder replaces a hidden value.
const Placeholder = "[redacted]"

// userinfoPlaceholder replaces the user info of a URI. It must stay a valid URI (clients
// such as the restate CLI parse the uri field), so it cannot use brackets.
const userinfoPlaceholder = "REDACTED"

// URI returns uri with any user info (user:password@) replaced by "REDACTED@". Anything
// that does not parse as a URI with user info is returned unchanged.
func URI(uri string) string {
	if !strings.Contains(uri, "@") {
		return uri
	}
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return uri
	}
	u.User = url.User(userinfoPlaceholder)
	return u.String()
}

// InText replaces every occurrence of uri in text with its redacted form (for error messages
// that quote a URI, possibly with a path appended to it).
func InText(text, uri string) string {
	shown := URI(uri)
	if shown == uri {
		return text
	}
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return text
	}
	// The user info as it appears in any URL built from this one.
	return strings.ReplaceAll(text, u.User.String()+"@", userinfoPlaceholder+"@")
}

// sensitiveHeaderWords mark a header name as carrying a credential.
var sensitiveHeaderWords = []string{
	"auth", "cookie", "token", "secret", "password", "passwd", "key", "credential", "session", "signature",
}

// SensitiveHeader reports whether a header's value is a credential: Authorization,
// Proxy-Authorization, Cookie, X-Api-Key and any name containing a word like token, secret,
// key or session.
func SensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	for _, w := range sensitiveHeaderWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// Headers returns a copy of h with the values of sensitive headers replaced by
// "[redacted]". A nil or empty map is returned as is.
func Headers(h map[string]string) map[string]string {
	if len(h) == 0 {
		return h
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		if SensitiveHeader(k) {
			v = Placeholder
		}
		out[k] = v
	}
	return out
}
