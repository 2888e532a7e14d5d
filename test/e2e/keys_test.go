package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/restatego/restate/internal/testservices"
)

// attackKey is 64 KiB + 7 bytes and starts with "victim1". A 16-bit length prefix of it wraps
// to 7, which would put its entries inside victim1's key space.
var attackKey = "victim1" + strings.Repeat("a", 64<<10)

// TestLongObjectKeysStayIsolated drives the length-prefix attack through a service that calls
// the object (the key rides in a request body, so no URL limit applies): the long key's state
// must neither show up under victim1 nor be wiped by victim1's clear-all, and the other way
// round.
func TestLongObjectKeysStayIsolated(t *testing.T) {
	s := startServer(t)
	ep := startEndpoint(t, true)
	s.Register(t, ep.URL)

	if r := s.Call(t, "/Counter/victim1/Add", 5); r.Status != 200 || string(r.Body) != "5" {
		t.Fatalf("victim add: %d %s", r.Status, r.Body)
	}
	if r := s.Call(t, "/KeyProxy/Add", testservices.KeyedDelta{Key: attackKey, Delta: 1}); r.Status != 200 || string(r.Body) != "1" {
		t.Fatalf("attacker add: %d %.200s", r.Status, r.Body)
	}

	// SQL lists one entry per key, each under its own key.
	rows := stateRows(t, s.Admin)
	want := []string{fmt.Sprintf("%d/count", len(attackKey)), "victim1/count"}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Fatalf("state rows (key or key length / state name): %v, want %v", rows, want)
	}

	// victim1's clear-all leaves the long key alone.
	if r := s.Call(t, "/Counter/victim1/Reset", nil); r.Status != 200 {
		t.Fatalf("victim reset: %d %s", r.Status, r.Body)
	}
	if r := s.Call(t, "/KeyProxy/Get", attackKey); r.Status != 200 || string(r.Body) != "1" {
		t.Fatalf("attacker's state after victim1's clear-all: %d %.200s, want 1", r.Status, r.Body)
	}
	// And the long key's clear-all leaves victim1 alone.
	if r := s.Call(t, "/Counter/victim1/Add", 3); r.Status != 200 || string(r.Body) != "3" {
		t.Fatalf("victim add after reset: %d %s", r.Status, r.Body)
	}
	if r := s.Call(t, "/KeyProxy/Reset", attackKey); r.Status != 200 {
		t.Fatalf("attacker reset: %d %.200s", r.Status, r.Body)
	}
	if r := s.Call(t, "/Counter/victim1/Get", nil); r.Status != 200 || string(r.Body) != "3" {
		t.Fatalf("victim's state after the long key's clear-all: %d %s, want 3", r.Status, r.Body)
	}
	if r := s.Call(t, "/KeyProxy/Get", attackKey); r.Status != 200 || string(r.Body) != "0" {
		t.Fatalf("attacker's state after its own clear-all: %d %.200s, want 0", r.Status, r.Body)
	}
}

// TestIngressKeyLimit checks the ingress limit on the request target, which bounds the object
// keys it accepts: one byte over is refused with 414 naming the limit, the longest allowed key
// works and stays separate from its prefixes.
func TestIngressKeyLimit(t *testing.T) {
	s := startServer(t)
	ep := startEndpoint(t, true)
	s.Register(t, ep.URL)

	const limit = 65534
	path := func(key string) string { return "/Counter/" + key + "/Add" }
	longest := "victim1" + strings.Repeat("b", limit-len(path("victim1")))
	if n := len(path(longest)); n != limit {
		t.Fatalf("test setup: path is %d bytes", n)
	}
	r := s.Call(t, path(longest+"b"), 1)
	if r.Status != http.StatusRequestURITooLong || !strings.Contains(string(r.Body), "65534") {
		t.Fatalf("over the limit: %d %s, want 414 naming 65534", r.Status, r.Body)
	}
	r = s.Call(t, "/Counter/"+attackKey+"/Add", 1)
	if r.Status != http.StatusRequestURITooLong {
		t.Fatalf("attack key through the ingress: %d %.200s, want 414", r.Status, r.Body)
	}

	if r := s.Call(t, "/Counter/victim1/Add", 5); r.Status != 200 || string(r.Body) != "5" {
		t.Fatalf("victim add: %d %s", r.Status, r.Body)
	}
	if r := s.Call(t, path(longest), 2); r.Status != 200 || string(r.Body) != "2" {
		t.Fatalf("longest key: %d %.200s", r.Status, r.Body)
	}
	if r := s.Call(t, "/Counter/victim1/Reset", nil); r.Status != 200 {
		t.Fatalf("victim reset: %d %s", r.Status, r.Body)
	}
	if r := s.Call(t, "/Counter/"+longest+"/Get", nil); r.Status != 200 || string(r.Body) != "2" {
		t.Fatalf("longest key after victim1's clear-all: %d %.200s, want 2", r.Status, r.Body)
	}
}

// stateRows lists the state table as "service_key/key", with keys over 100 bytes shown by
// their length.
func stateRows(t *testing.T, admin string) []string {
	t.Helper()
	q, _ := json.Marshal(map[string]string{"query": "SELECT service_key, key FROM state WHERE service_name = 'Counter'"})
	r := do(t, http.MethodPost, "http://"+admin+"/query", q, "accept", "application/json")
	var res struct {
		Rows []map[string]string `json:"rows"`
	}
	if err := json.Unmarshal(r.Body, &res); err != nil || r.Status != 200 {
		t.Fatalf("query: %d %.300s (%v)", r.Status, r.Body, err)
	}
	var out []string
	short := func(s string) string {
		if len(s) > 100 {
			return fmt.Sprint(len(s))
		}
		return s
	}
	for _, row := range res.Rows {
		out = append(out, short(row["service_key"])+"/"+short(row["key"]))
	}
	sort.Strings(out)
	return out
}
