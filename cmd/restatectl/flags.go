package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/restatego/restate/internal/tlsconf"
)

const defaultAddress = "http://localhost:5122/"

// globalFlags are the options every command takes. They are declared here, in one place, so
// that new connection options (TLS and the like) are added beside the address.
type globalFlags struct {
	address string
	timeout time.Duration
	json    bool
	// TLS to node ports: the CA of their certificates and, for ports that require client
	// certificates, this client's pair. Any of them makes https:// the default scheme.
	caFile, certFile, keyFile string
	tlsClient                 *http.Client // built by prepareTLS when TLS is asked for
}

func (g *globalFlags) register(fs *pflag.FlagSet) {
	addr := os.Getenv("RESTATECTL_ADDRESS")
	if addr == "" {
		addr = defaultAddress
	}
	fs.StringVarP(&g.address, "address", "s", addr,
		"node address(es) to talk to (the node port, 5122), comma separated (env RESTATECTL_ADDRESS; aliases --server, --addresses)")
	fs.DurationVar(&g.timeout, "timeout", 5*time.Minute, "time limit for the whole command")
	fs.BoolVar(&g.json, "json", false, "print the answer as JSON")
	fs.StringVar(&g.caFile, "tls-ca-file", os.Getenv("RESTATECTL_TLS_CA_FILE"), "PEM file of the CA that node ports' certificates are issued by (env RESTATECTL_TLS_CA_FILE)")
	fs.StringVar(&g.certFile, "tls-cert-file", os.Getenv("RESTATECTL_TLS_CERT_FILE"), "client certificate for node ports that require one (env RESTATECTL_TLS_CERT_FILE)")
	fs.StringVar(&g.keyFile, "tls-key-file", os.Getenv("RESTATECTL_TLS_KEY_FILE"), "key of --tls-cert-file (env RESTATECTL_TLS_KEY_FILE)")
}

// prepareTLS builds the TLS client when any TLS flag is given: trusting --tls-ca-file (the
// system's roots without it) and presenting --tls-cert-file when the port requires client
// certificates.
func (g *globalFlags) prepareTLS() error {
	if g.caFile == "" && g.certFile == "" && g.keyFile == "" {
		return nil
	}
	if (g.certFile == "") != (g.keyFile == "") {
		return errors.New("--tls-cert-file and --tls-key-file must be given together")
	}
	var roots *x509.CertPool
	var err error
	if g.caFile != "" {
		if roots, err = tlsconf.LoadCA(g.caFile); err != nil {
			return err
		}
	}
	var cert *tlsconf.Reloader
	if g.certFile != "" {
		if cert, err = tlsconf.NewReloader(g.certFile, g.keyFile, slog.New(slog.DiscardHandler)); err != nil {
			return err
		}
	}
	cfg := tlsconf.Client(roots, cert)
	// TLS 1.2 even without a certificate: a node port that requires one then refuses in the
	// handshake, with a reason the error shows, instead of closing the connection afterwards.
	cfg.MaxVersion = tls.VersionTLS12
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	g.tlsClient = &http.Client{Transport: tr}
	if g.address == defaultAddress {
		g.address = "https://" + strings.TrimPrefix(defaultAddress, "http://")
	}
	return nil
}

// normalizeFlag maps Restate's alternative spellings onto the flags above.
func normalizeFlag(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	switch name {
	case "server", "addresses":
		name = "address"
	}
	return pflag.NormalizedName(name)
}

// addresses splits --address into base URLs ("host:port" gets http://).
func (g *globalFlags) addresses() []string {
	var out []string
	for _, a := range strings.Split(g.address, ",") {
		if a = strings.TrimSpace(a); a != "" {
			if !strings.Contains(a, "://") {
				if g.tlsClient != nil {
					a = "https://" + a
				} else {
					a = "http://" + a
				}
			}
			out = append(out, strings.TrimRight(a, "/"))
		}
	}
	return out
}

// httpClient is the client for the node port; its transport is where TLS settings go.
func (g *globalFlags) httpClient() *http.Client {
	if g.tlsClient != nil {
		return g.tlsClient
	}
	return &http.Client{}
}
