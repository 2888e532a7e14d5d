package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	restate "github.com/restatedev/sdk-go"
	"github.com/restatedev/sdk-go/server"

	"github.com/restatego/restate/internal/identity"
	"github.com/restatego/restate/internal/testservices"
)

// writeIdentityKey writes a fresh ed25519 private key as PKCS#8 PEM (what `openssl genpkey
// -algorithm ed25519` writes) and returns its path and public key id.
func writeIdentityKey(t *testing.T) (path, kid string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "identity.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, identity.KeyID(pub)
}

// tokenClaims decodes the claims of the request's identity token (the SDK has verified it).
func tokenClaims(r *http.Request) map[string]any {
	parts := strings.Split(r.Header.Get(identity.JWTHeader), ".")
	if len(parts) != 3 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

// startVerifyingEndpoint serves sdk-go services that accept only requests signed by kid. The
// claims of every request's token go to claims, by path.
func startVerifyingEndpoint(t *testing.T, kid string, claims chan<- map[string]any) string {
	t.Helper()
	h, err := server.NewRestate().WithIdentityV1(kid).
		Bind(restate.Reflect(testservices.Greeter{})).
		Bind(restate.Reflect(testservices.Counter{})).
		Handler()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := tokenClaims(r); c != nil {
			c["path"] = r.URL.Path
			select {
			case claims <- c:
			default:
			}
		}
		h.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: record, Protocols: &protocols}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func registerExpectingRefusal(t *testing.T, admin, uri string, want ...string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"uri": uri})
	r := do(t, http.MethodPost, "http://"+admin+"/deployments", b)
	if r.Status == http.StatusCreated {
		t.Fatalf("registration of a deployment that verifies another identity succeeded: %s", r.Body)
	}
	for _, w := range want {
		if !strings.Contains(string(r.Body), w) {
			t.Errorf("registration refused with %d %s, which does not name %q", r.Status, r.Body, w)
		}
	}
}

// TestRequestIdentity: a server with a request identity key signs discovery and every
// invocation attempt so that sdk-go's verifier (WithIdentityV1) accepts them; a server without
// a key, or with another key, is refused at registration with an error that says why.
func TestRequestIdentity(t *testing.T) {
	keyA, kidA := writeIdentityKey(t)
	keyB, kidB := writeIdentityKey(t)
	claims := make(chan map[string]any, 64)
	ep := startVerifyingEndpoint(t, kidA, claims)

	t.Run("same key", func(t *testing.T) {
		s := startServer(t, "RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE="+keyA)
		s.Register(t, ep)
		if r := s.Call(t, "/Greeter/Greet", "ada"); r.Status != 200 || string(r.Body) != `"hello ada"` {
			t.Fatalf("call: %d %s", r.Status, r.Body)
		}
		// A keyed handler: the token also names the object key.
		for i, want := range []string{"2", "5"} {
			if r := s.Call(t, "/Counter/k%201/Add", []int{2, 3}[i]); r.Status != 200 || string(r.Body) != want {
				t.Fatalf("Counter/Add: %d %s, want %s", r.Status, r.Body, want)
			}
		}
		// Each token is bound to its request's path; the keyed calls name the object key.
		var keyed int
		for len(claims) > 0 {
			c := <-claims
			if c["aud"] != c["path"] {
				t.Errorf("token audience %v on a request to %v", c["aud"], c["path"])
			}
			if c["path"] == "/invoke/Counter/Add" {
				keyed++
				if c["sub"] != "k 1" {
					t.Errorf("Counter/Add token sub %v, want the key \"k 1\"", c["sub"])
				}
			} else if _, ok := c["sub"]; ok {
				t.Errorf("token of %v names a key: %v", c["path"], c)
			}
		}
		if keyed != 2 {
			t.Errorf("%d signed Counter/Add requests seen, want 2", keyed)
		}
		log, _ := os.ReadFile(filepath.Join(s.Dir, "server.log"))
		if !strings.Contains(string(log), kidA) {
			t.Errorf("the server log does not name the key id %s", kidA)
		}
	})

	t.Run("no key", func(t *testing.T) {
		s := startServer(t)
		registerExpectingRefusal(t, s.Admin, ep, "401", "request-identity-private-key-pem-file")
	})

	t.Run("other key", func(t *testing.T) {
		// Restate's older, top-level location of the setting is read too.
		s := startServer(t, "RESTATE_REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE="+keyB)
		registerExpectingRefusal(t, s.Admin, ep, "401", kidB)
	})
}

// TestBadIdentityKeyStopsTheServer: a key file that is missing or holds no usable key stops the
// server at start, with an error naming the file.
func TestBadIdentityKeyStopsTheServer(t *testing.T) {
	dir := t.TempDir()
	notAKey := filepath.Join(dir, "not-a-key.pem")
	os.WriteFile(notAKey, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600)
	missing := filepath.Join(dir, "missing.pem")
	for _, path := range []string{notAKey, missing} {
		stderr, code := runServerExpectingExit(t, []string{
			"RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE=" + path,
			"RESTATE_INGRESS__BIND_ADDRESS=" + freePort(t), "RESTATE_ADMIN__BIND_ADDRESS=" + freePort(t),
			"RESTATE_BIND_ADDRESS=" + freePort(t),
		})
		if code == 0 || !strings.Contains(stderr, path) {
			t.Errorf("key file %s: exit code %d, stderr %q", path, code, stderr)
		}
	}
}
