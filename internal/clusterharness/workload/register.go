package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// RegisterOp is the kind of a register operation.
type RegisterOp int

const (
	OpRead RegisterOp = iota
	OpWrite
	OpCas
)

// RegisterInput is a register operation as porcupine sees it.
type RegisterInput struct {
	Key string
	Op  RegisterOp
	// Value is what Write stores and Cas's new value.
	Value int64
	// Expect is Cas's expected value.
	Expect int64
	// Shared marks a read through the shared Get handler rather than the exclusive Read.
	Shared bool
}

// RegisterOutput is a register operation's result as porcupine sees it.
type RegisterOutput struct {
	// Value is what a read returned.
	Value int64
	// Swapped is whether a Cas replaced the value.
	Swapped bool
	// Unknown marks an operation that was never acknowledged: it may have happened at any
	// point after its call, or never. Its return time is "infinity".
	Unknown bool
}

// RegisterModel is the sequential specification of a set of registers, one per key, each
// starting at 0.
var RegisterModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var order []string
		for _, op := range history {
			k := op.Input.(RegisterInput).Key
			if _, ok := byKey[k]; !ok {
				order = append(order, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(order))
		for _, k := range order {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return int64(0) },
	Step: func(state, input, output any) (bool, any) {
		v := state.(int64)
		in, out := input.(RegisterInput), output.(RegisterOutput)
		switch in.Op {
		case OpRead:
			return out.Unknown || out.Value == v, v
		case OpWrite:
			return true, in.Value
		case OpCas:
			// An unknown Cas took effect at some point or not at all; where the value
			// matched, it swapped, so the model may apply it deterministically.
			if v == in.Expect && (out.Unknown || out.Swapped) {
				return true, in.Value
			}
			return out.Unknown || (!out.Swapped && v != in.Expect), v
		}
		return false, v
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(RegisterInput), output.(RegisterOutput)
		result := ""
		switch {
		case out.Unknown:
			result = " -> ?"
		case in.Op == OpRead:
			result = fmt.Sprintf(" -> %d", out.Value)
		case in.Op == OpCas:
			result = fmt.Sprintf(" -> %t", out.Swapped)
		}
		switch in.Op {
		case OpRead:
			if in.Shared {
				return "get()" + result
			}
			return "read()" + result
		case OpWrite:
			return fmt.Sprintf("write(%d)%s", in.Value, result)
		default:
			return fmt.Sprintf("cas(%d, %d)%s", in.Expect, in.Value, result)
		}
	},
	DescribeState: func(state any) string { return fmt.Sprint(state) },
}

// ReadMode chooses which handler reads use.
type ReadMode int

const (
	// ReadMixed alternates randomly between the exclusive Read and the shared Get.
	ReadMixed ReadMode = iota
	ReadExclusive
	ReadShared
)

// RegisterLoad runs clients issuing random reads, writes of unique values and
// compare-and-sets against Register objects, recording a history for porcupine.
type RegisterLoad struct {
	Caller *Caller
	// Keys are the Register object keys; each gets ClientsPerKey clients.
	Keys          []string
	ClientsPerKey int // default 2
	// Pace is the pause between one client's operations (default none).
	Pace  time.Duration
	Reads ReadMode
	// RunID prefixes idempotency keys so runs against the same cluster cannot collide.
	RunID string
	// Seed makes the operation mix reproducible.
	Seed uint64
}

// RegisterRun is a running RegisterLoad.
type RegisterRun struct {
	stop     chan struct{}
	stopOnce sync.Once
	ctx      context.Context
	abort    context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	history  RegisterHistory
}

// RegisterHistory is the recorded operations; times are nanoseconds since Start.
type RegisterHistory struct {
	Ops []porcupine.Operation
	// Unknown counts operations recorded with an unknown result, Dropped the reads with an
	// unknown result (a read that never returned constrains nothing) and the operations that
	// certainly never reached a server.
	Unknown, Dropped int
}

// Start launches the clients. They run until Stop.
func (l RegisterLoad) Start() *RegisterRun {
	if len(l.Keys) == 0 {
		panic("workload: RegisterLoad needs keys")
	}
	perKey := l.ClientsPerKey
	if perKey == 0 {
		perKey = 2
	}
	r := &RegisterRun{stop: make(chan struct{})}
	r.ctx, r.abort = context.WithCancel(context.Background())
	base := time.Now()
	client := 0
	for _, key := range l.Keys {
		for range perKey {
			id := client
			client++
			rng := rand.New(rand.NewPCG(l.Seed, uint64(id)))
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				var lastSeen int64
				for seq := 1; ; seq++ {
					select {
					case <-r.stop:
						return
					default:
					}
					in := RegisterInput{Key: key}
					fresh := int64(id+1)<<32 | int64(seq)
					switch p := rng.IntN(10); {
					case p < 4:
						in.Op = OpRead
						in.Shared = l.Reads == ReadShared || (l.Reads == ReadMixed && rng.IntN(2) == 0)
					case p < 8:
						in.Op, in.Value = OpWrite, fresh
					default:
						in.Op, in.Expect, in.Value = OpCas, lastSeen, fresh
					}
					op, seen := l.run(r.ctx, id, in, fmt.Sprintf("%s-r%d-%d", l.RunID, id, seq), base)
					if seen != nil {
						lastSeen = *seen
					}
					r.record(op)
					if l.Pace > 0 {
						time.Sleep(l.Pace)
					}
				}
			}()
		}
	}
	return r
}

