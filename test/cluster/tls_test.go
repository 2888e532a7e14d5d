package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	ch "github.com/restatego/restate/internal/clusterharness"
	"github.com/restatego/restate/internal/clusterharness/workload"
	"github.com/restatego/restate/internal/tlsconf/tlstest"
)

// postWith sends a JSON body with client and returns the status and body.
func postWith(t *testing.T, client *http.Client, url, body string, header ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("content-type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitLog polls a node's log until it contains every one of want.
func waitLog(t *testing.T, n *ch.Node, timeout time.Duration, want ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		log := n.Log()
		missing := ""
		for _, w := range want {
			if !strings.Contains(log, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's log has no %q within %s; tail:\n%s", n.Name, missing, timeout, n.LogTail(30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTLSSingleNode runs one node with TLS on ingress, admin and node port and serves an
// sdk-go invocation through the https ingress; plain HTTP is refused on every port.
func TestTLSSingleNode(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "single")
	pair := ca.Issue("node")
	c := ch.New(t, ch.Options{Nodes: 1, Ready: ch.ReadyHealth, TLS: &ch.TLS{CAFile: ca.File, CertFile: pair.CertFile, KeyFile: pair.KeyFile}})
	n := c.Nodes[0]
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	c.MustBeReady()

	ep, err := workload.StartEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	if err := c.RegisterDeployment(n, ep.URL, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	client := c.HTTPClient()
	if code, body := postWith(t, client, n.IngressURL()+"/Register/tls/Write", "42"); code != http.StatusOK {
		t.Fatalf("write over https: %d %s", code, body)
	}
	if code, body := postWith(t, client, n.IngressURL()+"/Register/tls/Get", ""); code != http.StatusOK || body != "42" {
		t.Fatalf("read over https: %d %q, want 200 42", code, body)
	}
	if _, err := n.Identity(context.Background()); err != nil {
		t.Fatalf("node port /health over mutual TLS: %v", err)
	}

	// Plain HTTP gets no answer on any port, and the node port wants a client certificate.
	plain := &http.Client{Timeout: 10 * time.Second}
	for _, addr := range []string{n.Ingress, n.Admin, n.NodeAddr} {
		if resp, err := plain.Get("http://" + addr + "/health"); err == nil && resp.StatusCode < 400 {
			resp.Body.Close()
			t.Errorf("plain HTTP to %s answered %d", addr, resp.StatusCode)
		}
	}
	noCert := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: client.Transport.(*http.Transport).TLSClientConfig.RootCAs}}}
	if resp, err := noCert.Get(n.NodeURL() + "/health"); err == nil {
		resp.Body.Close()
		t.Errorf("the node port answered %d to a client without a certificate", resp.StatusCode)
	}
	if resp, err := noCert.Get(n.AdminURL() + "/health"); err != nil {
		t.Errorf("admin over TLS without a client certificate: %v", err)
	} else {
		resp.Body.Close()
	}
	waitLog(t, n, 10*time.Second, "rejected a TLS handshake")
}

// TestTLSMissingCertificateStopsStart: a node whose certificate file does not exist must not
// start, and must say which file.
func TestTLSMissingCertificateStopsStart(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "single")
	pair := ca.Issue("node")
	missing := dir + "/no-such-cert.pem"
	c := ch.New(t, ch.Options{Nodes: 1, Ready: ch.ReadyHealth, TLS: &ch.TLS{CAFile: ca.File, CertFile: pair.CertFile, KeyFile: pair.KeyFile}})
	n := c.Nodes[0]
	n.Env = append(n.Env, "RESTATE_INGRESS__TLS_CERT_FILE="+missing, "RESTATE_INGRESS__TLS_KEY_FILE="+pair.KeyFile)
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	err := n.WaitExit(30 * time.Second)
	if errors.Is(err, ch.ErrStillRunning) || err == nil {
		t.Fatalf("a node with a missing certificate file: exit %v", err)
	}
	if !strings.Contains(n.Log(), missing) {
		t.Fatalf("the error does not name %s:\n%s", missing, n.LogTail(10))
	}
}

// TestMutualTLSCluster forms a three-node cluster whose nodes talk mutual TLS, serves
// invocations through every node's https ingress (forwarding to partition leaders crosses
// nodes), then refuses a node with a certificate of another CA and a node configured for
// another cluster name; each side logs why.
func TestMutualTLSCluster(t *testing.T) {
	needCluster(t)
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "cluster")
	pair := ca.Issue("nodes")
	c := startCluster(t, ch.Options{Partitions: 4, TLS: &ch.TLS{CAFile: ca.File, CertFile: pair.CertFile, KeyFile: pair.KeyFile}})
	for _, n := range c.Nodes {
		if !strings.HasPrefix(n.AdvertisedAddress(), "https://") {
			t.Fatalf("advertised address %s", n.AdvertisedAddress())
		}
	}
	ep, err := workload.StartEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	if err := c.RegisterDeployment(c.Nodes[0], ep.URL, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitServices(30*time.Second, workload.ServiceNames...); err != nil {
		t.Fatal(err)
	}
	client := c.HTTPClient()
	for i := range 6 {
		via := c.Nodes[i%3]
		key := fmt.Sprintf("k%d", i)
		if code, body := postWith(t, client, via.IngressURL()+"/Ledger/"+key+"/Append", `"x"`); code != http.StatusOK {
			t.Fatalf("append through %s: %d %s", via.Name, code, body)
		}
		other := c.Nodes[(i+1)%3]
		if code, body := postWith(t, client, other.IngressURL()+"/Ledger/"+key+"/Get", ""); code != http.StatusOK || body != `["x"]` {
			t.Fatalf("read through %s: %d %s", other.Name, code, body)
		}
	}
	// The SQL fan-out scans other nodes' partitions over nodenet.
	code, body := postWith(t, client, c.Nodes[1].AdminURL()+"/query", `{"query":"SELECT count(*) AS n FROM sys_invocation"}`, "accept", "application/json")
	if code != http.StatusOK || !strings.Contains(body, `"n":12`) {
		t.Fatalf("query over the cluster: %d %s", code, body)
	}

	// A node whose certificate another CA issued (it trusts the cluster's CA, but the
	// cluster does not trust it).
	foreignCA := tlstest.NewCA(t, dir, "foreign")
	intruder := foreignCA.Issue("intruder")
	stranger := c.NewOutsider("RESTATE_TLS_CERT_FILE="+intruder.CertFile, "RESTATE_TLS_KEY_FILE="+intruder.KeyFile)
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	waitLog(t, stranger, 30*time.Second, "cannot join the cluster: the TLS handshake failed", "tls-ca-file")
	waitLog(t, c.Nodes[0], 30*time.Second, "rejected a TLS handshake", "certificate signed by unknown authority")
	stranger.Kill()

	// A node with the cluster's CA but configured for another cluster name.
	other := c.NewOutsider("RESTATE_CLUSTER_NAME=other-cluster")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	if err := other.WaitExit(30 * time.Second); errors.Is(err, ch.ErrStillRunning) || err == nil {
		t.Fatalf("a node of another cluster name: exit %v", err)
	}
	waitLog(t, other, time.Second, "the cluster refused this node", `\"other-cluster\"`, `\"`+c.Name+`\"`)
	// Any member may receive the join; the one that did logs the refusal with both names.
	refusedBy := ""
	for _, n := range c.Nodes {
		// The log's format decides how fields print (key=value, key: value or JSON): look for
		// the names of the fields and their values.
		if log := n.Log(); strings.Contains(log, "refused a node configured for another cluster") &&
			strings.Contains(log, "its-cluster") && strings.Contains(log, "other-cluster") &&
			strings.Contains(log, "this-cluster") && strings.Contains(log, c.Name) {
			refusedBy = n.Name
		}
	}
	if refusedBy == "" {
		t.Fatalf("no member logged the refused cluster name; node 1 tail:\n%s", c.Nodes[0].LogTail(20))
	}

	s := status(t, c.Node(1))
	if len(s.Nodes) != 3 {
		t.Fatalf("the cluster lists %d nodes after the refused nodes tried to join: %+v", len(s.Nodes), s.Nodes)
	}
	c.MustBeReady()
}
