// Package tlsconf turns certificate files into tls.Configs for the node's listeners and its
// node-to-node clients. Certificates are re-read when their files change, so a renewed pair
// takes effect without a restart; a broken new pair is refused and the last good one stays.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// checkInterval bounds how often the files' modification times are looked at: a handshake
// costs at most two stat calls a second, however many connections arrive.
const checkInterval = time.Second

// Reloader holds a certificate and key pair loaded from files and reloads it when either
// file's modification time changes. Its methods are safe for concurrent use.
type Reloader struct {
	certFile, keyFile string
	logger            *slog.Logger
	now               func() time.Time

	mu        sync.Mutex // guards everything below; held across a reload, never across I/O of a handshake
	cert      *tls.Certificate
	certMod   time.Time
	keyMod    time.Time
	lastCheck time.Time
}

// NewReloader loads the pair once; an error names the file that is missing or invalid.
func NewReloader(certFile, keyFile string, logger *slog.Logger) (*Reloader, error) {
	if logger == nil {
		logger = slog.Default()
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, logger: logger, now: time.Now}
	cert, certMod, keyMod, err := r.load()
	if err != nil {
		return nil, err
	}
	r.cert, r.certMod, r.keyMod, r.lastCheck = cert, certMod, keyMod, r.now()
	return r, nil
}

// load reads both files and checks that they form a pair.
func (r *Reloader) load() (*tls.Certificate, time.Time, time.Time, error) {
	certMod, err := modTime(r.certFile)
	if err != nil {
		return nil, time.Time{}, time.Time{}, fmt.Errorf("TLS certificate file %s: %w", r.certFile, err)
	}
	keyMod, err := modTime(r.keyFile)
	if err != nil {
		return nil, time.Time{}, time.Time{}, fmt.Errorf("TLS key file %s: %w", r.keyFile, err)
	}
	certPEM, err := os.ReadFile(r.certFile)
	if err != nil {
		return nil, time.Time{}, time.Time{}, fmt.Errorf("TLS certificate file %s: %w", r.certFile, err)
	}
	keyPEM, err := os.ReadFile(r.keyFile)
	if err != nil {
		return nil, time.Time{}, time.Time{}, fmt.Errorf("TLS key file %s: %w", r.keyFile, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, time.Time{}, time.Time{}, fmt.Errorf("TLS certificate %s with key %s: %w", r.certFile, r.keyFile, err)
	}
	return &cert, certMod, keyMod, nil
}

func modTime(path string) (time.Time, error) {
	st, err := os.Stat(path)
	if err != nil {
		return time.Time{}, err
	}
	return st.ModTime(), nil
}

// Certificate returns the current pair, reloading it first if the files changed since the
// last look (at most once per checkInterval).
func (r *Reloader) Certificate() *tls.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.lastCheck) < checkInterval {
		return r.cert
	}
	r.lastCheck = now
	certMod, err1 := modTime(r.certFile)
	keyMod, err2 := modTime(r.keyFile)
	if err := errors.Join(err1, err2); err != nil {
		r.logger.Warn("TLS certificate files unreadable; keeping the loaded certificate", "cert-file", r.certFile, "key-file", r.keyFile, "err", err)
		return r.cert
	}
	if certMod.Equal(r.certMod) && keyMod.Equal(r.keyMod) {
		return r.cert
	}
	cert, loadedCertMod, loadedKeyMod, err := r.load()
	if err != nil {
		// Remember the times anyway: a half-written pair is retried when it changes again,
		// not logged on every handshake.
		r.certMod, r.keyMod = certMod, keyMod
		r.logger.Warn("reloading the TLS certificate failed; keeping the previous one", "err", err)
		return r.cert
	}
	r.cert, r.certMod, r.keyMod = cert, loadedCertMod, loadedKeyMod
	r.logger.Info("reloaded the TLS certificate", "cert-file", r.certFile)
	return r.cert
}

// GetCertificate is for tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.Certificate(), nil
}

// GetClientCertificate is for tls.Config.GetClientCertificate.
func (r *Reloader) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return r.Certificate(), nil
}

// LoadCA reads a PEM bundle of trusted authorities; an error names the file.
func LoadCA(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("TLS CA file %s: %w", path, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("TLS CA file %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// Server is the TLS configuration of one listener: a certificate, and optionally the
// authorities that client certificates must be issued by (mutual TLS).
type Server struct {
	Cert *Reloader
	// ClientCAs, when set, makes a client certificate from one of them mandatory.
	ClientCAs *x509.CertPool
}

// Config returns the tls.Config of the listener, offering HTTP/2 and HTTP/1.1 by ALPN.
func (s Server) Config() *tls.Config {
	c := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: s.Cert.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
	if s.ClientCAs != nil {
		c.ClientCAs = s.ClientCAs
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c
}

// Client returns the tls.Config of a client that trusts roots (nil: the system's) and, when
// cert is set, presents it to servers that ask for one.
//
// A client with a certificate speaks TLS 1.2: in TLS 1.3 the server judges the client's
// certificate after the client's handshake has already succeeded, so a refused certificate
// shows up later as a broken connection without a reason. In TLS 1.2 the refusal ("bad
// certificate", "unknown certificate authority") ends the client's own handshake, and the
// node that was refused can log why. Both versions use ECDHE and AEAD ciphers by default.
func Client(roots *x509.CertPool, cert *Reloader) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	if cert != nil {
		c.GetClientCertificate = cert.GetClientCertificate
		c.MaxVersion = tls.VersionTLS12
	}
	return c
}
