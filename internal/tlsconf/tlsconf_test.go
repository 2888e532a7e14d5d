package tlsconf

import (
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restatego/restate/internal/tlsconf/tlstest"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeClock is stepped by the test instead of sleeping through the check interval.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// servedSerial connects to addr and returns the serial of the certificate the server showed.
func servedSerial(t *testing.T, addr string, ca *tlstest.CA) string {
	t.Helper()
	roots, err := LoadCA(ca.File)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", addr, Client(roots, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// touch moves a file's modification time forward, so a rewrite within the file system's
// time granularity still counts as a change.
func touch(t *testing.T, path string, d time.Duration) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, st.ModTime().Add(d), st.ModTime().Add(d)); err != nil {
		t.Fatal(err)
	}
}

func TestReloaderServesReplacedCertificateAndKeepsGoodOneOnBadFiles(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "test")
	first := ca.Issue("server")
	var logs syncBuffer
	r, err := NewReloader(first.CertFile, first.KeyFile, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: r.lastCheck}
	r.now = clock.Now

	// Not httptest's TLS server: it installs its own certificate, which takes precedence.
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), TLSConfig: Server{Cert: r}.Config()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln, "", "")
	defer srv.Close()
	addr := ln.Addr().String()

	serial1 := tlstest.Serial(t, first.CertFile).String()
	if got := servedSerial(t, addr, ca); got != serial1 {
		t.Fatalf("served serial %s, want %s", got, serial1)
	}

	// A renewed pair in the same files.
	second := ca.Issue("server")
	touch(t, second.CertFile, 2*time.Second)
	touch(t, second.KeyFile, 2*time.Second)
	serial2 := tlstest.Serial(t, second.CertFile).String()
	if got := servedSerial(t, addr, ca); got != serial1 {
		t.Fatalf("reloaded within the check interval: served %s, want still %s", got, serial1)
	}
	clock.Advance(checkInterval)
	if got := servedSerial(t, addr, ca); got != serial2 {
		t.Fatalf("after the files changed the server shows serial %s, want %s", got, serial2)
	}
	if !strings.Contains(logs.String(), "reloaded the TLS certificate") {
		t.Errorf("no reload logged: %s", logs.String())
	}

	// A broken certificate file: the previous pair stays, with a warning.
	if err := os.WriteFile(second.CertFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	touch(t, second.CertFile, 4*time.Second)
	clock.Advance(checkInterval)
	if got := servedSerial(t, addr, ca); got != serial2 {
		t.Fatalf("after a bad file the server shows serial %s, want the previous %s", got, serial2)
	}
	if !strings.Contains(logs.String(), "keeping the previous one") || !strings.Contains(logs.String(), second.CertFile) {
		t.Errorf("the bad file was not reported naming it: %s", logs.String())
	}

	// A key that does not match the certificate is refused the same way.
	other := tlstest.NewCA(t, t.TempDir(), "other").Issue("x")
	mismatched := ca.Issue("server")
	keyPEM, _ := os.ReadFile(other.KeyFile)
	if err := os.WriteFile(mismatched.KeyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	touch(t, mismatched.CertFile, 6*time.Second)
	touch(t, mismatched.KeyFile, 6*time.Second)
	clock.Advance(checkInterval)
	if got := servedSerial(t, addr, ca); got != serial2 {
		t.Fatalf("after a mismatched key the server shows serial %s, want the previous %s", got, serial2)
	}
}

func TestNewReloaderNamesTheBadFile(t *testing.T) {
	dir := t.TempDir()
	pair := tlstest.NewCA(t, dir, "test").Issue("server")
	missing := dir + "/missing.pem"
	if _, err := NewReloader(missing, pair.KeyFile, nil); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing certificate: err %v does not name %s", err, missing)
	}
	if _, err := NewReloader(pair.CertFile, missing, nil); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing key: err %v does not name %s", err, missing)
	}
	garbage := dir + "/garbage.pem"
	os.WriteFile(garbage, []byte("garbage"), 0o600)
	if _, err := NewReloader(garbage, pair.KeyFile, nil); err == nil || !strings.Contains(err.Error(), garbage) {
		t.Fatalf("invalid certificate: err %v does not name %s", err, garbage)
	}
	if _, err := LoadCA(garbage); err == nil || !strings.Contains(err.Error(), garbage) {
		t.Fatalf("invalid CA: err %v does not name %s", err, garbage)
	}
}

func TestMutualTLSRefusesClientsOfAnotherAuthority(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "cluster")
	foreign := tlstest.NewCA(t, dir, "foreign")
	srvPair := ca.Issue("server")
	r, err := NewReloader(srvPair.CertFile, srvPair.KeyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := LoadCA(ca.File)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", Server{Cert: r, ClientCAs: pool}.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err != nil {
					return
				}
				c.Write([]byte("ok"))
				// Wait for the client to hang up: closing first could reset the connection
				// before the answer is read.
				io.Copy(io.Discard, c)
			}(c)
		}
	}()
	try := func(p *tlstest.Pair) error {
		var cert *Reloader
		if p != nil {
			if cert, err = NewReloader(p.CertFile, p.KeyFile, nil); err != nil {
				t.Fatal(err)
			}
		}
		conn, err := tls.Dial("tcp", ln.Addr().String(), Client(pool, cert))
		if err != nil {
			return err
		}
		defer conn.Close()
		buf := make([]byte, 2)
		_, err = io.ReadFull(conn, buf) // a refusal ends the handshake or, in TLS 1.3, the first read
		return err
	}
	good := ca.Issue("client")
	if err := try(&good); err != nil {
		t.Fatalf("client of the cluster's CA refused: %v", err)
	}
	bad := foreign.Issue("client")
	if err := try(&bad); err == nil {
		t.Fatal("client with a certificate of another CA was accepted")
	}
	if err := try(nil); err == nil {
		t.Fatal("client without a certificate was accepted")
	}
}
