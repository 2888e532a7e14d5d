package workload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// LedgerLoad appends unique ids to Ledger objects from several clients. Each id is sent under
// an idempotency key equal to the id, so retries of ambiguous failures are safe; the server's
// deduplication does not hide anything from the check, because the check reads the lists
// themselves, where a doubly executed append shows up twice.
type LedgerLoad struct {
	Caller *Caller
	// Keys are the Ledger object keys; client i appends to Keys[i % len(Keys)], so several
	// clients contend on each key when Clients > len(Keys).
	Keys []string
	// Clients is the number of concurrent clients (default 4).
	Clients int
	// Pace is the pause between one client's operations (default none).
	Pace time.Duration
	// RunID prefixes every id so runs against the same cluster cannot be confused.
	RunID string
}

// LedgerRun is a running LedgerLoad.
type LedgerRun struct {
	stop     chan struct{}
	stopOnce sync.Once
	ctx      context.Context
	abort    context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	history  *LedgerHistory
}

// LedgerHistory is what the clients know about every id they tried to append.
type LedgerHistory struct {
	// Entries maps each id to its key and outcome.
	Entries map[string]LedgerEntry
}

// LedgerEntry is one attempted append.
type LedgerEntry struct {
	Key     string
	Outcome Outcome
}

// Counts returns how many appends ended in each outcome.
func (h *LedgerHistory) Counts() (acked, maybe, failed int) {
	for _, e := range h.Entries {
		switch e.Outcome {
		case Acked:
			acked++
		case Maybe:
			maybe++
		default:
			failed++
		}
	}
	return
}

// Start launches the clients. They run until Stop.
func (l LedgerLoad) Start() *LedgerRun {
	if len(l.Keys) == 0 {
		panic("workload: LedgerLoad needs keys")
	}
	clients := l.Clients
	if clients == 0 {
		clients = 4
	}
	r := &LedgerRun{stop: make(chan struct{}), history: &LedgerHistory{Entries: map[string]LedgerEntry{}}}
	r.ctx, r.abort = context.WithCancel(context.Background())
	for c := range clients {
		key := l.Keys[c%len(l.Keys)]
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for seq := 0; ; seq++ {
				select {
				case <-r.stop:
					return
				default:
				}
				id := fmt.Sprintf("%s-c%d-%d", l.RunID, c, seq)
				res := l.Caller.Call(r.ctx, "/Ledger/"+key+"/Append", id, id, "ledger/"+key)
				r.mu.Lock()
				r.history.Entries[id] = LedgerEntry{Key: key, Outcome: res.Outcome}
				r.mu.Unlock()
				if l.Pace > 0 {
					time.Sleep(l.Pace)
				}
			}
		}()
	}
	return r
}

// Stop stops starting new appends, waits for the ones in flight to finish (each within the
// Caller's OpTimeout) and returns the history.
func (r *LedgerRun) Stop() *LedgerHistory {
	r.stopOnce.Do(func() { close(r.stop) })
	r.wg.Wait()
	r.abort()
	return r.history
}

// Abort stops the clients at once, giving up on operations in flight (they end as Maybe or
// Failed). It is for cleaning up after a failed test and may follow Stop.
func (r *LedgerRun) Abort() {
	r.abort()
	r.Stop()
}

// ReadLedger returns the list stored under key, read through the shared Get handler.
func ReadLedger(c *Caller, key string) ([]string, error) {
	res := c.Call(context.Background(), "/Ledger/"+key+"/Get", nil, "", "")
	if res.Outcome != Acked {
		return nil, fmt.Errorf("reading ledger %s: %v", key, res.LastErr)
	}
	var entries []string
	if err := json.Unmarshal(res.Body, &entries); err != nil {
		return nil, fmt.Errorf("reading ledger %s: body is not a list of strings: %w: %.200s", key, err, res.Body)
	}
	return entries, nil
}

// ReadLedgers reads every key's list.
func ReadLedgers(c *Caller, keys []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, k := range keys {
		entries, err := ReadLedger(c, k)
		if err != nil {
			return nil, err
		}
		out[k] = entries
	}
	return out, nil
}

// LedgerReport is the result of CheckLedger. Every list of ids is sorted.
type LedgerReport struct {
	Acked, Maybe, Failed int
	// MaybePresent counts ambiguous appends that did happen.
	MaybePresent int
	// Lost are acknowledged ids missing from their list.
	Lost []string
	// Duplicated maps ids found more than once (in any list) to their count.
	Duplicated map[string]int
	// Phantom are ids no client ever sent, or sent and certainly never delivered.
	Phantom []string
	// Misplaced are ids found under another key than the one they were appended to.
	Misplaced []string
}

// CheckLedger compares the lists read back with what the clients know: every acknowledged
// id is present exactly once under its key, an ambiguous one at most once, and nothing else
// is present.
func CheckLedger(h *LedgerHistory, contents map[string][]string) LedgerReport {
	rep := LedgerReport{Duplicated: map[string]int{}}
	rep.Acked, rep.Maybe, rep.Failed = h.Counts()
	seen := map[string]int{}
	for key, entries := range contents {
		for _, id := range entries {
			seen[id]++
			e, sent := h.Entries[id]
			switch {
			case !sent || e.Outcome == Failed:
				if seen[id] == 1 {
					rep.Phantom = append(rep.Phantom, id)
				}
			case e.Key != key:
				rep.Misplaced = append(rep.Misplaced, id)
			}
		}
	}
	for id, n := range seen {
		if n > 1 {
			rep.Duplicated[id] = n
		}
	}
	for id, e := range h.Entries {
		switch {
		case e.Outcome == Acked && seen[id] == 0:
			rep.Lost = append(rep.Lost, id)
		case e.Outcome == Maybe && seen[id] > 0:
			rep.MaybePresent++
		}
	}
	slices.Sort(rep.Lost)
	slices.Sort(rep.Phantom)
	slices.Sort(rep.Misplaced)
	return rep
}

// Err summarises the violations, nil when there are none.
func (r LedgerReport) Err() error {
	var problems []string
	if len(r.Lost) > 0 {
		problems = append(problems, fmt.Sprintf("%d acknowledged appends lost (e.g. %s)", len(r.Lost), sample(r.Lost)))
	}
	if len(r.Duplicated) > 0 {
		ids := make([]string, 0, len(r.Duplicated))
		for id, n := range r.Duplicated {
			ids = append(ids, fmt.Sprintf("%s x%d", id, n))
		}
		slices.Sort(ids)
		problems = append(problems, fmt.Sprintf("%d appends applied more than once (e.g. %s)", len(ids), sample(ids)))
	}
	if len(r.Phantom) > 0 {
		problems = append(problems, fmt.Sprintf("%d entries never sent (e.g. %s)", len(r.Phantom), sample(r.Phantom)))
	}
	if len(r.Misplaced) > 0 {
		problems = append(problems, fmt.Sprintf("%d entries under the wrong key (e.g. %s)", len(r.Misplaced), sample(r.Misplaced)))
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New("ledger check: " + strings.Join(problems, "; "))
}

// String is a one-line summary for logs.
func (r LedgerReport) String() string {
	return fmt.Sprintf("%d acked, %d ambiguous (%d applied), %d never delivered", r.Acked, r.Maybe, r.MaybePresent, r.Failed)
}

func sample(ids []string) string {
	if len(ids) > 5 {
		return strings.Join(ids[:5], ", ") + ", ..."
	}
	return strings.Join(ids, ", ")
}
