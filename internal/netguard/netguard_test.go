package netguard

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

const setting = "deployment-allowed-addresses"

func TestParse(t *testing.T) {
	if a, err := Parse(setting, nil); a != nil || err != nil {
		t.Fatalf("empty list: %v %v", a, err)
	}
	a, err := Parse(setting, []string{"10.0.0.0/8", "192.168.1.7", "[::1]", "Svc.Internal.", "*.cluster.local", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		host string
		ok   bool
	}{
		{"10.1.2.3", true}, {"11.0.0.1", false}, {"192.168.1.7", true}, {"192.168.1.8", false},
		{"::1", true}, {"::ffff:10.0.0.1", true}, {"fd12::1", true}, {"fe80::1", false},
		{"svc.internal", true}, {"SVC.internal.", true}, {"a.b.cluster.local", true}, {"cluster.local", false},
		{"127.0.0.1", false}, {"169.254.169.254", false},
	} {
		err := a.CheckHost(ctx, c.host)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.host, err)
		}
		if err != nil && !strings.Contains(err.Error(), setting) {
			t.Errorf("%s: error %v does not name the setting", c.host, err)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "", "bad host", "-x.com", "http://a.b"} {
		if _, err := Parse(setting, []string{bad}); err == nil || !strings.Contains(err.Error(), setting) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestCheckURIResolvesNames(t *testing.T) {
	a, _ := Parse(setting, []string{"10.0.0.0/8"})
	err := a.CheckURI(context.Background(), "http://localhost:9080/")
	var na *NotAllowedError
	if !errors.As(err, &na) || na.Host != "localhost" || (na.Addr != "127.0.0.1" && na.Addr != "::1") {
		t.Fatalf("localhost under 10/8: %v", err)
	}
	if !strings.Contains(err.Error(), "resolved from localhost") {
		t.Errorf("message %q", err)
	}
	var nilList *AllowList
	if err := nilList.CheckURI(context.Background(), "http://169.254.169.254/"); err != nil {
		t.Errorf("nil list refuses: %v", err)
	}
}

// The dialer checks the address it connects to, after resolution: a name that is not
// allowed by name cannot reach a forbidden address however it resolves.
func TestDialerChecksResolvedAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	d := &net.Dialer{Timeout: 2 * time.Second}
	ctx := context.Background()

	deny, _ := Parse(setting, []string{"10.0.0.0/8"})
	for _, host := range []string{"127.0.0.1", "localhost"} {
		_, err := deny.DialContext(d)(ctx, "tcp", net.JoinHostPort(host, port))
		if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), setting) {
			t.Errorf("dial %s under 10/8: %v", host, err)
		}
	}
	for _, entries := range [][]string{{"127.0.0.0/8", "::1"}, {"localhost"}} {
		allow, _ := Parse(setting, entries)
		c, err := allow.DialContext(d)(ctx, "tcp", net.JoinHostPort("localhost", port))
		if err != nil {
			// localhost may resolve to ::1 first where nothing listens; 127.0.0.1 must work.
			c, err = allow.DialContext(d)(ctx, "tcp", net.JoinHostPort("127.0.0.1", port))
		}
		if err != nil {
			t.Errorf("dial under %v: %v", entries, err)
			continue
		}
		c.Close()
	}
}
