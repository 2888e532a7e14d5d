// Package netguard keeps the server's outgoing calls to deployments (discovery and
// invocations) within an operator's allow-list of networks and host names, so that
// registering a deployment cannot make the server reach, say, a cloud metadata endpoint or
// an internal admin port.
//
// The list is checked twice: when a deployment is registered (resolving its host, for a
// clear 400), and again on every connection, in the dialer's Control hook, against the IP
// address actually being dialed. The second check is what stops DNS rebinding: a name that
// resolved to an allowed address at registration and to a forbidden one later is refused
// when it is dialed.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// ErrNotAllowed is wrapped by every refusal.
var ErrNotAllowed = errors.New("address not allowed")

// NotAllowedError says which address was refused and by which setting.
type NotAllowedError struct {
	Host    string // the host as written in the URI
	Addr    string // the resolved IP address, "" when the refusal is by name
	Setting string
}

func (e *NotAllowedError) Error() string {
	if e.Addr != "" && e.Addr != e.Host {
		return fmt.Sprintf("the deployment address %s (resolved from %s) is not allowed by %s", e.Addr, e.Host, e.Setting)
	}
	return fmt.Sprintf("the deployment address %s is not allowed by %s", e.Host, e.Setting)
}

func (e *NotAllowedError) Unwrap() error { return ErrNotAllowed }

// AllowList is a parsed allow-list. A nil *AllowList allows everything.
type AllowList struct {
	setting  string
	prefixes []netip.Prefix
	hosts    map[string]bool
	suffixes []string // from "*.example.com" entries, stored as ".example.com"
	resolver *net.Resolver
}

// Parse reads entries: CIDR networks ("10.0.0.0/8", "fd00::/8"), single IP addresses, host
// names ("svc.internal") and host-name wildcards ("*.svc.cluster.local", which matches the
// subdomains only). setting names the configuration key for messages. No entries gives nil:
// everything is allowed.
func Parse(setting string, entries []string) (*AllowList, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	a := &AllowList{setting: setting, hosts: map[string]bool{}, resolver: net.DefaultResolver}
	for _, raw := range entries {
		if err := a.add(raw); err != nil {
			return nil, fmt.Errorf("%s: %v", setting, err)
		}
	}
	return a, nil
}

// CheckEntry validates one allow-list entry (for configuration loading).
func CheckEntry(e string) error {
	return (&AllowList{hosts: map[string]bool{}}).add(e)
}

func (a *AllowList) add(raw string) error {
	e := strings.TrimSpace(raw)
	if e == "" {
		return errors.New("an entry is empty")
	}
	if strings.Contains(e, "/") {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return fmt.Errorf("%q is not a CIDR network such as 10.0.0.0/8", e)
		}
		a.prefixes = append(a.prefixes, p.Masked())
		return nil
	}
	if ip, err := netip.ParseAddr(strings.Trim(e, "[]")); err == nil {
		ip = ip.Unmap().WithZone("")
		a.prefixes = append(a.prefixes, netip.PrefixFrom(ip, ip.BitLen()))
		return nil
	}
	name := normalizeHost(e)
	wild := strings.HasPrefix(name, "*.")
	if wild {
		name = name[1:]
	}
	if !validHostName(strings.TrimPrefix(name, ".")) {
		return fmt.Errorf("%q is neither a CIDR network, an IP address nor a host name", e)
	}
	if wild {
		a.suffixes = append(a.suffixes, name)
	} else {
		a.hosts[name] = true
	}
	return nil
}

func normalizeHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// hostAllowed reports a host name the operator allowed by name: it may resolve anywhere.
func (a *AllowList) hostAllowed(host string) bool {
	h := normalizeHost(host)
	if a.hosts[h] {
		return true
	}
	for _, s := range a.suffixes {
		if strings.HasSuffix(h, s) {
			return true
		}
	}
	return false
}

// ipAllowed reports an address inside an allowed network.
func (a *AllowList) ipAllowed(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// CheckURI resolves the host of a deployment URI and checks it: allowed by name, or every
// address it resolves to inside an allowed network. A nil list allows everything.
func (a *AllowList) CheckURI(ctx context.Context, rawURI string) error {
	if a == nil {
		return nil
	}
	u, err := url.Parse(rawURI)
	if err != nil {
		return err
	}
	return a.CheckHost(ctx, u.Hostname())
}

// CheckHost checks a host name or IP literal (see CheckURI).
func (a *AllowList) CheckHost(ctx context.Context, host string) error {
	if a == nil || a.hostAllowed(host) {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !a.ipAllowed(ip) {
			return &NotAllowedError{Host: host, Addr: ip.String(), Setting: a.setting}
		}
		return nil
	}
	addrs, err := a.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("cannot resolve the deployment host %s to check it against %s: %w", host, a.setting, err)
	}
	for _, ip := range addrs {
		if !a.ipAllowed(ip) {
			return &NotAllowedError{Host: host, Addr: ip.Unmap().String(), Setting: a.setting}
		}
	}
	return nil
}

// DialContext returns a dial function for an http.Transport that dials like d but refuses
// connections to addresses outside the list. A nil list returns d.DialContext unchanged.
func (a *AllowList) DialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if a == nil {
		return d.DialContext
	}
	guarded := &net.Dialer{Timeout: d.Timeout, KeepAlive: d.KeepAlive, LocalAddr: d.LocalAddr}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if a.hostAllowed(host) {
			return d.DialContext(ctx, network, addr)
		}
		// Control runs after name resolution, once per address tried, with the IP that is
		// about to be connected: the check cannot be raced by a changing DNS answer.
		g := *guarded
		g.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("netguard: unexpected dial address %q: %w", address, err)
			}
			if !a.ipAllowed(ap.Addr()) {
				return &NotAllowedError{Host: host, Addr: ap.Addr().Unmap().String(), Setting: a.setting}
			}
			return nil
		}
		return g.DialContext(ctx, network, addr)
	}
}
