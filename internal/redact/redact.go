// Package redact hides credentials in values the server shows: deployment URIs with
// user:password@ and the values of deployment headers that carry credentials. The real
// values stay in the schema and are used for the calls; only what is displayed (admin
// answers, SQL tables, error messages, logs) goes through here.
package redact

import (
	"net/url"
	"regexp"
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

// userinfoInText finds the user info of http(s) URLs inside free text: after the scheme,
// everything up to an '@' that comes before the first '/' (user info cannot contain '/').
var userinfoInText = regexp.MustCompile(`(?i)(https?://)[^/\s@"'<>]+@`)

// Text replaces the user info of every http(s) URL in text (error messages that quote a
// deployment URI, in whatever form: Go's HTTP client, for one, prints "user:***@").
func Text(text string) string {
	if !strings.Contains(text, "@") {
		return text
	}
	return userinfoInText.ReplaceAllString(text, "${1}"+userinfoPlaceholder+"@")
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
