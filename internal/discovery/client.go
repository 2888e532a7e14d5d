package discovery

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/restatego/restate/internal/identity"
	"github.com/restatego/restate/internal/netguard"
	"github.com/restatego/restate/internal/redact"
)

// acceptHeader lists every manifest version we can decode, as Restate sends it. SDKs pick the
// highest one they know and echo it as the response content type.
const acceptHeader = "application/vnd.restate.endpointmanifest.v1+json, " +
	"application/vnd.restate.endpointmanifest.v2+json, " +
	"application/vnd.restate.endpointmanifest.v3+json, " +
	"application/vnd.restate.endpointmanifest.v4+json"

const (
	minManifestVersion = 1
	maxManifestVersion = 4
)

// Request says where and how to discover a deployment.
type Request struct {
	// URI is the absolute http(s) URI of the deployment. It may carry a path prefix; the
	// discover path is appended to it.
	URI string
	// AdditionalHeaders are sent with the discover request (and later with every invocation).
	AdditionalHeaders map[string]string
	// UseHTTP11 makes plain-http discovery use HTTP/1.1 instead of h2c prior knowledge.
	// https deployments always negotiate with ALPN.
	UseHTTP11 bool
}

// Result is a successful discovery.
type Result struct {
	Manifest *Manifest
	// ManifestVersion is the endpoint manifest version the deployment answered with (1..4).
	ManifestVersion int
	// HTTPVersion is the protocol of the discover response, e.g. "HTTP/2.0" or "HTTP/1.1".
	HTTPVersion string
	// SDKVersion is the deployment's x-restate-server header, e.g. "restate-sdk-go/v1.2.0".
	SDKVersion string
	// ProtocolVersion is the service protocol version chosen for this deployment.
	ProtocolVersion int
}

// ClientOptions tune the client. Zero values take the defaults noted on each field.
type ClientOptions struct {
	// ConnectTimeout bounds TCP connect plus TLS handshake. Default 10s.
	ConnectTimeout time.Duration
	// RequestTimeout bounds the discovery, from the first connect to the last body byte of the
	// answer, retries included. Default 30s.
	RequestTimeout time.Duration
	// MaxAttempts is how often a transient failure (no connection, 408/429/5xx) is tried.
	// Default 3.
	MaxAttempts int
	// RetryInterval is the pause before the second attempt; it doubles after each. Default 200ms.
	RetryInterval time.Duration
	// MaxManifestSize caps the manifest body. Default 32 MiB.
	MaxManifestSize int64
	// TLSClientConfig is used for https deployments; nil means system roots.
	TLSClientConfig *tls.Config
	// Identity, when set, signs every discover request with Restate's request identity v1.
	Identity *identity.Signer
	// DialContext, if set, opens connections instead of a plain dialer (the server passes
	// one that enforces deployment-allowed-addresses).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (o ClientOptions) withDefaults() ClientOptions {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = 200 * time.Millisecond
	}
	if o.MaxManifestSize <= 0 {
		o.MaxManifestSize = 32 << 20
	}
	return o
}

// Client discovers deployments. It is safe for concurrent use.
type Client struct {
	opts ClientOptions
	// One transport per wire protocol: h2c prior knowledge for http://, ALPN for https://,
	// HTTP/1.1 for http:// deployments registered with use_http_11.
	h2c, alpn, http1 *http.Transport
}

// NewClient builds a client.
func NewClient(opts ClientOptions) *Client {
	opts = opts.withDefaults()
	newTransport := func(protocols func(*http.Protocols)) *http.Transport {
		dial := opts.DialContext
		if dial == nil {
			dial = (&net.Dialer{Timeout: opts.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext
		}
		var p http.Protocols
		protocols(&p)
		return &http.Transport{
			DialContext:         dial,
			TLSHandshakeTimeout: opts.ConnectTimeout,
			TLSClientConfig:     opts.TLSClientConfig,
			Protocols:           &p,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     60 * time.Second,
		}
	}
	return &Client{
		opts: opts,
		h2c:  newTransport(func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) }),
		alpn: newTransport(func(p *http.Protocols) { p.SetHTTP1(true); p.SetHTTP2(true) }),
		http1: newTransport(func(p *http.Protocols) {
			p.SetHTTP1(true)
		}),
	}
}

// CloseIdleConnections releases pooled connections.
func (c *Client) CloseIdleConnections() {
	c.h2c.CloseIdleConnections()
	c.alpn.CloseIdleConnections()
	c.http1.CloseIdleConnections()
}

