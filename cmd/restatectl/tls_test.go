package main

import (
	"strings"
	"testing"

	ch "github.com/restatego/restate/internal/clusterharness"
	"github.com/restatego/restate/internal/tlsconf/tlstest"
)

// TestTLSNodePort talks to a node port that requires client certificates of the cluster's CA.
func TestTLSNodePort(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "cluster")
	pair := ca.Issue("node")
	c := ch.New(t, ch.Options{Nodes: 1, Ready: ch.ReadyHealth, TLS: &ch.TLS{CAFile: ca.File, CertFile: pair.CertFile, KeyFile: pair.KeyFile}})
	n := c.Nodes[0]
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	c.MustBeReady()
	admin := ca.Issue("operator")

	// A bare host:port becomes https:// once TLS flags are given.
	code, out, errOut := ctl(t, "--address", n.NodeAddr, "--tls-ca-file", ca.File,
		"--tls-cert-file", admin.CertFile, "--tls-key-file", admin.KeyFile, "nodes", "list")
	if code != 0 || !strings.Contains(out, n.Name) {
		t.Fatalf("nodes list over mutual TLS: exit %d, out %q, err %q", code, out, errOut)
	}
	t.Setenv("RESTATECTL_TLS_CA_FILE", ca.File)
	t.Setenv("RESTATECTL_TLS_CERT_FILE", admin.CertFile)
	t.Setenv("RESTATECTL_TLS_KEY_FILE", admin.KeyFile)
	if code, out, errOut := ctl(t, "--address", n.NodeURL(), "nodes", "list"); code != 0 || !strings.Contains(out, n.Name) {
		t.Fatalf("nodes list with RESTATECTL_TLS_*: exit %d, out %q, err %q", code, out, errOut)
	}
	t.Setenv("RESTATECTL_TLS_CERT_FILE", "")
	t.Setenv("RESTATECTL_TLS_KEY_FILE", "")

	// Without a client certificate the node port refuses the handshake.
	if code, _, errOut := ctl(t, "--address", n.NodeURL(), "nodes", "list"); code == 0 || !strings.Contains(errOut, "tls") {
		t.Fatalf("nodes list without a client certificate: exit %d, err %q", code, errOut)
	}
	// A certificate without its key is a usage error.
	if code, _, errOut := ctl(t, "--address", n.NodeURL(), "--tls-cert-file", admin.CertFile, "nodes", "list"); code != 2 || !strings.Contains(errOut, "--tls-key-file") {
		t.Fatalf("certificate without key: exit %d, err %q", code, errOut)
	}
}
