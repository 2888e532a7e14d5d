// Package identity signs the requests this server sends to deployments with Restate's request
// identity scheme v1, so that an SDK configured with the server's public key can refuse calls
// from anyone else.
//
// The scheme: every request carries "x-restate-signature-scheme: v1" and "x-restate-jwt-v1: <a
// compact JWT>", signed with EdDSA over an ed25519 key. The JWT header names the key as
// "publickeyv1_" + base58 of the 32-byte public key (the string operators paste into the SDK),
// and the claims bind the token to one request path (aud) and a validity window of
// [now-leeway, now+leeway] (nbf, exp) around its issuing time (iat). Calls to keyed handlers also
// carry the object or workflow key (sub). The private key is read once, at start, from a PEM file
// holding exactly one PKCS#8 ed25519 private key (what `openssl genpkey -algorithm ed25519`
// writes).
package identity

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"
	"unicode/utf8"
)

// Header names and values of the v1 scheme, as SDKs check them.
const (
	SchemeHeader = "x-restate-signature-scheme"
	JWTHeader    = "x-restate-jwt-v1"
	SchemeV1     = "v1"
	// KeyIDPrefix starts every v1 public key id.
	KeyIDPrefix = "publickeyv1_"
	// DefaultExpiration is Restate's default validity leeway of a token.
	DefaultExpiration = 60 * time.Second
	// MinExpiration is the smallest leeway; shorter ones are raised to it, as Restate does.
	MinExpiration = time.Second
)

// Signer issues request identity tokens. It is immutable and safe for concurrent use.
type Signer struct {
	key    ed25519.PrivateKey
	kid    string
	leeway int64 // seconds
	// prefix is the encoded JWT header and its dot: the same for every token.
	prefix string
}

// LoadFile reads the PEM file at path and returns a signer whose tokens are valid for
// expiration around their issuing time. Every error names the file.
func LoadFile(path string, expiration time.Duration) (*Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the request identity private key file: %w", err)
	}
	key, err := ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("request identity private key file %s: %w", path, err)
	}
	return New(key, expiration), nil
}

// ParsePrivateKeyPEM decodes a PEM document holding exactly one PKCS#8 ed25519 private key.
func ParsePrivateKeyPEM(data []byte) (ed25519.PrivateKey, error) {
	var blocks []*pem.Block
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks = append(blocks, b)
	}
	if len(blocks) != 1 {
		return nil, fmt.Errorf("only one private key in PEM format is expected, found %d", len(blocks))
	}
	parsed, err := x509.ParsePKCS8PrivateKey(blocks[0].Bytes)
	if err != nil {
		return nil, fmt.Errorf("the PEM block (%q) is not a PKCS#8 private key: %v", blocks[0].Type, err)
	}
	key, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("the private key is a %T, an ed25519 key is required (openssl genpkey -algorithm ed25519)", parsed)
	}
	return key, nil
}

// New returns a signer for key. expiration below MinExpiration is raised to it.
func New(key ed25519.PrivateKey, expiration time.Duration) *Signer {
	if expiration < MinExpiration {
		expiration = MinExpiration
	}
	kid := KeyID(key.Public().(ed25519.PublicKey))
	// Field order as Restate's encoder writes it; kid is base58, so it needs no escaping.
	header := `{"typ":"JWT","alg":"EdDSA","kid":"` + kid + `"}`
	return &Signer{
		key:    key,
		kid:    kid,
		leeway: int64(expiration / time.Second),
		prefix: base64.RawURLEncoding.EncodeToString([]byte(header)) + ".",
	}
}

// KeyID is the v1 public key id of pub: "publickeyv1_" + base58 (Bitcoin alphabet) of its 32 bytes.
func KeyID(pub ed25519.PublicKey) string { return KeyIDPrefix + base58(pub) }

// KeyID is the id of the signer's public key, the value SDKs are configured with. It is not secret.
func (s *Signer) KeyID() string { return s.kid }

// Token returns a compact JWT for a request to path aud, issued at now. sub, when not nil, is the
// key of the virtual object or workflow being called.
func (s *Signer) Token(now time.Time, aud string, sub *string) string {
	iat := now.Unix()
	nbf := iat - s.leeway
	if nbf < 0 {
		nbf = 0
	}
	claims := make([]byte, 0, 64+len(aud))
	claims = append(claims, `{"aud":`...)
	claims = appendJSONString(claims, aud)
	claims = append(claims, `,"exp":`...)
	claims = strconv.AppendInt(claims, iat+s.leeway, 10)
	claims = append(claims, `,"iat":`...)
	claims = strconv.AppendInt(claims, iat, 10)
	claims = append(claims, `,"nbf":`...)
	claims = strconv.AppendInt(claims, nbf, 10)
	if sub != nil {
		claims = append(claims, `,"sub":`...)
		claims = appendJSONString(claims, *sub)
	}
	claims = append(claims, '}')

	enc := base64.RawURLEncoding
	sigLen := enc.EncodedLen(ed25519.SignatureSize)
	tok := make([]byte, 0, len(s.prefix)+enc.EncodedLen(len(claims))+1+sigLen)
	tok = append(tok, s.prefix...)
	tok = enc.AppendEncode(tok, claims)
	sig := ed25519.Sign(s.key, tok) // the signing input is header.claims
	tok = append(tok, '.')
	tok = enc.AppendEncode(tok, sig)
	return string(tok)
}

// SetHeaders adds the v1 identity headers for a request to path aud, replacing any already
// there (a deployment's additional headers cannot spoof or duplicate them).
func (s *Signer) SetHeaders(h http.Header, aud string, sub *string) {
	h.Set(SchemeHeader, SchemeV1)
	h.Set(JWTHeader, s.Token(time.Now(), aud, sub))
}

// appendJSONString appends s as a JSON string. Paths and keys are almost always plain ASCII,
// which is copied as is; anything else goes through encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// base58 encodes b in the Bitcoin alphabet: each leading zero byte becomes '1', the rest is the
// big-endian number in base 58.
func base58(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	// log(256)/log(58) < 1.37: enough digits for the number.
	digits := make([]byte, 0, len(b)*137/100+1)
	for _, c := range b[zeros:] {
		carry := int(c)
		for i := range digits {
			carry += int(digits[i]) << 8
			digits[i] = byte(carry % 58)
			carry /= 58
		}
		for carry > 0 {
			digits = append(digits, byte(carry%58))
			carry /= 58
		}
	}
	out := make([]byte, 0, zeros+len(digits))
	for range zeros {
		out = append(out, '1')
	}
	for i := len(digits) - 1; i >= 0; i-- {
		out = append(out, base58Alphabet[digits[i]])
	}
	return string(out)
}
