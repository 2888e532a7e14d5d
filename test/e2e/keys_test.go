package e2e

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/restatego/restate/internal/storage"
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

// TestFormat1DatabaseUpgradedAtStart turns a database into storage format 1 (the layout
// releases with 16-bit key lengths wrote) and restarts the server on it: an object key of
// exactly 0xFFFF bytes, the one length the two formats read differently, keeps its state.
func TestFormat1DatabaseUpgradedAtStart(t *testing.T) {
	s := startServer(t)
	ep := startEndpoint(t, true)
	s.Register(t, ep.URL)

	key := strings.Repeat("k", 0xFFFF)
	if r := s.Call(t, "/KeyProxy/Add", testservices.KeyedDelta{Key: key, Delta: 4}); r.Status != 200 || string(r.Body) != "4" {
		t.Fatalf("add: %d %.200s", r.Status, r.Body)
	}
	if r := s.Call(t, "/Counter/victim1/Add", 5); r.Status != 200 || string(r.Body) != "5" {
		t.Fatalf("victim add: %d %s", r.Status, r.Body)
	}
	s.Stop()

	dbs, _ := filepath.Glob(filepath.Join(s.Dir, "data", "*", "db"))
	if len(dbs) != 1 {
		t.Fatalf("database directories: %v", dbs)
	}
	if n := downgradeToFormat1(t, dbs[0]); n == 0 {
		t.Fatal("no key needed downgrading: the test would prove nothing")
	}

	s.Start()
	eventually(t, 20*time.Second, func() error {
		if r := s.Call(t, "/KeyProxy/Get", key); r.Status != 200 || string(r.Body) != "4" {
			return fmt.Errorf("get after upgrade: %d %.200s, want 4", r.Status, r.Body)
		}
		return nil
	})
	if r := s.Call(t, "/Counter/victim1/Get", nil); r.Status != 200 || string(r.Body) != "5" {
		t.Fatalf("victim get after upgrade: %d %s", r.Status, r.Body)
	}
	if rows, want := stateRows(t, s.Admin), []string{"65535/count", "victim1/count"}; fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Fatalf("state rows after upgrade: %v, want %v", rows, want)
	}
}

// downgradeToFormat1 rewrites the object-scoped keys of the database at dir in format 1's
// layout (u16 length only) and sets its format marker to 1. It returns how many keys changed.
func downgradeToFormat1(t *testing.T, dir string) int {
	t.Helper()
	db, err := storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := db.NewBatch()
	defer b.Close()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{0x01}, UpperBound: []byte{0x02}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		switch k[3] {
		case storage.TableState, storage.TableLock, storage.TableInbox, storage.TablePromise:
		default:
			continue
		}
		service, key, rest, valid := storage.CutObjectPrefix(k[4:])
		if !valid || (len(service) < 0xFFFF && len(key) < 0xFFFF) {
			continue
		}
		old := append([]byte{}, k[:4]...)
		for _, c := range []string{service, key} {
			old = binary.BigEndian.AppendUint16(old, uint16(len(c)))
			old = append(old, c...)
		}
		old = append(old, rest...)
		_ = b.Set(old, it.Value(), nil)
		_ = b.Delete(k, nil)
		n++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	// The marker is the key 0x00 "format".
	_ = b.Set([]byte("\x00format"), binary.BigEndian.AppendUint32(nil, 1), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	return n
}
