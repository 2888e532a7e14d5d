package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/restatego/restate/internal/testservices"
)

// versionCappingProxy sits between the server and an sdk-go endpoint and rewrites the
// endpoint's manifest to advertise at most maxVersion, so the server must negotiate an older
// protocol version; it records the content types of the invocations it forwards.
type versionCappingProxy struct {
	URL string

	mu           sync.Mutex
	contentTypes map[string]int
}

func startVersionCappingProxy(t *testing.T, upstream string, maxVersion int) *versionCappingProxy {
	t.Helper()
	target, _ := url.Parse(upstream)
	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	transport := &http.Transport{Protocols: &h2c}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = transport
	rp.FlushInterval = -1
	p := &versionCappingProxy{contentTypes: map[string]int{}}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/discover" {
			req, _ := http.NewRequest("GET", upstream+"/discover", nil)
			req.Header = r.Header.Clone()
			resp, err := (&http.Client{Transport: transport}).Do(req)
			if err != nil {
				http.Error(w, err.Error(), 502)
				return
			}
			defer resp.Body.Close()
			var m map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
				http.Error(w, err.Error(), 502)
				return
			}
			m["maxProtocolVersion"] = maxVersion
			b, _ := json.Marshal(m)
			w.Header().Set("content-type", resp.Header.Get("content-type"))
			w.Write(b)
			return
		}
		p.mu.Lock()
		p.contentTypes[r.Header.Get("content-type")]++
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: handler, Protocols: &protocols}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	p.URL = "http://" + ln.Addr().String()
	return p
}

// TestProtocolVersions runs the same scenarios over service protocol V5, V6 and V7, in both
// bidirectional and request-response mode.
func TestProtocolVersions(t *testing.T) {
	for _, version := range []int{5, 6, 7} {
		for _, bidi := range []bool{true, false} {
			t.Run(fmt.Sprintf("v%d/bidi=%v", version, bidi), func(t *testing.T) {
				s := startServer(t, append(fastRetries, "RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT=300ms")...)
				ep := startEndpoint(t, bidi)
				proxy := startVersionCappingProxy(t, ep.URL, version)
				s.Register(t, proxy.URL)

				r := s.Call(t, "/Greeter/Greet", "v")
				if r.Status != 200 || string(r.Body) != `"hello v"` {
					t.Fatalf("call: %d %s", r.Status, r.Body)
				}
				r = s.Call(t, "/Failing/RunThenFail", testservices.FailTimesRequest{Key: "p", Times: 1})
				if r.Status != 200 || string(r.Body) != `"effect-1"` || ep.Recorder.Get("effect/p") != 1 {
					t.Fatalf("run: %d %s, effect ran %d times", r.Status, r.Body, ep.Recorder.Get("effect/p"))
				}
				r = s.Call(t, "/Sleeper/RunSleepRun", testservices.SleepRequest{Key: "z", Millis: 100})
				if r.Status != 200 || string(r.Body) != `"1/1"` {
					t.Fatalf("sleep: %d %s", r.Status, r.Body)
				}
				r = s.Call(t, "/Counter/k/Add", 5)
				if r.Status != 200 || string(r.Body) != "5" {
					t.Fatalf("object: %d %s", r.Status, r.Body)
				}
				want := fmt.Sprintf("application/vnd.restate.invocation.v%d", version)
				proxy.mu.Lock()
				defer proxy.mu.Unlock()
				for ct := range proxy.contentTypes {
					if ct != want {
						t.Fatalf("an invocation used %q, want %q", ct, want)
					}
				}
				if proxy.contentTypes[want] == 0 {
					t.Fatal("no invocation went through the proxy")
				}
			})
		}
	}
}

// TestHTTP11Deployment registers a deployment with use_http_11: discovery and invocations go
// over HTTP/1.1 instead of h2c.
func TestHTTP11Deployment(t *testing.T) {
	s := startServer(t, "RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT=300ms")
	ep := startEndpoint(t, false)
	body, _ := json.Marshal(map[string]any{"uri": ep.URL, "use_http_11": true})
	r := do(t, "POST", "http://"+s.Admin+"/deployments", body)
	if r.Status != 201 {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	r = do(t, "GET", "http://"+s.Admin+"/deployments", nil)
	if !strings.Contains(string(r.Body), `"http_version":"HTTP/1.1"`) {
		t.Fatalf("deployment does not say HTTP/1.1: %s", r.Body)
	}
	r = s.Call(t, "/Greeter/Greet", "h1")
	if r.Status != 200 || string(r.Body) != `"hello h1"` {
		t.Fatalf("call: %d %s", r.Status, r.Body)
	}
	r = s.Call(t, "/Sleeper/RunSleepRun", testservices.SleepRequest{Key: "h", Millis: 50})
	if r.Status != 200 || string(r.Body) != `"1/1"` {
		t.Fatalf("sleep: %d %s", r.Status, r.Body)
	}
}

// TestBadDeployments checks that registering something that is not a Restate endpoint fails
// with a message naming the cause and registers nothing.
func TestBadDeployments(t *testing.T) {
	s := startServer(t)
	notRestate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>hi</html>") })
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: notRestate}
	go srv.Serve(ln)
	defer srv.Close()
	dead := "http://" + freePort(t)

	for _, c := range []struct{ uri, want string }{
		{dead, "META0003"},
		{"http://" + ln.Addr().String(), ""},
		{"not a uri", ""},
	} {
		body, _ := json.Marshal(map[string]any{"uri": c.uri, "use_http_11": true})
		r := do(t, "POST", "http://"+s.Admin+"/deployments", body)
		if r.Status < 400 {
			t.Fatalf("registering %s: %d %s", c.uri, r.Status, r.Body)
		}
		var m map[string]any
		if json.Unmarshal(r.Body, &m) != nil || m["message"] == "" {
			t.Fatalf("registering %s: error without a message: %s", c.uri, r.Body)
		}
		if c.want != "" && !bytes.Contains(r.Body, []byte(c.want)) {
			t.Fatalf("registering %s: %s, want %s", c.uri, r.Body, c.want)
		}
	}
	r := do(t, "GET", "http://"+s.Admin+"/deployments", nil)
	if string(bytes.TrimSpace(r.Body)) != `{"deployments":[]}` {
		t.Fatalf("a failed registration left something behind: %s", r.Body)
	}
}
