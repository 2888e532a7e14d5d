package identity

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// restateTestKey is the PKCS#8 ed25519 test key of Restate's own signer tests, with the key id
// Restate derives from it: the same id here proves the same encoding of the public key.
const (
	restateTestKey = "-----BEGIN PRIVATE KEY-----\n" +
		"MC4CAQAwBQYDK2VwBCIEIPe++4ZTPQDF81otpoU/mOGHC2vOAVp9WbiCblvn3nXO\n" +
		"-----END PRIVATE KEY-----\n"
	restateTestKeyID = "publickeyv1_AfQwmwfgEZhrWpvv8N52SHpRtZqGGaFr4AZN6qtYWSiY"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pkcs8PEM(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func TestKeyIDMatchesRestate(t *testing.T) {
	s, err := LoadFile(writeFile(t, restateTestKey), DefaultExpiration)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID() != restateTestKeyID {
		t.Fatalf("key id %s, want %s", s.KeyID(), restateTestKeyID)
	}
}

func TestBase58(t *testing.T) {
	// Vectors of the base58 encoding draft (Bitcoin alphabet), including leading zero bytes.
	for in, want := range map[string]string{
		"":             "",
		"Hello World!": "2NEpo7TZRRrLZSi2U",
		"The quick brown fox jumps over the lazy dog.": "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z",
		"\x00\x00\x28\x7f\xb4\xcd":                     "11233QC4",
		"\x00":                                         "1",
		"\xff":                                         "5Q",
	} {
		if got := base58([]byte(in)); got != want {
			t.Errorf("base58(%q) = %q, want %q", in, got, want)
		}
	}
}

type claims struct {
	Aud string  `json:"aud"`
	Exp int64   `json:"exp"`
	Iat int64   `json:"iat"`
	Nbf int64   `json:"nbf"`
	Sub *string `json:"sub"`
}

// verify checks a token the way an SDK does (EdDSA signature over header.claims with the public
// key named by kid) and returns its decoded header and claims.
func verify(t *testing.T, tok string, pub ed25519.PublicKey) (map[string]string, claims, map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts", tok, len(parts))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	if !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatal("signature does not verify")
	}
	var header map[string]string
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &header) != nil {
		t.Fatalf("header %q: %v", hb, err)
	}
	cb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c claims
	var raw map[string]any
	if err := json.Unmarshal(cb, &c); err != nil {
		t.Fatalf("claims %q: %v", cb, err)
	}
	json.Unmarshal(cb, &raw)
	return header, c, raw
}

func TestTokenHeaderAndClaims(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	s := New(priv, 5*time.Minute)
	now := time.Unix(1_800_000_000, 0)

	header, c, raw := verify(t, s.Token(now, "/invoke/Greeter/Greet", nil), pub)
	if header["alg"] != "EdDSA" || header["typ"] != "JWT" || header["kid"] != KeyID(pub) || len(header) != 3 {
		t.Errorf("header %v", header)
	}
	if c.Aud != "/invoke/Greeter/Greet" || c.Iat != now.Unix() || c.Nbf != now.Unix()-300 || c.Exp != now.Unix()+300 {
		t.Errorf("claims %+v", c)
	}
	if _, ok := raw["sub"]; ok {
		t.Errorf("sub present for an unkeyed call: %v", raw)
	}

	// A keyed call names the key, escaped as JSON; the path is escaped too.
	key := `weird "key" \ é` + "\n"
	_, c, _ = verify(t, s.Token(now, `/invoke/Counter/Add"`, &key), pub)
	if c.Sub == nil || *c.Sub != key || c.Aud != `/invoke/Counter/Add"` {
		t.Errorf("claims %+v", c)
	}
	empty := ""
	_, c, raw = verify(t, s.Token(now, "/invoke/Counter/Add", &empty), pub)
	if c.Sub == nil || *c.Sub != "" || raw["sub"] != "" {
		t.Errorf("empty key: claims %v", raw)
	}

	// Another key's signature does not verify under this public key.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	tok := New(other, time.Minute).Token(now, "/discover", nil)
	parts := strings.Split(tok, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatal("a token of another key verified")
	}
}

func TestExpirationDefaultsAndClamp(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Unix(1_800_000_000, 0)
	for exp, want := range map[time.Duration]int64{DefaultExpiration: 60, 0: 1, 300 * time.Millisecond: 1, 90 * time.Second: 90} {
		_, c, _ := verify(t, New(priv, exp).Token(now, "/discover", nil), pub)
		if c.Exp-c.Iat != want || c.Iat-c.Nbf != want {
			t.Errorf("expiration %s: exp-iat %d, iat-nbf %d, want %d", exp, c.Exp-c.Iat, c.Iat-c.Nbf, want)
		}
	}
}

func TestSetHeaders(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	s := New(priv, time.Minute)
	h := http.Header{}
	// A deployment's additional headers cannot add a second value next to ours.
	h.Add("X-Restate-Signature-Scheme", "unsigned")
	h.Add("X-Restate-Jwt-V1", "forged")
	before := time.Now().Unix()
	s.SetHeaders(h, "/discover", nil)
	if v := h.Values(SchemeHeader); len(v) != 1 || v[0] != "v1" {
		t.Fatalf("%s: %q", SchemeHeader, v)
	}
	v := h.Values(JWTHeader)
	if len(v) != 1 {
		t.Fatalf("%s: %q", JWTHeader, v)
	}
	_, c, _ := verify(t, v[0], pub)
	if c.Aud != "/discover" || c.Iat < before || c.Iat > time.Now().Unix() {
		t.Errorf("claims %+v", c)
	}
}

func TestLoadFileErrorsNameTheFile(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	cases := map[string]struct {
		content string
		want    string
	}{
		"not pem":       {"hello", "found 0"},
		"two keys":      {pkcs8PEM(t, edKey) + pkcs8PEM(t, edKey), "found 2"},
		"ecdsa key":     {pkcs8PEM(t, ecKey), "ed25519"},
		"garbage block": {"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "PKCS#8"},
	}
	for name, c := range cases {
		p := writeFile(t, c.content)
		_, err := LoadFile(p, time.Minute)
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %s and %q", name, err, p, c.want)
		}
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	if _, err := LoadFile(missing, time.Minute); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
}

// TestOpenSSLKey loads a key the way Restate's docs say to make one.
func TestOpenSSLKey(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	p := filepath.Join(t.TempDir(), "key.pem")
	if out, err := exec.Command(openssl, "genpkey", "-algorithm", "ed25519", "-out", p).CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v %s", err, out)
	}
	s, err := LoadFile(p, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := exec.Command(openssl, "pkey", "-in", p, "-pubout", "-outform", "DER").Output()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(pubDER)
	if err != nil {
		t.Fatal(err)
	}
	if want := KeyID(pub.(ed25519.PublicKey)); s.KeyID() != want {
		t.Fatalf("key id %s, openssl's public key gives %s", s.KeyID(), want)
	}
	verify(t, s.Token(time.Now(), "/discover", nil), pub.(ed25519.PublicKey))
}

func FuzzParsePrivateKeyPEM(f *testing.F) {
	f.Add([]byte(restateTestKey))
	f.Add([]byte(restateTestKey + restateTestKey))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := ParsePrivateKeyPEM(data)
		if err == nil && len(key) != ed25519.PrivateKeySize {
			t.Fatalf("accepted a key of %d bytes", len(key))
		}
	})
}

func BenchmarkToken(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s := New(priv, time.Minute)
	now := time.Now()
	key := "user-42"
	for b.Loop() {
		s.Token(now, "/invoke/Counter/Add", &key)
	}
}