// DiscoverURL is the URL the discover request goes to: the deployment URI with "/discover"
// appended to its path (so a path prefix is kept) and any query dropped.
func DiscoverURL(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("invalid deployment uri %q: %w", uri, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("invalid deployment uri %q: it must be an absolute http:// or https:// URI", uri)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/discover"
	u.RawPath = ""
	u.RawQuery = ""
	u.Fragment = ""
	return u.String(), nil
}

// Discover fetches and decodes the manifest of the deployment at req.URI. Every failure is an
// *Error.
func (c *Client) Discover(ctx context.Context, req Request) (*Result, error) {
	target, err := DiscoverURL(req.URI)
	if err != nil {
		return nil, &Error{Kind: KindUnreachable, msg: err.Error(), Err: err}
	}
	transport := c.transportFor(target, req.UseHTTP11)

	// RequestTimeout bounds the whole discovery, retries included: the error says "no response
	// within RequestTimeout", and a deployment that never answers must fail after that long,
	// not after MaxAttempts times it. Retries only fill what is left of the budget.
	deadline := time.Now().Add(c.opts.RequestTimeout)
	wait := c.opts.RetryInterval
	for attempt := 1; ; attempt++ {
		res, err := c.attempt(ctx, deadline, transport, target, req.AdditionalHeaders)
		if err == nil || attempt >= c.opts.MaxAttempts || !retryable(err) || ctx.Err() != nil ||
			time.Until(deadline) <= wait {
			return res, redactError(err)
		}
		select {
		case <-ctx.Done():
			return nil, redactError(err)
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// redactError hides the user info of the deployment URI in an error's message and URL: the
// message reaches admin answers and logs.
func redactError(err error) error {
	if de, ok := AsError(err); ok {
		de.msg = redact.Text(de.msg)
		de.URL = redact.URI(de.URL)
	}
	return err
}

func (c *Client) transportFor(target string, useHTTP11 bool) *http.Transport {
	switch {
	case strings.HasPrefix(target, "https://"):
		return c.alpn
	case useHTTP11:
		return c.http1
	default:
		return c.h2c
	}
}

func retryable(err error) bool {
	de, ok := AsError(err)
	if !ok || errors.Is(err, netguard.ErrNotAllowed) {
		return false
	}
	switch de.Kind {
	case KindUnreachable:
		return true
	case KindBadStatus:
		switch de.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
	}
	return false
}

func (c *Client) attempt(parent context.Context, deadline time.Time, transport *http.Transport, target string, headers map[string]string) (*Result, error) {
	ctx, cancel := context.WithDeadline(parent, deadline)
	defer cancel()

	httpReq, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, &Error{Kind: KindUnreachable, URL: target, Err: err, msg: fmt.Sprintf("cannot build the discover request for %s: %v", target, err)}
	}
	for k, v := range headers {
		if strings.EqualFold(k, "host") {
			httpReq.Host = v
			continue
		}
		httpReq.Header.Set(k, v)
	}
	httpReq.Header.Set("Accept", acceptHeader)
	// A URI with user info means basic authentication, as http.Client would send it (the
	// transport alone ignores it); explicit additional headers win.
	if u := httpReq.URL.User; u != nil && httpReq.Header.Get("Authorization") == "" {
		pw, _ := u.Password()
		httpReq.SetBasicAuth(u.Username(), pw)
	}
	c.sign(httpReq.Header)

	resp, err := transport.RoundTrip(httpReq)
	if err != nil {
		if transport == c.h2c && c.speaksOnlyHTTP11(ctx, target, err) {
			return nil, &Error{Kind: KindHTTP11Only, URL: target, Err: err, msg: fmt.Sprintf(
				"cannot discover %s over HTTP/2 (h2c prior knowledge): the server appears to speak HTTP/1.1 only. Register the deployment with use_http_11 (restate deployments register --use-http1.1): %v",
				target, unwrapURLError(err))}
		}
		return nil, c.transportError(parent, target, err)
	}
	defer resp.Body.Close()

	body, readErr := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxManifestSize+1))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := statusError(target, resp.StatusCode, body)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			e.msg += c.identityHint()
		}
		return nil, e
	}
	if readErr != nil {
		return nil, &Error{Kind: KindUnreachable, URL: target, Err: readErr,
			msg: fmt.Sprintf("cannot read the discover response body from %s: %v", target, readErr)}
	}
	if int64(len(body)) > c.opts.MaxManifestSize {
		e := badResponse(fmt.Sprintf("the endpoint manifest is larger than %d bytes", c.opts.MaxManifestSize))
		e.URL = target
		return nil, e
	}

	manifestVersion, verr := manifestVersionOf(resp.Header.Get("Content-Type"))
	if verr != nil {
		verr.URL = target
		return nil, verr
	}
	manifest, perr := ParseManifest(body)
	if perr != nil {
		if de, ok := AsError(perr); ok {
			de.URL = target
		}
		return nil, perr
	}
	if manifest.ProtocolMode == ProtocolModeBidiStream && resp.ProtoMajor == 1 && resp.ProtoMinor == 0 {
		return nil, &Error{Kind: KindBidiNotSupported, URL: target,
			msg: "the SDK reports itself as being in bidirectional protocol mode, but we are not discovering over a transport that supports it. Discovering with Lambda or HTTP < 1.1 is not supported"}
	}
	version, ok := NegotiateProtocolVersion(manifest.MinProtocolVersion, manifest.MaxProtocolVersion)
	if !ok {
		return nil, &Error{Kind: KindUnsupportedProtocol, URL: target, msg: fmt.Sprintf(
			"unsupported service protocol versions: [%d, %d]. Supported versions by this runtime are [%d, %d]. Please upgrade the SDK and try registering again.",
			manifest.MinProtocolVersion, manifest.MaxProtocolVersion, MinServiceProtocolVersion, MaxServiceProtocolVersion)}
	}
	return &Result{
		Manifest:        manifest,
		ManifestVersion: manifestVersion,
		HTTPVersion:     resp.Proto,
		SDKVersion:      resp.Header.Get("X-Restate-Server"),
		ProtocolVersion: version,
	}, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (c *Client) transportError(parent context.Context, target string, err error) *Error {
	inner := unwrapURLError(err)
	if parent.Err() != nil {
		return &Error{Kind: KindUnreachable, URL: target, Err: err, msg: fmt.Sprintf(
			"discovery of %s was abandoned: %v", target, context.Cause(parent))}
	}
	if errors.Is(inner, context.DeadlineExceeded) {
		return &Error{Kind: KindUnreachable, URL: target, Err: err, msg: fmt.Sprintf(
			"cannot reach the deployment at %s: no response within %s", target, c.opts.RequestTimeout)}
	}
	return &Error{Kind: KindUnreachable, URL: target, Err: err, msg: fmt.Sprintf(
		"cannot reach the deployment at %s: %v", target, inner)}
}

