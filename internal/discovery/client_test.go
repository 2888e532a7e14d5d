package discovery

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/restatego/restate/internal/netguard"
)

const v4ContentType = "application/vnd.restate.endpointmanifest.v4+json"

// startServer serves h on 127.0.0.1 speaking HTTP/1.1 and h2c on the same port, like sdk-go's
// Start does.
func startServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// startHTTP1Server serves h over HTTP/1.1 only (no h2c).
func startHTTP1Server(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func manifestHandler(contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("X-Restate-Server", "test-sdk/1.0")
		_, _ = w.Write([]byte(body))
	}
}

func fastClient() *Client {
	return NewClient(ClientOptions{ConnectTimeout: 2 * time.Second, RequestTimeout: 5 * time.Second, RetryInterval: 10 * time.Millisecond})
}

func TestDiscoverH2CSendsHeadersAndRecordsFacts(t *testing.T) {
	var gotPath, gotAccept, gotAuth, gotProto string
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAccept, gotAuth, gotProto = r.URL.Path, r.Header.Get("Accept"), r.Header.Get("Authorization"), r.Proto
		manifestHandler(v4ContentType, sdkLikeManifest)(w, r)
	}))
	c := fastClient()
	defer c.CloseIdleConnections()

	res, err := c.Discover(context.Background(), Request{
		URI:               srv.URL + "/prefix/",
		AdditionalHeaders: map[string]string{"authorization": "Bearer x"},
	})
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	if gotPath != "/prefix/discover" {
		t.Errorf("path = %q", gotPath)
	}
	if gotProto != "HTTP/2.0" || res.HTTPVersion != "HTTP/2.0" {
		t.Errorf("want h2c prior knowledge: server saw %q, result %q", gotProto, res.HTTPVersion)
	}
	for _, v := range []string{"v1+json", "v2+json", "v3+json", "v4+json"} {
		if !strings.Contains(gotAccept, "application/vnd.restate.endpointmanifest."+v) {
			t.Errorf("accept %q lacks %s", gotAccept, v)
		}
	}
	if gotAuth != "Bearer x" {
		t.Errorf("additional header not sent: %q", gotAuth)
	}
	if res.SDKVersion != "test-sdk/1.0" || res.ManifestVersion != 4 || res.ProtocolVersion != 7 {
		t.Errorf("result facts: %+v", res)
	}
	if len(res.Manifest.Services) != 3 {
		t.Errorf("services: %d", len(res.Manifest.Services))
	}
}

func TestDiscoverHTTP11WhenAsked(t *testing.T) {
	var gotProto string
	srv := startHTTP1Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotProto = r.Proto
		manifestHandler("application/vnd.restate.endpointmanifest.v2+json", sdkLikeManifest)(w, r)
	}))
	res, err := fastClient().Discover(context.Background(), Request{URI: srv.URL, UseHTTP11: true})
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	if gotProto != "HTTP/1.1" || res.HTTPVersion != "HTTP/1.1" || res.ManifestVersion != 2 {
		t.Errorf("server saw %q, result %+v", gotProto, res)
	}
}

func TestDiscoverHTTPSUsesALPN(t *testing.T) {
	srv := httptest.NewUnstartedServer(manifestHandler(v4ContentType, sdkLikeManifest))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	c := NewClient(ClientOptions{TLSClientConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig})
	res, err := c.Discover(context.Background(), Request{URI: srv.URL})
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	if res.HTTPVersion != "HTTP/2.0" {
		t.Errorf("ALPN should pick h2, got %q", res.HTTPVersion)
	}
}

func TestDiscoverHTTP11OnlyServerOverH2C(t *testing.T) {
	srv := startHTTP1Server(t, manifestHandler(v4ContentType, sdkLikeManifest))
	c := NewClient(ClientOptions{MaxAttempts: 1, RequestTimeout: 5 * time.Second})
	_, err := c.Discover(context.Background(), Request{URI: srv.URL})
	de, ok := AsError(err)
	if !ok {
		t.Fatalf("want *Error, got %v", err)
	}
	if de.Kind != KindHTTP11Only || de.RestateCode() != CodeHTTP11Only {
		t.Fatalf("kind %v code %q: %v", de.Kind, de.RestateCode(), err)
	}
	if !strings.Contains(err.Error(), "use_http_11") {
		t.Errorf("message should suggest use_http_11: %v", err)
	}
}

func TestDiscoverConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	_, err = fastClient().Discover(context.Background(), Request{URI: "http://" + addr})
	de, ok := AsError(err)
	if !ok || de.Kind != KindUnreachable || de.RestateCode() != CodeDiscoveryFailed {
		t.Fatalf("want unreachable META0003, got %v", err)
	}
	if !strings.Contains(err.Error(), "http://"+addr+"/discover") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("message should name the URL and the cause: %v", err)
	}
}

func TestDiscoverTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer close(release)
	c := NewClient(ClientOptions{RequestTimeout: 100 * time.Millisecond, MaxAttempts: 1})
	_, err := c.Discover(context.Background(), Request{URI: srv.URL})
	de, ok := AsError(err)
	if !ok || de.Kind != KindUnreachable || !strings.Contains(err.Error(), "no response within 100ms") {
		t.Fatalf("want timeout error, got %v", err)
	}
}

