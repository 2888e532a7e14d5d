package partition

import (
	"fmt"

	"github.com/restatego/restate/internal/codec"
	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/wire"
)

// recordFormat is the version byte in front of every record we write to a log.
const recordFormat = 1

// Kind identifies what a log record asks the state machine to do.
type Kind uint8

const (
	KindAnnounceLeader Kind = 1  // a processor claims leadership with a new epoch
	KindInvoke         Kind = 2  // create an invocation (from the ingress or another invocation)
	KindJournalAppend  Kind = 3  // a command the deployment sent during an attempt
	KindRunCompletion  Kind = 4  // the result of a ctx.Run proposed by the deployment
	KindEnd            Kind = 5  // the deployment finished the invocation
	KindSuspend        Kind = 6  // the deployment suspended waiting for notifications
	KindAttemptFailed  Kind = 7  // an attempt failed and will be retried (status bookkeeping)
	KindTerminate      Kind = 8  // end the invocation with a failure (kill, retries exhausted)
	KindTimerFired     Kind = 9  // a durable timer is due
	KindPause          Kind = 10 // stop retrying until an operator resumes
	KindCleanup        Kind = 11 // drop completed invocations whose retention has passed
	KindResponse       Kind = 12 // the result of an invocation, for the caller waiting on it
	KindSignal         Kind = 13 // a signal (awakeable completion, named signal) for an invocation
	KindCancel         Kind = 14 // cancel an invocation (the handler gets to compensate)
	KindKill           Kind = 15 // end an invocation and its callees at once
	KindAttach         Kind = 16 // deliver an invocation's result to a new party (attach / output)
	KindPurge          Kind = 17 // drop a completed invocation
	KindPurgeJournal   Kind = 18 // drop a completed invocation's journal
	KindResume         Kind = 19 // resume a paused invocation
	KindPauseRequest   Kind = 20 // an operator pauses an invocation
	KindRestartAsNew   Kind = 21 // start a completed invocation again with its input
	KindOutboxTruncate Kind = 22 // messages up to a sequence number reached their partitions
	KindSetState       Kind = 23 // replace an object's state (admin)
	KindSnapshotTaken  Kind = 24 // a snapshot of the state at lsn UpTo is durable in the repository
)

