package workload

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// fakeIngress serves Ledger and Register in memory the way the ingress would, with
// idempotency keys, and can misbehave on purpose to show the checkers notice.
type fakeIngress struct {
	mu        sync.Mutex
	ledgers   map[string][]string
	registers map[string]int64
	previous  map[string]int64 // each register's value before its last change
	replies   map[string][]byte
	calls     int
	// duplicateEvery applies every n-th append twice; staleEvery answers every n-th shared
	// read with the value before the last change.
	duplicateEvery, staleEvery int
}

func newFakeIngress() *fakeIngress {
	return &fakeIngress{ledgers: map[string][]string{}, registers: map[string]int64{}, previous: map[string]int64{}, replies: map[string][]byte{}}
}

func (f *fakeIngress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	idem := r.Header.Get("idempotency-key")
	if reply, ok := f.replies[idem]; ok && idem != "" {
		w.Write(reply)
		return
	}
	f.calls++
	service, key, handler := parts[0], parts[1], parts[2]
	var reply any
	switch service + "/" + handler {
	case "Ledger/Append":
		var entry string
		json.Unmarshal(body, &entry)
		f.ledgers[key] = append(f.ledgers[key], entry)
		if f.duplicateEvery > 0 && f.calls%f.duplicateEvery == 0 {
			f.ledgers[key] = append(f.ledgers[key], entry)
		}
		reply = len(f.ledgers[key])
	case "Ledger/Get":
		reply = append([]string{}, f.ledgers[key]...)
	case "Register/Write":
		var v int64
		json.Unmarshal(body, &v)
		f.previous[key], f.registers[key] = f.registers[key], v
	case "Register/Read":
		reply = f.registers[key]
	case "Register/Get":
		reply = f.registers[key]
		if f.staleEvery > 0 && f.calls%f.staleEvery == 0 {
			reply = f.previous[key]
		}
	case "Register/Cas":
		var req CasRequest
		json.Unmarshal(body, &req)
		ok := f.registers[key] == req.Expect
		if ok {
			f.previous[key], f.registers[key] = f.registers[key], req.New
		}
		reply = ok
	default:
		http.Error(w, "no such handler", http.StatusNotFound)
		return
	}
	b, _ := json.Marshal(reply)
	if idem != "" {
		f.replies[idem] = b
	}
	w.Write(b)
}

// runLoads drives both loads against the fake for a moment and returns what the checkers say.
func runLoads(t *testing.T, f *fakeIngress) (LedgerReport, porcupine.CheckResult) {
	srv := httptest.NewServer(f)
	defer srv.Close()
	caller := &Caller{Targets: NewTargets(srv.URL, srv.URL), OpTimeout: 5 * time.Second, Timeline: NewTimeline()}
	ledgerKeys, registerKeys := []string{"l1", "l2"}, []string{"r1", "r2"}
	ledger := LedgerLoad{Caller: caller, Keys: ledgerKeys, Clients: 4, RunID: "t"}.Start()
	register := RegisterLoad{Caller: caller, Keys: registerKeys, ClientsPerKey: 3, RunID: "t", Seed: 1}.Start()
	time.Sleep(300 * time.Millisecond)
	lh, rh := ledger.Stop(), register.Stop()
	contents, err := ReadLedgers(caller, ledgerKeys)
	if err != nil {
		t.Fatal(err)
	}
	if len(rh.Ops) < 50 {
		t.Fatalf("only %d register operations", len(rh.Ops))
	}
	res, _ := CheckRegister(rh, 30*time.Second)
	return CheckLedger(lh, contents), res
}

func TestLoadsAgainstACorrectServer(t *testing.T) {
	rep, res := runLoads(t, newFakeIngress())
	if err := rep.Err(); err != nil || rep.Acked < 20 {
		t.Fatalf("ledger: %v (%s)", err, rep)
	}
	if res != porcupine.Ok {
		t.Fatalf("register history of a linearizable server: %s", res)
	}
}

func TestLoadsCatchAMisbehavingServer(t *testing.T) {
	f := newFakeIngress()
	f.duplicateEvery, f.staleEvery = 7, 5
	rep, res := runLoads(t, f)
	if len(rep.Duplicated) == 0 {
		t.Fatalf("duplicated appends not detected: %s", rep)
	}
	if res != porcupine.Illegal {
		t.Fatalf("stale shared reads not detected: %s", res)
	}
}

func TestAbortEndsOperationsInFlight(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer srv.Close()
	defer close(hang)
	caller := &Caller{Targets: NewTargets(srv.URL), AttemptTimeout: time.Minute, OpTimeout: time.Minute}
	ledger := LedgerLoad{Caller: caller, Keys: []string{"k"}, Clients: 2, RunID: "t"}.Start()
	register := RegisterLoad{Caller: caller, Keys: []string{"k"}, RunID: "t"}.Start()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	ledger.Abort()
	register.Abort()
	if time.Since(start) > 5*time.Second {
		t.Fatalf("abort took %s", time.Since(start))
	}
	h := ledger.Stop() // idempotent after Abort
	if acked, maybe, _ := h.Counts(); acked != 0 || maybe != 2 {
		t.Fatalf("aborted appends: %d acked, %d maybe; want 0 and 2", acked, maybe)
	}
}