func TestDiscoverStatusErrors(t *testing.T) {
	var calls atomic.Int32
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if strings.HasPrefix(r.URL.Path, "/missing") {
			http.Error(w, "no such thing", http.StatusNotFound)
			return
		}
		http.Error(w, "boom", http.StatusServiceUnavailable)
	}))
	c := fastClient()

	_, err := c.Discover(context.Background(), Request{URI: srv.URL + "/missing"})
	de, _ := AsError(err)
	if de == nil || de.Kind != KindBadStatus || de.StatusCode != 404 || de.RestateCode() != CodeDiscoveryFailed {
		t.Fatalf("404: %v", err)
	}
	if !strings.Contains(err.Error(), "correct path") || !strings.Contains(err.Error(), "no such thing") {
		t.Errorf("404 message: %v", err)
	}
	if n := calls.Swap(0); n != 1 {
		t.Errorf("404 must not be retried, got %d calls", n)
	}

	_, err = c.Discover(context.Background(), Request{URI: srv.URL})
	de, _ = AsError(err)
	if de == nil || de.StatusCode != 503 || !strings.Contains(err.Error(), "'503'") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("503: %v", err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("503 should be tried 3 times, got %d", n)
	}
}

func TestDiscoverRetriesThenSucceeds(t *testing.T) {
	var calls atomic.Int32
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "warming up", http.StatusBadGateway)
			return
		}
		manifestHandler(v4ContentType, sdkLikeManifest)(w, r)
	}))
	if _, err := fastClient().Discover(context.Background(), Request{URI: srv.URL}); err != nil {
		t.Fatalf("Discover: %v", err)
	}
	if calls.Load() != 2 {
		t.Fatalf("calls = %d", calls.Load())
	}
}

func TestDiscoverNotARestateEndpoint(t *testing.T) {
	cases := []struct {
		name, contentType, body string
		kind                    Kind
		contains                string
	}{
		{"html page", "text/html", "<html></html>", KindBadResponse, "Bad content type header"},
		{"plain json", "application/json", `{"hello":1}`, KindBadResponse, "Restate SDK endpoint"},
		{"no content type", "", "x", KindBadResponse, "No content type header"},
		{"unknown manifest version", "application/vnd.restate.endpointmanifest.v9+json", sdkLikeManifest, KindBadResponse, "Bad content type header"},
		{"garbage body", v4ContentType, "{not json", KindDecode, "cannot be decoded"},
		{"old protocol", v4ContentType, `{"protocolMode":"BIDI_STREAM","minProtocolVersion":1,"maxProtocolVersion":4,"services":[]}`, KindUnsupportedProtocol, "unsupported service protocol versions: [1, 4]. Supported versions by this runtime are [5, 7]"},
		{"future protocol", v4ContentType, `{"protocolMode":"BIDI_STREAM","minProtocolVersion":8,"maxProtocolVersion":9,"services":[]}`, KindUnsupportedProtocol, "[8, 9]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.contentType == "" {
					w.Header()["Content-Type"] = nil
				} else {
					w.Header().Set("Content-Type", tc.contentType)
				}
				_, _ = w.Write([]byte(tc.body))
			}))
			_, err := fastClient().Discover(context.Background(), Request{URI: srv.URL})
			de, ok := AsError(err)
			if !ok || de.Kind != tc.kind {
				t.Fatalf("want kind %v, got %v", tc.kind, err)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("error %q lacks %q", err, tc.contains)
			}
			if !strings.Contains(err.Error(), srv.URL) {
				t.Errorf("error should name the URL: %v", err)
			}
		})
	}
}

func TestDiscoverManifestTooLarge(t *testing.T) {
	srv := startServer(t, manifestHandler(v4ContentType, sdkLikeManifest))
	c := NewClient(ClientOptions{MaxManifestSize: 100})
	_, err := c.Discover(context.Background(), Request{URI: srv.URL})
	de, ok := AsError(err)
	if !ok || de.Kind != KindBadResponse || !strings.Contains(err.Error(), "larger than 100 bytes") {
		t.Fatalf("got %v", err)
	}
}