func (k Kind) String() string {
	switch k {
	case KindAnnounceLeader:
		return "AnnounceLeader"
	case KindInvoke:
		return "Invoke"
	case KindJournalAppend:
		return "JournalAppend"
	case KindRunCompletion:
		return "RunCompletion"
	case KindEnd:
		return "End"
	case KindSuspend:
		return "Suspend"
	case KindAttemptFailed:
		return "AttemptFailed"
	case KindTerminate:
		return "Terminate"
	case KindTimerFired:
		return "TimerFired"
	case KindPause:
		return "Pause"
	case KindCleanup:
		return "Cleanup"
	case KindResponse:
		return "Response"
	case KindSignal:
		return "Signal"
	case KindCancel:
		return "Cancel"
	case KindKill:
		return "Kill"
	case KindAttach:
		return "Attach"
	case KindPurge:
		return "Purge"
	case KindPurgeJournal:
		return "PurgeJournal"
	case KindResume:
		return "Resume"
	case KindPauseRequest:
		return "PauseRequest"
	case KindRestartAsNew:
		return "RestartAsNew"
	case KindOutboxTruncate:
		return "OutboxTruncate"
	case KindSetState:
		return "SetState"
	case KindSnapshotTaken:
		return "SnapshotTaken"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ServiceType mirrors the schema's service types in a byte.
type ServiceType uint8

const (
	ServicePlain ServiceType = iota
	ServiceVirtualObject
	ServiceWorkflow
)

// HandlerType says how a handler of a keyed service is scheduled.
type HandlerType uint8

const (
	HandlerNone HandlerType = iota // handlers of plain services
	HandlerExclusive
	HandlerShared
	HandlerWorkflow
)

// Target is the handler an invocation runs.
type Target struct {
	Service     string
	Handler     string
	Key         string
	ServiceType ServiceType
	HandlerType HandlerType
}

// Keyed reports whether the target belongs to a virtual object or workflow.
func (t Target) Keyed() bool { return t.ServiceType != ServicePlain }

// Exclusive reports whether the target holds its key's lock while it runs.
func (t Target) Exclusive() bool {
	return t.HandlerType == HandlerExclusive || t.HandlerType == HandlerWorkflow
}

func (t Target) String() string {
	if t.Keyed() {
		return t.Service + "/" + t.Key + "/" + t.Handler
	}
	return t.Service + "/" + t.Handler
}

// Header is one request header forwarded to the handler.
type Header struct{ Key, Value string }

// SinkKind says where an invocation's result goes.
type SinkKind uint8

const (
	// SinkIngress is a request (ingress call or admin operation) waiting on a node.
	SinkIngress SinkKind = 1
	// SinkInvocation is an invocation waiting for a completion (call, attach, get output).
	SinkInvocation SinkKind = 2
)

// Sink is one party waiting for an answer.
type Sink struct {
	Kind SinkKind
	// SinkIngress
	Node      uint32
	RequestID uint64
	// SinkInvocation: the completion to append to the caller's journal.
	Caller       ids.InvocationID
	CompletionID uint32
	NotifyType   uint16
}

// Failure is a terminal error of an invocation.
type Failure struct {
	Code     uint32
	Message  string
	Metadata []FailureMetadata
}

// FailureMetadata is one key/value pair a handler attached to its error.
type FailureMetadata struct{ Key, Value string }

// FailureFromWire converts a protocol failure.
func FailureFromWire(f *wire.Failure) *Failure {
	if f == nil {
		return nil
	}
	out := &Failure{Code: f.Code, Message: f.Message}
	for _, m := range f.Metadata {
		out.Metadata = append(out.Metadata, FailureMetadata{Key: m.Key, Value: m.Value})
	}
	return out
}

// Wire converts the failure to a protocol result.
func (f *Failure) Wire() wire.Result {
	r := wire.FailureResult(f.Code, f.Message)
	for _, m := range f.Metadata {
		r.Failure.Metadata = append(r.Failure.Metadata, wire.FailureMetadata{Key: m.Key, Value: m.Value})
	}
	return r
}

// Result is how an invocation ended, or the answer to a request about one.
type Result struct {
	Value   []byte
	Failure *Failure
	// Answers that are not an invocation's result.
	Status       Reply            // for requests that are not waiting on an invocation's result
	InvocationID ids.InvocationID // the invocation the answer is about
	NewID        ids.InvocationID // RestartAsNew: the new invocation
	ExpiresAt    int64            // completed results: when they are removed (unix ms)
	Target       Target           // completed results: the handler that produced it
}

// Reply says what happened to a request that does not simply wait for a result.
type Reply uint8

const (
	ReplyResult             Reply = iota // Value/Failure hold the invocation's result
	ReplyAccepted                        // a send created a new invocation
	ReplyPreviouslyAccepted              // a send hit an existing invocation (idempotency, workflow)
	ReplyNotFound                        // no such invocation
	ReplyNotReady                        // the invocation has not completed yet
	ReplyDone                            // an operation was applied at once
	ReplyAppended                        // an operation was handed to the running handler (cancel)
	ReplyCompleted                       // refused: the invocation is already completed
	ReplyNotCompleted                    // refused: the invocation is not completed yet
	ReplyWrongState                      // refused: the invocation is in a state that does not allow it
	ReplyGone                            // refused: the input or journal is no longer stored
)

// Record is one entry of a partition log. Which fields matter depends on Kind.
type Record struct {
	Kind Kind
	// Epoch is the leader epoch of the proposer; the state machine drops records whose epoch
	// is older than the current leader's. 0 marks records that are valid under any leader
	// (requests from ingresses, which carry their own dedup).
	Epoch uint64
	Inv   ids.InvocationID
	// CreatedAt is the proposer's clock (unix ms). The state machine uses it instead of its own
	// clock so that every replica applies a record identically.
	CreatedAt int64

	// Invoke
	Target         Target
	Headers        []Header
	Body           []byte
	Sink           *Sink
	InvokedBy      ids.InvocationID // the invocation that called or sent this one (zero: ingress)
	IdempotencyKey string
	ExecuteAt      int64 // unix ms; 0 = now

	// JournalAppend
	EntryType uint16
	Payload   []byte

	// RunCompletion (Payload holds the value when Failure is nil)
	CompletionID uint32
	Failure      *Failure

	// Suspend
	WaitCompletions []uint32
	WaitSignals     []uint32
	WaitNames       []string

	// AttemptFailed: Failure, plus these
	RelatedEntry uint32
	NextRetryAt  int64

	// AnnounceLeader
	Node uint32

	// TimerFired
	TimerKey []byte

	// Dedup identifies messages shipped from another partition's outbox: the source partition
	// plus one (0 = not a shipped message) and its outbox sequence number.
	DedupSource uint32
	DedupSeq    uint64

	// Invoke: how long the completed invocation stays (result and journal), in ms.
	Retention int64
	// Invoke from a send, admin operations: who wants to hear how the request was applied.
	Reply *Sink

	// JournalAppend of Call/OneWayCall: the callee as the invoker resolved it in the schema;
	// Failure set instead when it could not be resolved.
	Callee          *Target
	CalleeRetention int64

	// Response, Signal: the result to append (Failure or Payload, or Void).
	Void       bool
	SignalID   uint32
	SignalName string

	// Attach: answer at once instead of waiting (get output).
	NoWait bool

	// OutboxTruncate; SnapshotTaken: the snapshot's applied lsn
	UpTo uint64
	// SnapshotTaken
	SnapshotID string
	TrimLog    bool // trim the log up to this snapshot, not the one before (on request)

	// SetState
	State []StateEntry
}

// Encode serialises the record.
func (r *Record) Encode() []byte {
	e := codec.Encoder{Buf: make([]byte, 0, 64+len(r.Body)+len(r.Payload))}
	e.Byte(recordFormat)
	e.Byte(byte(r.Kind))
	e.Uvarint(r.Epoch)
	id := r.Inv.Bytes()
	e.Raw(id[:])
	e.Varint(r.CreatedAt)
	e.Uvarint(uint64(r.DedupSource))
	e.Uvarint(r.DedupSeq)
	switch r.Kind {
	case KindAnnounceLeader:
		e.Uvarint(uint64(r.Node))
	case KindInvoke:
		encodeTarget(&e, r.Target)
		e.Uvarint(uint64(len(r.Headers)))
		for _, h := range r.Headers {
			e.String(h.Key)
			e.String(h.Value)
		}
		e.Bytes(r.Body)
		encodeSink(&e, r.Sink)
		e.String(r.IdempotencyKey)
		e.Varint(r.ExecuteAt)
		e.Varint(r.Retention)
		encodeSink(&e, r.Reply)
		encodeOptInvocation(&e, r.InvokedBy) // added later: last, so older records still read
	case KindJournalAppend:
		e.Uvarint(uint64(r.EntryType))
		e.Bytes(r.Payload)
		e.Bool(r.Callee != nil)
		if r.Callee != nil {
			encodeTarget(&e, *r.Callee)
		}
		e.Varint(r.CalleeRetention)
		encodeFailure(&e, r.Failure)
	case KindRunCompletion:
		e.Uvarint(uint64(r.CompletionID))
		encodeFailure(&e, r.Failure)
		e.Bytes(r.Payload)
	case KindEnd, KindPause:
	case KindSuspend:
		encodeU32s(&e, r.WaitCompletions)
		encodeU32s(&e, r.WaitSignals)
		e.Uvarint(uint64(len(r.WaitNames)))
		for _, n := range r.WaitNames {
			e.String(n)
		}
	case KindAttemptFailed:
		encodeFailure(&e, r.Failure)
		e.Uvarint(uint64(r.RelatedEntry))
		e.Varint(r.NextRetryAt)
	case KindTerminate:
		encodeFailure(&e, r.Failure)
	case KindTimerFired:
		e.Bytes(r.TimerKey)
	case KindCleanup:
	case KindResponse:
		e.Uvarint(uint64(r.CompletionID))
		e.Uvarint(uint64(r.EntryType))
		e.Bool(r.Void)
		encodeFailure(&e, r.Failure)
		e.Bytes(r.Payload)
	case KindSignal:
		e.Uvarint(uint64(r.SignalID))
		e.String(r.SignalName)
		e.Bool(r.Void)
		encodeFailure(&e, r.Failure)
		e.Bytes(r.Payload)
	case KindCancel, KindKill, KindPurge, KindPurgeJournal, KindResume, KindPauseRequest, KindRestartAsNew:
		encodeSink(&e, r.Reply)
	case KindAttach:
		encodeSink(&e, r.Sink)
		e.Bool(r.NoWait)
	case KindOutboxTruncate:
		e.Uvarint(r.UpTo)
	case KindSnapshotTaken:
		e.Uvarint(r.UpTo)
		e.String(r.SnapshotID)
		e.Bool(r.TrimLog) // added later: last, so older records still read
	case KindSetState:
		encodeTarget(&e, r.Target)
		e.Uvarint(uint64(len(r.State)))
		for _, s := range r.State {
			e.Bytes(s.Key)
			e.Bytes(s.Value)
		}
		encodeSink(&e, r.Reply)
	}
	return e.Buf
}

// DecodeRecord parses a record written by Encode.
func DecodeRecord(b []byte) (*Record, error) {
	d := codec.NewDecoder(b)
	if v := d.Byte(); v != recordFormat {
		if d.Err() != nil {
			return nil, fmt.Errorf("partition: empty record")
		}
		return nil, fmt.Errorf("partition: unknown record format %d", v)
	}
	r := &Record{Kind: Kind(d.Byte()), Epoch: d.Uvarint()}
	raw := d.Raw(24)
	if d.Err() == nil {
		id, err := ids.InvocationIDFromBytes(raw)
		if err != nil {
			return nil, err
		}
		r.Inv = id
	}
	r.CreatedAt = d.Varint()
	r.DedupSource = uint32(d.Uvarint())
	r.DedupSeq = d.Uvarint()
	limit := uint64(len(b))
	switch r.Kind {
	case KindAnnounceLeader:
		r.Node = uint32(d.Uvarint())
	case KindInvoke:
		r.Target = decodeTarget(d)
		n := d.Uvarint()
		if n > limit {
			return nil, fmt.Errorf("partition: corrupt Invoke record: %d headers", n)
		}
		for i := uint64(0); i < n && d.Err() == nil; i++ {
			r.Headers = append(r.Headers, Header{Key: d.String(), Value: d.String()})
		}
		r.Body = d.CopyBytes()
		r.Sink = decodeSink(d)
		r.IdempotencyKey = d.String()
		r.ExecuteAt = d.Varint()
		r.Retention = d.Varint()
		r.Reply = decodeSink(d)
		r.InvokedBy = decodeOptInvocation(d)
	case KindJournalAppend:
		r.EntryType = uint16(d.Uvarint())
		r.Payload = d.CopyBytes()
		if d.Bool() {
			t := decodeTarget(d)
			r.Callee = &t
		}
		r.CalleeRetention = d.Varint()
		r.Failure = decodeFailure(d)
	case KindRunCompletion:
		r.CompletionID = uint32(d.Uvarint())
		r.Failure = decodeFailure(d)
		r.Payload = d.CopyBytes()
	case KindEnd, KindPause, KindCleanup:
	case KindSuspend:
		r.WaitCompletions = decodeU32s(d, len(b))
		r.WaitSignals = decodeU32s(d, len(b))
		n := d.Uvarint()
		if n > limit {
			return nil, fmt.Errorf("partition: corrupt Suspend record")
		}
		for i := uint64(0); i < n && d.Err() == nil; i++ {
			r.WaitNames = append(r.WaitNames, d.String())
		}
	case KindAttemptFailed:
		r.Failure = decodeFailure(d)
		r.RelatedEntry = uint32(d.Uvarint())
		r.NextRetryAt = d.Varint()
	case KindTerminate:
		r.Failure = decodeFailure(d)
	case KindTimerFired:
		r.TimerKey = d.CopyBytes()
	case KindResponse:
		r.CompletionID = uint32(d.Uvarint())
		r.EntryType = uint16(d.Uvarint())
		r.Void = d.Bool()
		r.Failure = decodeFailure(d)
		r.Payload = d.CopyBytes()
	case KindSignal:
		r.SignalID = uint32(d.Uvarint())
		r.SignalName = d.String()
		r.Void = d.Bool()
		r.Failure = decodeFailure(d)
		r.Payload = d.CopyBytes()
	case KindCancel, KindKill, KindPurge, KindPurgeJournal, KindResume, KindPauseRequest, KindRestartAsNew:
		r.Reply = decodeSink(d)
	case KindAttach:
		r.Sink = decodeSink(d)
		r.NoWait = d.Bool()
	case KindOutboxTruncate:
		r.UpTo = d.Uvarint()
	case KindSnapshotTaken:
		r.UpTo = d.Uvarint()
		r.SnapshotID = d.String()
		r.TrimLog = d.More() && d.Bool()
	case KindSetState:
		r.Target = decodeTarget(d)
		n := d.Uvarint()
		if n > limit {
			return nil, fmt.Errorf("partition: corrupt SetState record")
		}
		for i := uint64(0); i < n && d.Err() == nil; i++ {
			r.State = append(r.State, StateEntry{Key: d.CopyBytes(), Value: d.CopyBytes()})
		}
		r.Reply = decodeSink(d)
	default:
		return nil, fmt.Errorf("partition: unknown record kind %d", r.Kind)
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("partition: corrupt %s record: %w", r.Kind, err)
	}
	return r, nil
}

func encodeTarget(e *codec.Encoder, t Target) {
	e.String(t.Service)
	e.String(t.Handler)
	e.String(t.Key)
	e.Byte(byte(t.ServiceType))
	e.Byte(byte(t.HandlerType))
}

func decodeTarget(d *codec.Decoder) Target {
	return Target{Service: d.String(), Handler: d.String(), Key: d.String(),
		ServiceType: ServiceType(d.Byte()), HandlerType: HandlerType(d.Byte())}
}

// encodeOptInvocation writes an optional invocation id as a presence flag and the id.
func encodeOptInvocation(e *codec.Encoder, id ids.InvocationID) {
	if id == (ids.InvocationID{}) {
		e.Bool(false)
		return
	}
	e.Bool(true)
	b := id.Bytes()
	e.Raw(b[:])
}

// decodeOptInvocation reads what encodeOptInvocation wrote; a value that ends before it (it
// was written by a release without the field) reads as the zero id.
func decodeOptInvocation(d *codec.Decoder) ids.InvocationID {
	if !d.More() || !d.Bool() {
		return ids.InvocationID{}
	}
	var id ids.InvocationID
	if raw := d.Raw(24); raw != nil {
		id, _ = ids.InvocationIDFromBytes(raw)
	}
	return id
}

func encodeSink(e *codec.Encoder, s *Sink) {
	if s == nil {
		e.Byte(0)
		return
	}
	e.Byte(byte(s.Kind))
	switch s.Kind {
	case SinkIngress:
		e.Uvarint(uint64(s.Node))
		e.Uvarint(s.RequestID)
	case SinkInvocation:
		id := s.Caller.Bytes()
		e.Raw(id[:])
		e.Uvarint(uint64(s.CompletionID))
		e.Uvarint(uint64(s.NotifyType))
	}
}

func decodeSink(d *codec.Decoder) *Sink {
	s := &Sink{Kind: SinkKind(d.Byte())}
	switch s.Kind {
	case 0:
		return nil
	case SinkIngress:
		s.Node = uint32(d.Uvarint())
		s.RequestID = d.Uvarint()
	case SinkInvocation:
		if raw := d.Raw(24); raw != nil {
			s.Caller, _ = ids.InvocationIDFromBytes(raw)
		}
		s.CompletionID = uint32(d.Uvarint())
		s.NotifyType = uint16(d.Uvarint())
	default:
		d.Raw(1 << 30) // unknown sink kinds make the value undecodable
	}
	return s
}

func encodeFailure(e *codec.Encoder, f *Failure) {
	if f == nil {
		e.Bool(false)
		return
	}
	e.Bool(true)
	e.Uvarint(uint64(f.Code))
	e.String(f.Message)
	e.Uvarint(uint64(len(f.Metadata)))
	for _, m := range f.Metadata {
		e.String(m.Key)
		e.String(m.Value)
	}
}

func decodeFailure(d *codec.Decoder) *Failure {
	if !d.Bool() {
		return nil
	}
	f := &Failure{Code: uint32(d.Uvarint()), Message: d.String()}
	n := d.Uvarint()
	for i := uint64(0); i < n && d.Err() == nil && d.More(); i++ {
		f.Metadata = append(f.Metadata, FailureMetadata{Key: d.String(), Value: d.String()})
	}
	return f
}

func encodeU32s(e *codec.Encoder, v []uint32) {
	e.Uvarint(uint64(len(v)))
	for _, x := range v {
		e.Uvarint(uint64(x))
	}
}

func decodeU32s(d *codec.Decoder, limit int) []uint32 {
	n := d.Uvarint()
	if n > uint64(limit) {
		d.Raw(limit + 1) // forces a sticky error
		return nil
	}
	var out []uint32
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		out = append(out, uint32(d.Uvarint()))
	}
	return out
}

// EncodeResult serialises a result, for answers sent to another node.
func EncodeResult(r Result) []byte {
	e := codec.Encoder{}
	e.Byte(recordFormat)
	encodeResult(&e, &r)
	e.Byte(byte(r.Status))
	for _, id := range []ids.InvocationID{r.InvocationID, r.NewID} {
		b := id.Bytes()
		e.Raw(b[:])
	}
	e.Varint(r.ExpiresAt)
	encodeTarget(&e, r.Target)
	return e.Buf
}

// DecodeResult parses what EncodeResult wrote.
func DecodeResult(b []byte) (Result, error) {
	d := codec.NewDecoder(b)
	if v := d.Byte(); v != recordFormat {
		return Result{}, fmt.Errorf("partition: unknown result format %d", v)
	}
	var r Result
	if inner := decodeResult(d); inner != nil {
		r.Value, r.Failure = inner.Value, inner.Failure
	}
	r.Status = Reply(d.Byte())
	for _, id := range []*ids.InvocationID{&r.InvocationID, &r.NewID} {
		if raw := d.Raw(24); raw != nil {
			*id, _ = ids.InvocationIDFromBytes(raw)
		}
	}
	r.ExpiresAt = d.Varint()
	r.Target = decodeTarget(d)
	if err := d.Err(); err != nil {
		return Result{}, fmt.Errorf("partition: corrupt result: %w", err)
	}
	return r, nil
}
