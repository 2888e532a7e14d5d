package wire

// StartMessage (0x0000) is the first frame of every attempt (server → SDK).
type StartMessage struct {
	// ID is the raw invocation id: partition key (8 bytes BE) ‖ uuid (16 bytes BE).
	ID []byte
	// DebugID is the string form ("inv_1…").
	DebugID string
	// KnownEntries is the number of journal frames that follow; at least 1.
	KnownEntries uint32
	StateMap     []StateEntry
	// PartialState says StateMap may be incomplete; missing keys are then
	// fetched lazily.
	PartialState                   bool
	Key                            string
	RetryCountSinceLastStoredEntry uint32
	// DurationSinceLastStoredEntry is in milliseconds.
	DurationSinceLastStoredEntry uint64
	// RandomSeed is sent from V6 on.
	RandomSeed uint64
	// Scope, LimitKey and IdempotencyKey are sent from V7 on; empty means
	// absent.
	Scope, LimitKey, IdempotencyKey string
}

// AppendTo appends the protobuf encoding of m for the given protocol
// version, omitting fields the version does not have.
func (m *StartMessage) AppendTo(b []byte, version int) []byte {
	b = appendBytesField(b, 1, m.ID)
	b = appendStringField(b, 2, m.DebugID)
	b = appendVarintField(b, 3, uint64(m.KnownEntries))
	for i := range m.StateMap {
		e := &m.StateMap[i]
		b = appendMessageHeader(b, 4, e.size())
		b = appendBytesField(b, 1, e.Key)
		b = appendBytesField(b, 2, e.Value)
	}
	b = appendBoolField(b, 5, m.PartialState)
	b = appendStringField(b, 6, m.Key)
	b = appendVarintField(b, 7, uint64(m.RetryCountSinceLastStoredEntry))
	b = appendVarintField(b, 8, m.DurationSinceLastStoredEntry)
	if version >= 6 {
		b = appendVarintField(b, 9, m.RandomSeed)
	}
	if version >= 7 {
		b = appendStringField(b, 10, m.Scope)
		b = appendStringField(b, 11, m.LimitKey)
		b = appendStringField(b, 12, m.IdempotencyKey)
	}
	return b
}

// Marshal returns the protobuf encoding of m for the given version.
func (m *StartMessage) Marshal(version int) []byte { return m.AppendTo(nil, version) }

// AppendFrame appends m as a complete Start frame.
func (m *StartMessage) AppendFrame(b []byte, version int) []byte {
	start := len(b)
	b = BeginFrame(b, TypeStart, 0)
	b = m.AppendTo(b, version)
	return FinishFrame(b, start)
}

// Unmarshal decodes a StartMessage payload. ID and the state map alias b.
func (m *StartMessage) Unmarshal(b []byte) error {
	*m = StartMessage{}
	it := fieldIter{b: b, msg: "StartMessage"}
	for it.next() {
		switch it.num {
		case 1:
			m.ID = it.bytes()
		case 2:
			m.DebugID = it.string()
		case 3:
			m.KnownEntries = it.uint32()
		case 4:
			var e StateEntry
			it.sub(e.unmarshal)
			m.StateMap = append(m.StateMap, e)
		case 5:
			m.PartialState = it.bool()
		case 6:
			m.Key = it.string()
		case 7:
			m.RetryCountSinceLastStoredEntry = it.uint32()
		case 8:
			m.DurationSinceLastStoredEntry = it.varint()
		case 9:
			m.RandomSeed = it.varint()
		case 10:
			m.Scope = it.string()
		case 11:
			m.LimitKey = it.string()
		case 12:
			m.IdempotencyKey = it.string()
		default:
			it.skip()
		}
	}
	return it.err
}

// ErrorBehavior is ErrorMessage.behavior (V7).
type ErrorBehavior uint32

const (
	// BehaviorRetry retries according to the retry policy (the default).
	BehaviorRetry ErrorBehavior = 0
	// BehaviorPause pauses the invocation until it is resumed manually.
	BehaviorPause ErrorBehavior = 1
	// BehaviorFail fails the invocation with this error right away.
	BehaviorFail ErrorBehavior = 2
)

