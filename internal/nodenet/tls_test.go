package nodenet

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/restatego/restate/internal/tlsconf"
	"github.com/restatego/restate/internal/tlsconf/tlstest"
)

// serveTLS serves s on a mutual-TLS node port whose clients must hold a certificate of ca.
func serveTLS(t *testing.T, s *Server, ca *tlstest.CA) string {
	t.Helper()
	pair := ca.Issue("server")
	r, err := tlsconf.NewReloader(pair.CertFile, pair.KeyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := tlsconf.LoadCA(ca.File)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	srv := &http.Server{Handler: s, Protocols: &protocols, TLSConfig: tlsconf.Server{Cert: r, ClientCAs: pool}.Config()}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String() + "/"
}

func clientTLS(t *testing.T, trust *tlstest.CA, pair tlstest.Pair) *tls.Config {
	t.Helper()
	r, err := tlsconf.NewReloader(pair.CertFile, pair.KeyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := tlsconf.LoadCA(trust.File)
	if err != nil {
		t.Fatal(err)
	}
	return tlsconf.Client(pool, r)
}

func TestMutualTLSCallsAndRefusals(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "cluster")
	foreign := tlstest.NewCA(t, dir, "foreign")
	s := NewServer()
	s.Handle("echo", func(ctx context.Context, from uint64, req []byte) ([]byte, error) { return req, nil })
	addr := serveTLS(t, s, ca)
	call := func(cfg *tls.Config) error {
		c := NewClient(2, func(uint64) (string, bool) { return addr, true }, nil, cfg)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := c.Call(ctx, 1, "echo", []byte("hi"))
		if err == nil && string(out) != "hi" {
			t.Fatalf("echo answered %q", out)
		}
		return err
	}
	if err := call(clientTLS(t, ca, ca.Issue("member"))); err != nil {
		t.Fatalf("a member of the cluster's CA was refused: %v", err)
	}
	// Trusts the cluster, but the cluster does not trust its certificate.
	err := call(clientTLS(t, ca, foreign.Issue("intruder")))
	if err == nil || !IsHandshakeError(err) {
		t.Fatalf("a client certificate of another CA: err %v, want a handshake error", err)
	}
	// Its own CA only: it does not trust the cluster's server certificate.
	err = call(clientTLS(t, foreign, foreign.Issue("stranger")))
	if err == nil || !IsHandshakeError(err) {
		t.Fatalf("a server certificate of an untrusted CA: err %v, want a handshake error", err)
	}
	// Plain h2c against a TLS port fails too.
	if err := call(nil); err == nil {
		t.Fatal("an h2c client reached a TLS node port")
	}
}