// run performs one operation; it also returns the value the client learnt the register
// holds, if any, to aim its next compare-and-set.
func (l RegisterLoad) run(ctx context.Context, client int, in RegisterInput, idempotencyKey string, base time.Time) (*porcupine.Operation, *int64) {
	var path string
	var body any
	switch in.Op {
	case OpRead:
		path = "/Register/" + in.Key + "/Read"
		if in.Shared {
			path = "/Register/" + in.Key + "/Get"
		}
	case OpWrite:
		path, body = "/Register/"+in.Key+"/Write", in.Value
	case OpCas:
		path, body = "/Register/"+in.Key+"/Cas", CasRequest{Expect: in.Expect, New: in.Value}
	}
	call := time.Since(base).Nanoseconds()
	res := l.Caller.Call(ctx, path, body, idempotencyKey, "register/"+in.Key)
	ret := time.Since(base).Nanoseconds()
	op := &porcupine.Operation{ClientId: client, Input: in, Call: call, Return: ret}
	var out RegisterOutput
	switch res.Outcome {
	case Failed:
		return nil, nil
	case Maybe:
		if in.Op == OpRead {
			return nil, nil
		}
		out.Unknown = true
		op.Return = math.MaxInt64
		op.Output = out
		return op, nil
	}
	var seen *int64
	switch in.Op {
	case OpRead:
		if err := json.Unmarshal(res.Body, &out.Value); err != nil {
			// An acknowledged read with an undecodable body is a server bug; recording an
			// impossible value makes the checker flag it.
			out.Value = math.MinInt64
		}
		seen = &out.Value
	case OpWrite:
		seen = &in.Value
	case OpCas:
		if err := json.Unmarshal(res.Body, &out.Swapped); err != nil {
			out.Unknown = true
		}
		if out.Swapped {
			seen = &in.Value
		}
	}
	op.Output = out
	return op, seen
}

func (r *RegisterRun) record(op *porcupine.Operation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case op == nil:
		r.history.Dropped++
	default:
		if op.Output.(RegisterOutput).Unknown {
			r.history.Unknown++
		}
		r.history.Ops = append(r.history.Ops, *op)
	}
}

// Stop stops starting new operations, waits for the ones in flight and returns the history.
func (r *RegisterRun) Stop() RegisterHistory {
	r.stopOnce.Do(func() { close(r.stop) })
	r.wg.Wait()
	r.abort()
	return r.history
}

// Abort stops the clients at once, giving up on operations in flight. It is for cleaning up
// after a failed test and may follow Stop.
func (r *RegisterRun) Abort() {
	r.abort()
	r.Stop()
}

// CheckRegister checks the history for linearizability against RegisterModel. A result
// other than porcupine.Ok comes with the information needed to visualise it.
func CheckRegister(h RegisterHistory, timeout time.Duration) (porcupine.CheckResult, porcupine.LinearizationInfo) {
	return porcupine.CheckOperationsVerbose(RegisterModel, h.Ops, timeout)
}