// ErrorMessage (0x0002) ends an attempt with a retryable failure (SDK → server).
type ErrorMessage struct {
	Code                uint32
	Message             string
	Stacktrace          string
	RelatedCommandIndex *uint32
	RelatedCommandName  *string
	// RelatedCommandType is a MessageType code.
	RelatedCommandType *uint32
	// NextRetryDelay is in milliseconds.
	NextRetryDelay *uint64
	Behavior       ErrorBehavior
}

// AppendTo appends the protobuf encoding of m.
func (m *ErrorMessage) AppendTo(b []byte) []byte {
	b = appendVarintField(b, 1, uint64(m.Code))
	b = appendStringField(b, 2, m.Message)
	b = appendStringField(b, 3, m.Stacktrace)
	if m.RelatedCommandIndex != nil {
		b = appendVarintAlways(b, 4, uint64(*m.RelatedCommandIndex))
	}
	if m.RelatedCommandName != nil {
		b = appendStringAlways(b, 5, *m.RelatedCommandName)
	}
	if m.RelatedCommandType != nil {
		b = appendVarintAlways(b, 6, uint64(*m.RelatedCommandType))
	}
	if m.NextRetryDelay != nil {
		b = appendVarintAlways(b, 8, *m.NextRetryDelay)
	}
	return appendVarintField(b, 9, uint64(m.Behavior))
}

// Unmarshal decodes an ErrorMessage payload.
func (m *ErrorMessage) Unmarshal(b []byte) error {
	*m = ErrorMessage{}
	it := fieldIter{b: b, msg: "ErrorMessage"}
	for it.next() {
		switch it.num {
		case 1:
			m.Code = it.uint32()
		case 2:
			m.Message = it.string()
		case 3:
			m.Stacktrace = it.string()
		case 4:
			v := it.uint32()
			m.RelatedCommandIndex = &v
		case 5:
			v := it.string()
			m.RelatedCommandName = &v
		case 6:
			v := it.uint32()
			m.RelatedCommandType = &v
		case 8:
			v := it.varint()
			m.NextRetryDelay = &v
		case 9:
			m.Behavior = ErrorBehavior(it.uint32())
		default:
			it.skip()
		}
	}
	return it.err
}

// SuspensionMessage (0x0001) ends an attempt because the SDK awaits
// notifications it does not have (SDK → server). V5/V6 SDKs fill the three
// any-of lists; V7 SDKs send AwaitingOn.
type SuspensionMessage struct {
	WaitingCompletions  []uint32
	WaitingSignals      []uint32
	WaitingNamedSignals []string
	AwaitingOn          *Future
}

// Awaiting returns what the SDK waits for as a Future tree: AwaitingOn when
// present, else the V5/V6 lists as one FIRST_COMPLETED node. The result
// shares slices with m.
func (m *SuspensionMessage) Awaiting() Future {
	if m.AwaitingOn != nil {
		return *m.AwaitingOn
	}
	return Future{
		WaitingCompletions:  m.WaitingCompletions,
		WaitingSignals:      m.WaitingSignals,
		WaitingNamedSignals: m.WaitingNamedSignals,
		Combinator:          FirstCompleted,
	}
}

// AppendTo appends the protobuf encoding of m (packed repeated fields).
func (m *SuspensionMessage) AppendTo(b []byte) []byte {
	b = appendPackedUint32s(b, 1, m.WaitingCompletions)
	b = appendPackedUint32s(b, 2, m.WaitingSignals)
	for _, s := range m.WaitingNamedSignals {
		b = appendStringAlways(b, 3, s)
	}
	if m.AwaitingOn != nil {
		b = appendMessageHeader(b, 4, m.AwaitingOn.size())
		b = m.AwaitingOn.appendTo(b)
	}
	return b
}

