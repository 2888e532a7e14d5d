package authn

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Guard wraps an API's handler with the bearer-token check.
type Guard struct {
	// Tokens are the accepted tokens.
	Tokens *Tokens
	// Realm goes into the WWW-Authenticate challenge, e.g. "restate-admin".
	Realm string
	// Open reports requests that need no token (health checks); nil protects everything.
	Open func(r *http.Request) bool
	// ErrorBody builds the JSON body of a 401 in the API's own error shape.
	ErrorBody func(status int, message string) any
}

// Wrap returns next behind the guard.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.Open != nil && g.Open(r) {
			next.ServeHTTP(w, r)
			return
		}
		token, found := bearerToken(r.Header.Get("Authorization"))
		switch {
		case !found:
			g.reject(w, `Bearer realm="`+g.Realm+`"`,
				"Missing credentials: this API requires an 'Authorization: Bearer <token>' header")
		case !g.Tokens.Valid(token):
			g.reject(w, `Bearer realm="`+g.Realm+`", error="invalid_token"`,
				"Invalid credentials: the bearer token is not accepted")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func (g *Guard) reject(w http.ResponseWriter, challenge, message string) {
	h := w.Header()
	h.Set("WWW-Authenticate", challenge)
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	var body any = map[string]any{"message": message}
	if g.ErrorBody != nil {
		body = g.ErrorBody(http.StatusUnauthorized, message)
	}
	b, _ := json.Marshal(body)
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write(b)
}

// bearerToken extracts the token of an "Authorization: Bearer <token>" header. The scheme
// is case-insensitive (RFC 7235); anything else counts as no credentials.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// IsCORSPreflight reports a browser's CORS preflight, which never carries credentials
// (Fetch standard), so an API that answers CORS must let it through.
func IsCORSPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}
