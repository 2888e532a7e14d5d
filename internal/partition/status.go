package partition

import (
	"fmt"

	"github.com/restatego/restate/internal/codec"
	"github.com/restatego/restate/internal/ids"
)

const statusFormat = 1

// Phase is where an invocation is in its life.
type Phase uint8

const (
	PhaseScheduled Phase = 1 // waiting for its execution time
	PhaseInboxed   Phase = 2 // waiting for its object key's lock
	PhaseInvoked   Phase = 3 // running, or about to run, on the leader's invoker
	PhaseSuspended Phase = 4 // waiting for a notification
	PhasePaused    Phase = 5 // retries stopped; waits for an operator
	PhaseCompleted Phase = 6 // finished; kept for its retention
)

func (p Phase) String() string {
	switch p {
	case PhaseScheduled:
		return "scheduled"
	case PhaseInboxed:
		return "inboxed"
	case PhaseInvoked:
		return "invoked"
	case PhaseSuspended:
		return "suspended"
	case PhasePaused:
		return "paused"
	case PhaseCompleted:
		return "completed"
	}
	return fmt.Sprintf("phase(%d)", uint8(p))
}

// Status is the stored state of one invocation.
type Status struct {
	Phase          Phase
	Target         Target
	Sinks          []Sink
	IdempotencyKey string

	JournalLen  uint32 // entries, commands and notifications, including the input at 0
	CommandsLen uint32

	CreatedAt   int64 // unix ms
	ModifiedAt  int64
	RunningAt   int64 // first time it was handed to the invoker
	CompletedAt int64
	LastEntryAt int64 // last journal append, for duration_since_last_stored_entry
	ExecuteAt   int64 // scheduled start
	InboxSeq    uint64
	ExpiresAt   int64 // when a completed invocation is removed

	RetryCount       uint32 // attempts that failed since the invocation began
	RetryCountSince  uint32 // attempts since the last stored journal entry
	LastFailure      *Failure
	LastFailureEntry uint32
	NextRetryAt      int64

	WaitCompletions []uint32
	WaitSignals     []uint32
	WaitNames       []string

	// Retention is how long the completed invocation stays, in ms.
	Retention int64
	// Children are the invocations this one called (request-response), for kill propagation.
	Children []ids.InvocationID

	// Output is the result the deployment wrote (OutputCommand) before End.
	Output *Result
	// Result is set once completed.
	Result *Result
	// InvokedBy is the invocation that called or sent this one (zero: the ingress).
	InvokedBy ids.InvocationID
}

func (s *Status) encode() []byte {
	e := codec.Encoder{Buf: make([]byte, 0, 128)}
	e.Byte(statusFormat)
	e.Byte(byte(s.Phase))
	encodeTarget(&e, s.Target)
	e.Uvarint(uint64(len(s.Sinks)))
	for i := range s.Sinks {
		encodeSink(&e, &s.Sinks[i])
	}
	e.String(s.IdempotencyKey)
	e.Uvarint(uint64(s.JournalLen))
	e.Uvarint(uint64(s.CommandsLen))
	for _, t := range []int64{s.CreatedAt, s.ModifiedAt, s.RunningAt, s.CompletedAt, s.LastEntryAt, s.ExecuteAt} {
		e.Varint(t)
	}
	e.Uvarint(s.InboxSeq)
	e.Varint(s.ExpiresAt)
	e.Uvarint(uint64(s.RetryCount))
	e.Uvarint(uint64(s.RetryCountSince))
	encodeFailure(&e, s.LastFailure)
	e.Uvarint(uint64(s.LastFailureEntry))
	e.Varint(s.NextRetryAt)
	encodeU32s(&e, s.WaitCompletions)
	encodeU32s(&e, s.WaitSignals)
	e.Uvarint(uint64(len(s.WaitNames)))
	for _, n := range s.WaitNames {
		e.String(n)
	}
	encodeResult(&e, s.Output)
	encodeResult(&e, s.Result)
	e.Varint(s.Retention)
	e.Uvarint(uint64(len(s.Children)))
	for _, c := range s.Children {
		b := c.Bytes()
		e.Raw(b[:])
	}
	encodeOptInvocation(&e, s.InvokedBy) // added later: last, so older statuses still read
	return e.Buf
}

func decodeStatus(b []byte) (*Status, error) {
	d := codec.NewDecoder(b)
	if v := d.Byte(); v != statusFormat {
		return nil, fmt.Errorf("partition: unknown invocation status format %d", v)
	}
	s := &Status{Phase: Phase(d.Byte()), Target: decodeTarget(d)}
	n := d.Uvarint()
	if n > uint64(len(b)) {
		return nil, fmt.Errorf("partition: corrupt invocation status")
	}
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		if sk := decodeSink(d); sk != nil {
			s.Sinks = append(s.Sinks, *sk)
		}
	}
	s.IdempotencyKey = d.String()
	s.JournalLen = uint32(d.Uvarint())
	s.CommandsLen = uint32(d.Uvarint())
	for _, t := range []*int64{&s.CreatedAt, &s.ModifiedAt, &s.RunningAt, &s.CompletedAt, &s.LastEntryAt, &s.ExecuteAt} {
		*t = d.Varint()
	}
	s.InboxSeq = d.Uvarint()
	s.ExpiresAt = d.Varint()
	s.RetryCount = uint32(d.Uvarint())
	s.RetryCountSince = uint32(d.Uvarint())
	s.LastFailure = decodeFailure(d)
	s.LastFailureEntry = uint32(d.Uvarint())
	s.NextRetryAt = d.Varint()
	s.WaitCompletions = decodeU32s(d, len(b))
	s.WaitSignals = decodeU32s(d, len(b))
	n = d.Uvarint()
	if n > uint64(len(b)) {
		return nil, fmt.Errorf("partition: corrupt invocation status")
	}
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		s.WaitNames = append(s.WaitNames, d.String())
	}
	s.Output = decodeResult(d)
	s.Result = decodeResult(d)
	s.Retention = d.Varint()
	n = d.Uvarint()
	if n > uint64(len(b)) {
		return nil, fmt.Errorf("partition: corrupt invocation status")
	}
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		if raw := d.Raw(24); raw != nil {
			id, err := ids.InvocationIDFromBytes(raw)
			if err != nil {
				return nil, err
			}
			s.Children = append(s.Children, id)
		}
	}
	s.InvokedBy = decodeOptInvocation(d)
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("partition: corrupt invocation status: %w", err)
	}
	return s, nil
}

func encodeResult(e *codec.Encoder, r *Result) {
	if r == nil {
		e.Bool(false)
		return
	}
	e.Bool(true)
	encodeFailure(e, r.Failure)
	e.Bytes(r.Value)
}

func decodeResult(d *codec.Decoder) *Result {
	if !d.Bool() {
		return nil
	}
	return &Result{Failure: decodeFailure(d), Value: d.CopyBytes()}
}