func TestDiscoverRespectsContext(t *testing.T) {
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	c := NewClient(ClientOptions{RetryInterval: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Discover(ctx, Request{URI: srv.URL})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("want a prompt error, got %v after %v", err, time.Since(start))
	}

	// A caller deadline during the request is reported as such, not as a slow deployment.
	slow := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	_, err = c.Discover(ctx2, Request{URI: slow.URL})
	if err == nil || !strings.Contains(err.Error(), "abandoned") {
		t.Fatalf("want an abandoned discovery, got %v", err)
	}
}

// TestDiscoverNeverAnsweringStopsAtTheStatedTimeout: a deployment that accepts connections and
// never answers fails the discovery after RequestTimeout, the time the error names, even though
// timeouts are otherwise retried (it used to take MaxAttempts timeouts plus the pauses between).
func TestDiscoverNeverAnsweringStopsAtTheStatedTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conns = append(conns, c) // held open, never read from or written to
		}
	}()
	const timeout = 300 * time.Millisecond
	c := NewClient(ClientOptions{RequestTimeout: timeout, RetryInterval: 50 * time.Millisecond})
	defer c.CloseIdleConnections()
	for _, http11 := range []bool{false, true} {
		start := time.Now()
		_, err := c.Discover(context.Background(), Request{URI: "http://" + ln.Addr().String(), UseHTTP11: http11})
		took := time.Since(start)
		de, ok := AsError(err)
		if !ok || de.Kind != KindUnreachable || !strings.Contains(err.Error(), "no response within 300ms") {
			t.Fatalf("http1.1=%v: want a timeout error naming 300ms, got %v", http11, err)
		}
		// Three attempts of 300ms with pauses would take over a second.
		if took < timeout || took > 2*timeout {
			t.Fatalf("http1.1=%v: discovery took %s, its error says %s", http11, took, timeout)
		}
	}
}

// TestDiscoverRetriesWithinTheTimeout: transient failures are still retried while the budget
// lasts.
func TestDiscoverRetriesWithinTheTimeout(t *testing.T) {
	var calls atomic.Int32
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		manifestHandler(v4ContentType, sdkLikeManifest)(w, r)
	}))
	c := NewClient(ClientOptions{RequestTimeout: 5 * time.Second, RetryInterval: 10 * time.Millisecond})
	defer c.CloseIdleConnections()
	if _, err := c.Discover(context.Background(), Request{URI: srv.URL}); err != nil {
		t.Fatalf("discovery after two 503s: %v", err)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
}

func TestSnippetIsShortAndSanitized(t *testing.T) {
	body := []byte("<html>\r\n  <body>\x1b[31mred\x00\xff   secret-internal-page " + strings.Repeat("x", 2000) + "</body></html>")
	got := snippet(body)
	if len(got) > snippetLimit+40 || strings.ContainsAny(got, "\r\n\x1b\x00") || strings.Contains(got, "  ") ||
		!utf8.ValidString(got) || !strings.HasPrefix(got, "<html> <body> [31mred secret-internal-page xxx") ||
		!strings.Contains(got, "more bytes)") {
		t.Fatalf("snippet = %q", got)
	}
	if snippet([]byte(" short \n")) != "short" {
		t.Errorf("short body: %q", snippet([]byte(" short \n")))
	}
}

func FuzzSnippet(f *testing.F) {
	f.Add([]byte("<html>\n</html>"))
	f.Add([]byte("\xff\xfe\x00"))
	f.Fuzz(func(t *testing.T, body []byte) {
		s := snippet(body)
		if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) || len(s) > snippetLimit+40 {
			t.Fatalf("snippet(%q) = %q", body, s)
		}
	})
}

// A URI with user info sends basic authentication, and no error shows the password: not the
// 500 answer's message, nor the unreachable one's.
func TestUserInfoIsSentButNeverShown(t *testing.T) {
	var gotAuth atomic.Value
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth.Store(r.Header.Get("Authorization"))
		http.Error(w, "nope", http.StatusForbidden)
	}))
	c := fastClient()
	defer c.CloseIdleConnections()
	withCreds := strings.Replace(srv.URL, "http://", "http://svcuser:pa55word@", 1)
	_, err := c.Discover(context.Background(), Request{URI: withCreds})
	if got, _ := gotAuth.Load().(string); got != "Basic c3ZjdXNlcjpwYTU1d29yZA==" {
		t.Errorf("authorization sent: %q", got)
	}
	de, _ := AsError(err)
	if err == nil || strings.Contains(err.Error(), "pa55word") || strings.Contains(err.Error(), "svcuser") ||
		!strings.Contains(err.Error(), "REDACTED@") || strings.Contains(de.URL, "pa55word") {
		t.Errorf("403 error: %v (url %q)", err, de.URL)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, err = c.Discover(context.Background(), Request{URI: "http://svcuser:pa55word@" + addr + "/"})
	if err == nil || strings.Contains(err.Error(), "pa55word") || strings.Contains(err.Error(), "svcuser") {
		t.Errorf("unreachable error: %v", err)
	}
}

// A dial refused by the allow-list is not retried and names the setting.
func TestRefusedDialIsNotRetried(t *testing.T) {
	var hits atomic.Int32
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	allow, err := netguard.Parse("deployment-allowed-addresses", []string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	var dials atomic.Int32
	guarded := allow.DialContext(&net.Dialer{Timeout: time.Second})
	c := NewClient(ClientOptions{RetryInterval: time.Millisecond, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return guarded(ctx, network, addr)
	}})
	defer c.CloseIdleConnections()
	_, err = c.Discover(context.Background(), Request{URI: srv.URL})
	if !errors.Is(err, netguard.ErrNotAllowed) || !strings.Contains(err.Error(), "deployment-allowed-addresses") {
		t.Fatalf("err = %v", err)
	}
	if dials.Load() != 1 || hits.Load() != 0 {
		t.Errorf("dials %d, requests %d", dials.Load(), hits.Load())
	}
}
