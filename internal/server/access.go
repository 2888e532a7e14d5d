package server

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/restatego/restate/internal/authn"
	"github.com/restatego/restate/internal/config"
	"github.com/restatego/restate/internal/netguard"
)

// accessControl is the node's access configuration, built once at start.
type accessControl struct {
	// allow limits the addresses of deployments; nil allows all.
	allow *netguard.AllowList
	// ingress and admin wrap the two APIs' handlers (identity when authentication is off).
	ingress, admin func(http.Handler) http.Handler
}

// newAccessControl reads the token files and the allow-list. A token file that cannot be
// read stops the node with an error naming it.
func newAccessControl(opts *config.Options, n *Node) (*accessControl, error) {
	ac := &accessControl{}
	var err error
	if ac.allow, err = netguard.Parse("deployment-allowed-addresses", opts.DeploymentAllowedAddresses); err != nil {
		return nil, err
	}
	// Admin: /health stays open for health checks (Restate's Docker image and the harness
	// poll it); everything else needs a token.
	adminOpen := func(r *http.Request) bool {
		return (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
			(r.URL.Path == "/health" || r.URL.Path == "/v2/health")
	}
	adminBody := func(_ int, msg string) any { return map[string]any{"message": msg, "restate_code": nil} }
	if ac.admin, err = guard(n, "admin", opts.Admin.AuthTokensFile, opts.Admin.AuthTokens, "restate-admin", adminOpen, adminBody); err != nil {
		return nil, err
	}
	// Ingress: its health route and CORS preflights (which carry no credentials) stay open.
	ingressOpen := func(r *http.Request) bool {
		return r.URL.Path == "/restate/health" || authn.IsCORSPreflight(r)
	}
	ingressBody := func(status int, msg string) any {
		return map[string]any{"code": status, "message": msg, "source": "ingress"}
	}
	if ac.ingress, err = guard(n, "ingress", opts.Ingress.AuthTokensFile, opts.Ingress.AuthTokens, "restate-ingress", ingressOpen, ingressBody); err != nil {
		return nil, err
	}
	return ac, nil
}

func guard(n *Node, api, file string, inline []config.Secret, realm string, open func(*http.Request) bool, body func(int, string) any) (func(http.Handler) http.Handler, error) {
	if file == "" && len(inline) == 0 {
		return func(h http.Handler) http.Handler { return h }, nil
	}
	tokens := make([]string, len(inline))
	for i, s := range inline {
		tokens[i] = s.Reveal()
	}
	set, err := authn.NewTokens(authn.Options{Tokens: tokens, File: file, Setting: api + ".auth-tokens-file",
		InlineSetting: api + ".auth-tokens", Logger: n.logger})
	if err != nil {
		return nil, err
	}
	n.logger.Info("bearer-token authentication is on", "api", api, "tokens", set.Len(), "file", file)
	g := &authn.Guard{Tokens: set, Realm: realm, Open: open, ErrorBody: body}
	return g.Wrap, nil
}

// deploymentDialer is how the discovery client and the invoker connect to deployments:
// within deployment-allowed-addresses, checked against each resolved address.
func (ac *accessControl) deploymentDialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return ac.allow.DialContext(&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second})
}
