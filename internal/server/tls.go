package server

import (
	"crypto/tls"
	"log/slog"
	"strings"

	"github.com/restatego/restate/internal/config"
	"github.com/restatego/restate/internal/tlsconf"
)

// listenerTLS holds the TLS configurations of the node's listeners and of its connections to
// other nodes; nil fields mean plain HTTP.
type listenerTLS struct {
	ingress, admin, node *tls.Config
	// client is what nodenet dials other nodes' ports with.
	client *tls.Config
}

// loadTLS reads every configured certificate once, so a missing or broken file stops the
// node at start with an error naming it; later changes are picked up by the reloaders.
func loadTLS(o *config.Options, logger *slog.Logger) (listenerTLS, error) {
	var out listenerTLS
	reloaders := map[config.TLSPair]*tlsconf.Reloader{}
	load := func(p config.TLSPair) (*tlsconf.Reloader, error) {
		if r := reloaders[p]; r != nil {
			return r, nil
		}
		r, err := tlsconf.NewReloader(p.CertFile, p.KeyFile, logger.With("component", "tls"))
		if err != nil {
			return nil, err
		}
		reloaders[p] = r
		return r, nil
	}
	if p := o.IngressTLS(); p.Enabled() && o.HasRole(config.RoleHTTPIngress) {
		r, err := load(p)
		if err != nil {
			return out, err
		}
		out.ingress = tlsconf.Server{Cert: r}.Config()
	}
	if p := o.AdminTLS(); p.Enabled() && o.HasRole(config.RoleAdmin) {
		r, err := load(p)
		if err != nil {
			return out, err
		}
		out.admin = tlsconf.Server{Cert: r}.Config()
	}
	if p := o.NodeTLS(); p.Enabled() {
		r, err := load(p)
		if err != nil {
			return out, err
		}
		srv := tlsconf.Server{Cert: r}
		if o.TLSCAFile != "" {
			if srv.ClientCAs, err = tlsconf.LoadCA(o.TLSCAFile); err != nil {
				return out, err
			}
		}
		out.node = srv.Config()
		// Peers are verified against the same CA that their client certificates are; without
		// a CA file the system's roots decide.
		out.client = tlsconf.Client(srv.ClientCAs, r)
	}
	return out, nil
}

// httpErrorLog turns the HTTP server's own error lines into warnings; a refused TLS
// handshake (a peer with a certificate of another authority, or none) is the one an
// operator needs to see, so it gets its own message.
type httpErrorLog struct {
	logger   *slog.Logger
	listener string
}

func (w httpErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if strings.Contains(msg, "TLS handshake error") {
		w.logger.Warn("rejected a TLS handshake", "listener", w.listener, "err", msg)
	} else {
		w.logger.Warn("http server", "listener", w.listener, "err", msg)
	}
	return len(p), nil
}
