package discovery

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/restatego/restate/internal/identity"
)

// TestDiscoverSignsRequests: with a key, the discover request carries the v1 identity headers,
// the token verifies under the key and its audience is "/discover", also for a deployment
// behind a path prefix (the audience is relative to the deployment URI, as Restate signs it).
func TestDiscoverSignsRequests(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	type seen struct{ scheme, jwt []string }
	got := make(chan seen, 4)
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Values(identity.SchemeHeader), r.Header.Values(identity.JWTHeader)}
		manifestHandler(v4ContentType, sdkLikeManifest)(w, r)
	}))
	c := NewClient(ClientOptions{Identity: identity.New(priv, time.Minute)})
	defer c.CloseIdleConnections()
	_, err := c.Discover(context.Background(), Request{URI: srv.URL + "/prefix",
		AdditionalHeaders: map[string]string{"x-restate-jwt-v1": "forged"}})
	if err != nil {
		t.Fatal(err)
	}
	s := <-got
	if len(s.scheme) != 1 || s.scheme[0] != "v1" || len(s.jwt) != 1 {
		t.Fatalf("identity headers: scheme %q, jwt %q", s.scheme, s.jwt)
	}
	parts := strings.Split(s.jwt[0], ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[len(parts)-1])
	if len(parts) != 3 || !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatalf("token does not verify: %s", s.jwt[0])
	}
	var claims struct{ Aud string }
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(cb, &claims) != nil || claims.Aud != "/discover" {
		t.Fatalf("claims %s", cb)
	}

	// Without a key nothing is added.
	plain := NewClient(ClientOptions{})
	defer plain.CloseIdleConnections()
	if _, err := plain.Discover(context.Background(), Request{URI: srv.URL}); err != nil {
		t.Fatal(err)
	}
	if s := <-got; len(s.scheme)+len(s.jwt) != 0 {
		t.Fatalf("unsigned client sent identity headers %q %q", s.scheme, s.jwt)
	}
}

// TestDiscoverRefusedNamesTheKey: a 401 from a deployment that verifies identity explains what
// to configure, naming this server's key id when it has one.
func TestDiscoverRefusedNamesTheKey(t *testing.T) {
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
	}))
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer := identity.New(priv, time.Minute)
	for _, c := range []struct {
		opts ClientOptions
		want string
	}{
		{ClientOptions{}, "request-identity-private-key-pem-file"},
		{ClientOptions{Identity: signer}, signer.KeyID()},
	} {
		cl := NewClient(c.opts)
		_, err := cl.Discover(context.Background(), Request{URI: srv.URL})
		cl.CloseIdleConnections()
		de, ok := AsError(err)
		if !ok || de.StatusCode != 401 || !strings.Contains(err.Error(), "'401'") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want a 401 error naming %q, got %v", c.want, err)
		}
	}
}