// Unmarshal decodes a SuspensionMessage payload.
func (m *SuspensionMessage) Unmarshal(b []byte) error {
	*m = SuspensionMessage{}
	it := fieldIter{b: b, msg: "SuspensionMessage"}
	for it.next() {
		switch it.num {
		case 1:
			m.WaitingCompletions = it.uint32s(m.WaitingCompletions)
		case 2:
			m.WaitingSignals = it.uint32s(m.WaitingSignals)
		case 3:
			m.WaitingNamedSignals = append(m.WaitingNamedSignals, it.string())
		case 4:
			// A repeated occurrence of a message field merges into the
			// previous one, per protobuf rules.
			if m.AwaitingOn == nil {
				m.AwaitingOn = new(Future)
			}
			f := m.AwaitingOn
			it.sub(func(b []byte) error { return f.merge(b, 0) })
		default:
			it.skip()
		}
	}
	return it.err
}

// AwaitingOnMessage (0x0006, V7) tells what user code currently awaits
// (SDK → server). It is informational.
type AwaitingOnMessage struct {
	AwaitingOn           *Future
	ExecutingSideEffects bool
}

// AppendTo appends the protobuf encoding of m.
func (m *AwaitingOnMessage) AppendTo(b []byte) []byte {
	if m.AwaitingOn != nil {
		b = appendMessageHeader(b, 1, m.AwaitingOn.size())
		b = m.AwaitingOn.appendTo(b)
	}
	return appendBoolField(b, 2, m.ExecutingSideEffects)
}

// Unmarshal decodes an AwaitingOnMessage payload.
func (m *AwaitingOnMessage) Unmarshal(b []byte) error {
	*m = AwaitingOnMessage{}
	it := fieldIter{b: b, msg: "AwaitingOnMessage"}
	for it.next() {
		switch it.num {
		case 1:
			if m.AwaitingOn == nil {
				m.AwaitingOn = new(Future)
			}
			f := m.AwaitingOn
			it.sub(func(b []byte) error { return f.merge(b, 0) })
		case 2:
			m.ExecutingSideEffects = it.bool()
		default:
			it.skip()
		}
	}
	return it.err
}

// ProposeRunCompletion (0x0005) carries the result of a Run closure (SDK →
// server). It is not a journal entry: the server turns it into a
// RunCompletion notification. Result.Kind is ResultValue (possibly empty) or
// ResultFailure; ResultNone means the SDK sent neither.
type ProposeRunCompletion struct {
	ResultCompletionID uint32
	Result
}

// AppendTo appends the protobuf encoding of m.
func (m *ProposeRunCompletion) AppendTo(b []byte) []byte {
	b = appendVarintField(b, 1, uint64(m.ResultCompletionID))
	return proposeRunResultFields.appendTo(b, &m.Result, MaxProtocolVersion)
}

// Unmarshal decodes a ProposeRunCompletion payload. Value aliases b.
func (m *ProposeRunCompletion) Unmarshal(b []byte) error {
	*m = ProposeRunCompletion{}
	it := fieldIter{b: b, msg: "ProposeRunCompletionMessage"}
	for it.next() {
		switch {
		case it.num == 1:
			m.ResultCompletionID = it.uint32()
		case proposeRunResultFields.decode(&it, &m.Result):
		default:
			it.skip()
		}
	}
	return it.err
}

// ProposeRunCompletionAck (0x0007, V7) acknowledges a stored run proposal
// that carried the REQUESTED_ACK flag (server → SDK).
type ProposeRunCompletionAck struct {
	CompletionID uint32
}

// AppendTo appends the protobuf encoding of m.
func (m *ProposeRunCompletionAck) AppendTo(b []byte) []byte {
	return appendVarintField(b, 1, uint64(m.CompletionID))
}

// AppendFrame appends m as a complete ProposeRunCompletionAck frame.
func (m *ProposeRunCompletionAck) AppendFrame(b []byte) []byte {
	start := len(b)
	b = BeginFrame(b, TypeProposeRunCompletionAck, 0)
	b = m.AppendTo(b)
	return FinishFrame(b, start)
}

// Unmarshal decodes a ProposeRunCompletionAck payload.
func (m *ProposeRunCompletionAck) Unmarshal(b []byte) error {
	*m = ProposeRunCompletionAck{}
	it := fieldIter{b: b, msg: "ProposeRunCompletionAckMessage"}
	for it.next() {
		if it.num == 1 {
			m.CompletionID = it.uint32()
		} else {
			it.skip()
		}
	}
	return it.err
}