// speaksOnlyHTTP11 tells whether an h2c failure came from a server that only speaks HTTP/1.1.
// The HTTP/2 client reports that case in several ways depending on timing, so instead of
// matching error texts we ask the same URL again over HTTP/1.1: any HTTP answer settles it.
// Connect failures and timeouts are not probed; they mean the server is not there at all.
func (c *Client) speaksOnlyHTTP11(ctx context.Context, target string, h2cErr error) bool {
	var opErr *net.OpError
	if errors.As(h2cErr, &opErr) && opErr.Op == "dial" {
		return false
	}
	if errors.Is(h2cErr, context.DeadlineExceeded) || errors.Is(h2cErr, context.Canceled) || ctx.Err() != nil {
		return false
	}
	probe, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return false
	}
	probe.Header.Set("Accept", acceptHeader)
	c.sign(probe.Header)
	resp, err := c.http1.RoundTrip(probe)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.ProtoMajor == 1
}

// discoverPath is the audience of a discover request's identity token: the path relative to the
// deployment URI, as Restate signs it (a URI's path prefix is not part of it).
const discoverPath = "/discover"

func (c *Client) sign(h http.Header) {
	if c.opts.Identity != nil {
		c.opts.Identity.SetHeaders(h, discoverPath, nil)
	}
}

// identityHint explains a refusal by a deployment that may verify request identity.
func (c *Client) identityHint() string {
	if c.opts.Identity == nil {
		return ". If the deployment verifies request identity, configure this server's key with worker.invoker.request-identity-private-key-pem-file and give the SDK its public key"
	}
	return fmt.Sprintf(". If the deployment verifies request identity, its keys must include this server's public key %s", c.opts.Identity.KeyID())
}

func statusError(target string, status int, body []byte) *Error {
	if status == http.StatusNotFound {
		return &Error{Kind: KindBadStatus, URL: target, StatusCode: status, msg: fmt.Sprintf(
			"got status code '404' from %s. Make sure the provided URI has the correct path where the Restate SDK endpoint is mounted. Body: %s",
			target, snippet(body))}
	}
	return &Error{Kind: KindBadStatus, URL: target, StatusCode: status, msg: fmt.Sprintf(
		"got status code '%d' from %s. Body: %s", status, target, snippet(body))}
}

// manifestVersionOf reads the manifest version from the response content type. Anything but an
// endpoint manifest media type means the URI does not point at a Restate SDK endpoint.
func manifestVersionOf(contentType string) (int, *Error) {
	if contentType == "" {
		return 0, badResponse(fmt.Sprintf("No content type header was specified. Expected one of '%s' content type.", acceptHeader))
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err == nil {
		const prefix, suffix = "application/vnd.restate.endpointmanifest.v", "+json"
		if v, ok := strings.CutPrefix(mediaType, prefix); ok {
			if v, ok := strings.CutSuffix(v, suffix); ok {
				if n, err := strconv.Atoi(v); err == nil && n >= minManifestVersion && n <= maxManifestVersion {
					return n, nil
				}
			}
		}
	}
	return 0, badResponse(fmt.Sprintf("Bad content type header: %q. Expected one of '%s'. Is the URI pointing at a Restate SDK endpoint?", contentType, acceptHeader))
}
