package wire

import "fmt"

// Command is a decoded command message (types 0x0400-0x7FFF). The server
// stores and replays the payload bytes it received, so these structs exist
// to read what the server acts on, and to build SDK-side frames in tests.
type Command interface {
	// Type is the message type of the command.
	Type() MessageType
	// CommandName is the user-given name of the entry, possibly empty.
	CommandName() string
	// AppendTo appends the protobuf encoding of the command.
	AppendTo(b []byte) []byte
	// Unmarshal decodes a payload, aliasing []byte fields into b.
	Unmarshal(b []byte) error
}

// NewCommand returns an empty command struct for t, or nil if t is not a
// V5-V7 command type.
func NewCommand(t MessageType) Command {
	switch t {
	case TypeInputCommand:
		return new(InputCommand)
	case TypeOutputCommand:
		return new(OutputCommand)
	case TypeGetLazyStateCommand:
		return new(GetLazyStateCommand)
	case TypeSetStateCommand:
		return new(SetStateCommand)
	case TypeClearStateCommand:
		return new(ClearStateCommand)
	case TypeClearAllStateCommand:
		return new(ClearAllStateCommand)
	case TypeGetLazyStateKeysCommand:
		return new(GetLazyStateKeysCommand)
	case TypeGetEagerStateCommand:
		return new(GetEagerStateCommand)
	case TypeGetEagerStateKeysCommand:
		return new(GetEagerStateKeysCommand)
	case TypeGetPromiseCommand:
		return new(GetPromiseCommand)
	case TypePeekPromiseCommand:
		return new(PeekPromiseCommand)
	case TypeCompletePromiseCommand:
		return new(CompletePromiseCommand)
	case TypeSleepCommand:
		return new(SleepCommand)
	case TypeCallCommand:
		return new(CallCommand)
	case TypeOneWayCallCommand:
		return new(OneWayCallCommand)
	case TypeSendSignalCommand:
		return new(SendSignalCommand)
	case TypeRunCommand:
		return new(RunCommand)
	case TypeAttachInvocationCommand:
		return new(AttachInvocationCommand)
	case TypeGetInvocationOutputCommand:
		return new(GetInvocationOutputCommand)
	case TypeCompleteAwakeableCommand:
		return new(CompleteAwakeableCommand)
	}
	return nil
}

// DecodeCommand decodes the payload of a command frame of type t. Hot paths
// that handle one type can call that type's Unmarshal on a stack value
// instead and avoid the allocation.
func DecodeCommand(t MessageType, payload []byte) (Command, error) {
	c := NewCommand(t)
	if c == nil {
		return nil, fmt.Errorf("wire: message type %s (0x%04x) is not a known command", t, uint16(t))
	}
	if err := c.Unmarshal(payload); err != nil {
		return nil, err
	}
	return c, nil
}

// AppendCommandFrame appends c as a complete frame.
func AppendCommandFrame(b []byte, c Command) []byte {
	start := len(b)
	b = BeginFrame(b, c.Type(), 0)
	b = c.AppendTo(b)
	return FinishFrame(b, start)
}

// InputCommand (0x0400) is journal entry 0: the invocation's argument.
// The server writes it.
type InputCommand struct {
	Headers []Header
	Value   []byte
	Name    string
}

func (*InputCommand) Type() MessageType     { return TypeInputCommand }
func (c *InputCommand) CommandName() string { return c.Name }

// AppendTo appends the protobuf encoding of c. The value is always present
// (possibly empty), as Restate sends it.
func (c *InputCommand) AppendTo(b []byte) []byte {
	b = appendHeaders(b, 1, c.Headers)
	b = appendStringField(b, 12, c.Name)
	return appendValueMessage(b, 14, c.Value)
}

// Marshal returns the protobuf encoding of c.
func (c *InputCommand) Marshal() []byte { return c.AppendTo(nil) }

// AppendFrame appends c as a complete Input frame.
func (c *InputCommand) AppendFrame(b []byte) []byte { return AppendCommandFrame(b, c) }

func (c *InputCommand) Unmarshal(b []byte) error {
	*c = InputCommand{}
	it := fieldIter{b: b, msg: "InputCommandMessage"}
	for it.next() {
		switch it.num {
		case 1:
			var h Header
			it.sub(h.unmarshal)
			c.Headers = append(c.Headers, h)
		case 12:
			c.Name = it.string()
		case 14:
			it.sub(func(b []byte) (err error) { c.Value, err = decodeValue(b); return err })
		default:
			it.skip()
		}
	}
	return it.err
}

// OutputCommand (0x0401) holds the invocation's result: ResultValue or
// ResultFailure.
type OutputCommand struct {
	Result
	Name string
}

func (*OutputCommand) Type() MessageType     { return TypeOutputCommand }
func (c *OutputCommand) CommandName() string { return c.Name }

func (c *OutputCommand) AppendTo(b []byte) []byte {
	b = appendStringField(b, 12, c.Name)
	return outputResultFields.appendTo(b, &c.Result, MaxProtocolVersion)
}

func (c *OutputCommand) Unmarshal(b []byte) error {
	*c = OutputCommand{}
	it := fieldIter{b: b, msg: "OutputCommandMessage"}
	for it.next() {
		switch {
		case it.num == 12:
			c.Name = it.string()
		case outputResultFields.decode(&it, &c.Result):
		default:
			it.skip()
		}
	}
	return it.err
}

// GetLazyStateCommand (0x0402) reads one state key; the server answers with
// a GetLazyStateCompletion.
type GetLazyStateCommand struct {
	Key                []byte
	ResultCompletionID uint32
	Name               string
}

func (*GetLazyStateCommand) Type() MessageType     { return TypeGetLazyStateCommand }
func (c *GetLazyStateCommand) CommandName() string { return c.Name }

func (c *GetLazyStateCommand) AppendTo(b []byte) []byte {
	b = appendBytesField(b, 1, c.Key)
	b = appendVarintField(b, 11, uint64(c.ResultCompletionID))
	return appendStringField(b, 12, c.Name)
}

func (c *GetLazyStateCommand) Unmarshal(b []byte) error {
	*c = GetLazyStateCommand{}
	it := fieldIter{b: b, msg: "GetLazyStateCommandMessage"}
	for it.next() {
		switch it.num {
		case 1:
			c.Key = it.bytes()
		case 11:
			c.ResultCompletionID = it.uint32()
		case 12:
			c.Name = it.string()
		default:
			it.skip()
		}
	}
	return it.err
}

// SetStateCommand (0x0403) writes one state key.
type SetStateCommand struct {
	Key   []byte
	Value []byte
	Name  string
}

func (*SetStateCommand) Type() MessageType     { return TypeSetStateCommand }
func (c *SetStateCommand) CommandName() string { return c.Name }

func (c *SetStateCommand) AppendTo(b []byte) []byte {
	b = appendBytesField(b, 1, c.Key)
	b = appendValueMessage(b, 3, c.Value)
	return appendStringField(b, 12, c.Name)
}

func (c *SetStateCommand) Unmarshal(b []byte) error {
	*c = SetStateCommand{}
	it := fieldIter{b: b, msg: "SetStateCommandMessage"}
	for it.next() {
		switch it.num {
		case 1:
			c.Key = it.bytes()
		case 3:
			it.sub(func(b []byte) (err error) { c.Value, err = decodeValue(b); return err })
		case 12:
			c.Name = it.string()
		default:
			it.skip()
		}
	}
	return it.err
}

// ClearStateCommand (0x0404) deletes one state key.
type ClearStateCommand struct {
	Key  []byte
	Name string
}

func (*ClearStateCommand) Type() MessageType     { return TypeClearStateCommand }
func (c *ClearStateCommand) CommandName() string { return c.Name }

func (c *ClearStateCommand) AppendTo(b []byte) []byte {
	b = appendBytesField(b, 1, c.Key)
	return appendStringField(b, 12, c.Name)
}

func (c *ClearStateCommand) Unmarshal(b []byte) error {
	*c = ClearStateCommand{}
	it := fieldIter{b: b, msg: "ClearStateCommandMessage"}
	for it.next() {
		switch it.num {
		case 1:
			c.Key = it.bytes()
		case 12:
			c.Name = it.string()
		default:
			it.skip()
		}
	}
	return it.err
}

// ClearAllStateCommand (0x0405) deletes all state of the object.
type ClearAllStateCommand struct {
	Name string
}

func (*ClearAllStateCommand) Type() MessageType     { return TypeClearAllStateCommand }
func (c *ClearAllStateCommand) CommandName() string { return c.Name }

func (c *ClearAllStateCommand) AppendTo(b []byte) []byte {
	return appendStringField(b, 12, c.Name)
}

func (c *ClearAllStateCommand) Unmarshal(b []byte) error {
	*c = ClearAllStateCommand{}
	it := fieldIter{b: b, msg: "ClearAllStateCommandMessage"}
	for it.next() {
		if it.num == 12 {
			c.Name = it.string()
		} else {
			it.skip()
		}
	}
	return it.err
}

// GetLazyStateKeysCommand (0x0406) lists state keys; the server answers with
// a GetLazyStateKeysCompletion.
type GetLazyStateKeysCommand struct {
	ResultCompletionID uint32
	Name               string
}

func (*GetLazyStateKeysCommand) Type() MessageType     { return TypeGetLazyStateKeysCommand }
func (c *GetLazyStateKeysCommand) CommandName() string { return c.Name }

func (c *GetLazyStateKeysCommand) AppendTo(b []byte) []byte {
	b = appendVarintField(b, 11, uint64(c.ResultCompletionID))
	return appendStringField(b, 12, c.Name)
}

func (c *GetLazyStateKeysCommand) Unmarshal(b []byte) error {
	*c = GetLazyStateKeysCommand{}
	it := fieldIter{b: b, msg: "GetLazyStateKeysCommandMessage"}
	for it.next() {
		switch it.num {
		case 11:
			c.ResultCompletionID = it.uint32()
		case 12:
			c.Name = it.string()
		default:
			it.skip()
		}
	}
	return it.err
}

// GetEagerStateCommand (0x0407) records a state read the SDK answered from
// the eager state map: ResultVoid (absent) or ResultValue.
type GetEagerStateCommand struct {
	Key []byte
	Result
	Name string
}

func (*GetEagerStateCommand) Type() MessageType     { return TypeGetEagerStateCommand }
func (c *GetEagerStateCommand) CommandName() string { return c.Name }

func (c *GetEagerStateCommand) AppendTo(b []byte) []byte {
	b = appendBytesField(b, 1, c.Key)
	b = appendStringField(b, 12, c.Name)
	return eagerStateResultFields.appendTo(b, &c.Result, MaxProtocolVersion)
}

func (c *GetEagerStateCommand) Unmarshal(b []byte) error {
	*c = GetEagerStateCommand{}
	it := fieldIter{b: b, msg: "GetEagerStateCommandMessage"}
	for it.next() {
		switch {
		case it.num == 1:
			c.Key = it.bytes()
		case it.num == 12:
			c.Name = it.string()
		case eagerStateResultFields.decode(&it, &c.Result):
		default:
			it.skip()
		}
	}
	return it.err
}

// GetEagerStateKeysCommand (0x0408) records a key listing the SDK answered
// locally.
type GetEagerStateKeysCommand struct {
	Keys [][]byte
	Name string
}

func (*GetEagerStateKeysCommand) Type() MessageType     { return TypeGetEagerStateKeysCommand }
func (c *GetEagerStateKeysCommand) CommandName() string { return c.Name }

func (c *GetEagerStateKeysCommand) AppendTo(b []byte) []byte {
	b = appendStringField(b, 12, c.Name)
	return appendStateKeysMessage(b, 14, c.Keys)
}

func (c *GetEagerStateKeysCommand) Unmarshal(b []byte) error {
	*c = GetEagerStateKeysCommand{}
	it := fieldIter{b: b, msg: "GetEagerStateKeysCommandMessage"}
	for it.next() {
		switch it.num {
		case 12:
			c.Name = it.string()
		case 14:
			// Repeated occurrences of a message field merge: keys accumulate.
			it.sub(func(b []byte) error {
				keys, err := decodeStateKeys(b)
				c.Keys = append(c.Keys, keys...)
				return err
			})
		default:
			it.skip()
		}
	}
	return it.err
}

// GetPromiseCommand (0x0409) awaits a workflow promise.
type GetPromiseCommand struct {
	Key                string
	ResultCompletionID uint32
	Name               string
}

func (*GetPromiseCommand) Type() MessageType     { return TypeGetPromiseCommand }
func (c *GetPromiseCommand) CommandName() string { return c.Name }

func (c *GetPromiseCommand) AppendTo(b []byte) []byte {
	return appendKeyCompletionName(b, c.Key, c.ResultCompletionID, c.Name)
}

func (c *GetPromiseCommand) Unmarshal(b []byte) error {
	*c = GetPromiseCommand{}
	return decodeKeyCompletionName(b, "GetPromiseCommandMessage", &c.Key, &c.ResultCompletionID, &c.Name)
}

// PeekPromiseCommand (0x040A) reads a workflow promise without waiting.
type PeekPromiseCommand struct {
	Key                string
	ResultCompletionID uint32
	Name               string
}

func (*PeekPromiseCommand) Type() MessageType     { return TypePeekPromiseCommand }
func (c *PeekPromiseCommand) CommandName() string { return c.Name }

func (c *PeekPromiseCommand) AppendTo(b []byte) []byte {
	return appendKeyCompletionName(b, c.Key, c.ResultCompletionID, c.Name)
}

func (c *PeekPromiseCommand) Unmarshal(b []byte) error {
	*c = PeekPromiseCommand{}
	return decodeKeyCompletionName(b, "PeekPromiseCommandMessage", &c.Key, &c.ResultCompletionID, &c.Name)
}

func appendKeyCompletionName(b []byte, key string, cid uint32, name string) []byte {
	b = appendStringField(b, 1, key)
	b = appendVarintField(b, 11, uint64(cid))
	return appendStringField(b, 12, name)
}

func decodeKeyCompletionName(b []byte, msg string, key *string, cid *uint32, name *string) error {
	it := fieldIter{b: b, msg: msg}
	for it.next() {
		switch it.num {
		case 1:
			*key = it.string()
		case 11:
			*cid = it.uint32()
		case 12:
			*name = it.string()
		default:
			it.skip()
		}
	}
	return it.err
}

// CompletePromiseCommand (0x040B) completes a workflow promise with
// ResultValue or ResultFailure.
type CompletePromiseCommand struct {
	Key string
	Result
	ResultCompletionID uint32
	Name               string
}

func (*CompletePromiseCommand) Type() MessageType     { return TypeCompletePromiseCommand }
func (c *CompletePromiseCommand) CommandName() string { return c.Name }

func (c *CompletePromiseCommand) AppendTo(b []byte) []byte {
	b = appendStringField(b, 1, c.Key)
	b = promiseResultFields.appendTo(b, &c.Result, MaxProtocolVersion)
	b = appendVarintField(b, 11, uint64(c.ResultCompletionID))
	return appendStringField(b, 12, c.Name)
}

func (c *CompletePromiseCommand) Unmarshal(b []byte) error {
	*c = CompletePromiseCommand{}
	it := fieldIter{b: b, msg: "CompletePromiseCommandMessage"}
	for it.next() {
		switch {
		case it.num == 1:
			c.Key = it.string()
		case it.num == 11:
			c.ResultCompletionID = it.uint32()
		case it.num == 12:
			c.Name = it.string()
		case promiseResultFields.decode(&it, &c.Result):
		default:
			it.skip()
		}
	}
	return it.err
}

// SleepCommand (0x040C) arms a timer.
type SleepCommand struct {
	// WakeUpTime is in milliseconds since the Unix epoch.
	WakeUpTime         uint64
	ResultCompletionID uint32
	Name               string
}

func (*SleepCommand) Type() MessageType     { return TypeSleepCommand }
func (c *SleepCommand) CommandName() string { return c.Name }

func (c *SleepCommand) AppendTo(b []byte) []byte {
	b = appendVarintField(b, 1, c.WakeUpTime)
	b = appendVarintField(b, 11, uint64(c.ResultCompletionID))
	return appendStringField(b, 12, c.Name)
}

func (c *SleepCommand) Unmarshal(b []byte) error {
	*c = SleepCommand{}
	it := fieldIter{b: b, msg: "SleepCommandMessage"}
	for it.next() {
		switch it.num {
		case 1:
			c.WakeUpTime = it.varint()
		case 11:
			c.ResultCompletionID = it.uint32()
		case 12:
			c.Name = it.string()
		default:
			it.skip()
		}
	}
	return it.err
}

// CallCommand (0x040D) invokes another handler and awaits its result. It
// produces two notifications: CallInvocationIdCompletion on
// InvocationIDNotificationIdx and CallCompletion on ResultCompletionID.
type CallCommand struct {
	ServiceName string
	HandlerName string
	Parameter   []byte
	Headers     []Header
	// Key is the object or workflow key; empty for plain services.
	Key string
	// IdempotencyKey, Scope and LimitKey are optional; empty means absent.
	// Scope and LimitKey exist since V7.
	IdempotencyKey              string
	Scope                       string
	LimitKey                    string
	InvocationIDNotificationIdx uint32
	ResultCompletionID          uint32
	Name                        string
}

func (*CallCommand) Type() MessageType     { return TypeCallCommand }
func (c *CallCommand) CommandName() string { return c.Name }

func (c *CallCommand) AppendTo(b []byte) []byte {
	b = appendStringField(b, 1, c.ServiceName)
	b = appendStringField(b, 2, c.HandlerName)
	b = appendBytesField(b, 3, c.Parameter)
	b = appendHeaders(b, 4, c.Headers)
	b = appendStringField(b, 5, c.Key)
	b = appendStringField(b, 6, c.IdempotencyKey)
	b = appendStringField(b, 7, c.Scope)
	b = appendStringField(b, 8, c.LimitKey)
	b = appendVarintField(b, 10, uint64(c.InvocationIDNotificationIdx))
	b = appendVarintField(b, 11, uint64(c.ResultCompletionID))
	return appendStringField(b, 12, c.Name)
}

func (c *CallCommand) Unmarshal(b []byte) error {
	*c = CallCommand{}
	it := fieldIter{b: b, msg: "CallCommandMessage"}
	for it.next() {
		switch it.num {
		case 1:
			c.ServiceName = it.string()
		case 2:
			c.HandlerName = it.string()
		case 3:
			c.Parameter = it.bytes()
		case 4:
			var h Header
			it.sub(h.unmarshal)
			c.Headers = append(c.Headers, h)
		case 5:
			c.Key = it.string()
		case 6:
			c.IdempotencyKey = it.string()
		case 7:
			c.Scope = it.string()
		case 8:
			c.LimitKey = it.string()
		case 10:
			c.InvocationIDNotificationIdx = it.uint32()
		case 11:
			c.ResultCompletionID = it.uint32()
		case 12:
			c.Name = it.string()
		default:
			it.skip()
		}
	}
	return it.err
}

// OneWayCallCommand (0x040E) schedules another handler without awaiting it.
// It produces one CallInvocationIdCompletion on InvocationIDNotificationIdx.
type OneWayCallCommand struct {
	ServiceName string
	HandlerName string
	Parameter   []byte
	// InvokeTime is in milliseconds since the Unix epoch; 0 means now.
	InvokeTime uint64
	Headers    []Header
	Key        string
	// IdempotencyKey, Scope and LimitKey are optional; empty means absent.
	IdempotencyKey              string
	Scope                       string
	LimitKey                    string
	InvocationIDNotificationIdx uint32
	Name                        string
}

func (*OneWayCallCommand) Type() MessageType     { return TypeOneWayCallCommand }
func (c *OneWayCallCommand) CommandName() string { return c.Name }

func (c *OneWayCallCommand) AppendTo(b []byte) []byte {
	b = appendStringField(b, 1, c.ServiceName)
	b = appendStringField(b, 2, c.HandlerName)
	b = appendBytesField(b, 3, c.Parameter)
	b = appendVarintField(b, 4, c.InvokeTime)
	b = appendHeaders(b, 5, c.Headers)
	b = appendStringField(b, 6, c.Key)
	b = appendStringField(b, 7, c.IdempotencyKey)
	b = appendStringField(b, 8, c.Scope)
	b = appendStringField(b, 9, c.LimitKey)
	b = appendVarintField(b, 10, uint64(c.InvocationIDNotificationIdx))
	return appendStringField(b, 12, c.Name)
}

func (c *OneWayCallCommand) Unmarshal(b []byte) error {
	*c = OneWayCallCommand{}
	it := fieldIter{b: b, msg: "OneWayCallCommandMessage"}
	for it.next() {
		switch it.num {
		case 1:
			c.ServiceName = it.string()
		case 2:
			c.HandlerName = it.string()
		case 3:
			c.Parameter = it.bytes()
		case 4:
			c.InvokeTime = it.varint()
		case 5:
			var h Header
			it.sub(h.unmarshal)
			c.Headers = append(c.Headers, h)
		case 6:
			c.Key = it.string()
		case 7:
			c.IdempotencyKey = it.string()
		case 8:
			c.Scope = it.string()
		case 9:
			c.LimitKey = it.string()
		case 10:
			c.InvocationIDNotificationIdx = it.uint32()
		case 12:
			c.Name = it.string()
		default:
			it.skip()
		}
	}
	return it.err
}

// SignalCancel is the built-in signal id that cancels an invocation.
const SignalCancel uint32 = 1

// FirstAwakeableSignalID is the first signal id SDKs hand out for
// awakeables; ids 2-16 are reserved.
const FirstAwakeableSignalID uint32 = 17

// SendSignalCommand (0x0410) delivers a signal to another invocation. Signal
// is a signal id (IDSignal) or name (IDSignalName); signal id 1 with a void
// result cancels the target.
type SendSignalCommand struct {
	TargetInvocationID string
	Signal             NotificationID
	Result
	EntryName string
}

func (*SendSignalCommand) Type() MessageType     { return TypeSendSignalCommand }
func (c *SendSignalCommand) CommandName() string { return c.EntryName }

func (c *SendSignalCommand) AppendTo(b []byte) []byte {
	b = appendStringField(b, 1, c.TargetInvocationID)
	switch c.Signal.Kind {
	case IDSignal, IDCompletion:
		b = appendVarintAlways(b, 2, uint64(c.Signal.ID))
	case IDSignalName:
		b = appendStringAlways(b, 3, c.Signal.Name)
	}
	b = sendSignalResultFields.appendTo(b, &c.Result, MaxProtocolVersion)
	return appendStringField(b, 12, c.EntryName)
}

func (c *SendSignalCommand) Unmarshal(b []byte) error {
	*c = SendSignalCommand{}
	it := fieldIter{b: b, msg: "SendSignalCommandMessage"}
	for it.next() {
		switch {
		case it.num == 1:
			c.TargetInvocationID = it.string()
		case it.num == 2:
			c.Signal = SignalID(it.uint32())
		case it.num == 3:
			c.Signal = NamedSignal(it.string())
		case it.num == 12:
			c.EntryName = it.string()
		case sendSignalResultFields.decode(&it, &c.Result):
		default:
			it.skip()
		}
	}
	return it.err
}

// RunCommand (0x0411) records a side effect; its result arrives as a
// ProposeRunCompletion.
type RunCommand struct {
	ResultCompletionID uint32
	Name               string
}

func (*RunCommand) Type() MessageType     { return TypeRunCommand }
func (c *RunCommand) CommandName() string { return c.Name }

func (c *RunCommand) AppendTo(b []byte) []byte {
	b = appendVarintField(b, 11, uint64(c.ResultCompletionID))
	return appendStringField(b, 12, c.Name)
}

func (c *RunCommand) Unmarshal(b []byte) error {
	*c = RunCommand{}
	it := fieldIter{b: b, msg: "RunCommandMessage"}
	for it.next() {
		switch it.num {
		case 11:
			c.ResultCompletionID = it.uint32()
		case 12:
			c.Name = it.string()
		default:
			it.skip()
		}
	}
	return it.err
}

// TargetKind says which member of the attach/get-output target oneof is set.
type TargetKind uint8

const (
	TargetNone              TargetKind = iota
	TargetInvocationID                 // invocation_id(1)
	TargetIdempotentRequest            // idempotent_request_target(3)
	TargetWorkflow                     // workflow_target(4)
)

// IdempotentRequestTarget names an invocation by its idempotency key.
type IdempotentRequestTarget struct {
	ServiceName string
	// ServiceKey is set for keyed services; HasServiceKey distinguishes an
	// empty key from none, which matters for the deterministic id.
	ServiceKey     string
	HasServiceKey  bool
	HandlerName    string
	IdempotencyKey string
	// Scope exists since V7; empty means absent.
	Scope string
}

// WorkflowTarget names a workflow run.
type WorkflowTarget struct {
	WorkflowName string
	WorkflowKey  string
	// Scope exists since V7; empty means absent.
	Scope string
}

// InvocationTarget is the target oneof of AttachInvocation and
// GetInvocationOutput.
type InvocationTarget struct {
	Kind              TargetKind
	InvocationID      string
	IdempotentRequest IdempotentRequestTarget
	Workflow          WorkflowTarget
}

func (t *IdempotentRequestTarget) size() int {
	n := sizeBytesField(1, len(t.ServiceName))
	if t.HasServiceKey {
		n += sizeMessageField(2, len(t.ServiceKey))
	}
	return n + sizeBytesField(3, len(t.HandlerName)) + sizeBytesField(4, len(t.IdempotencyKey)) +
		sizeBytesField(5, len(t.Scope))
}

func (t *IdempotentRequestTarget) unmarshal(b []byte) error {
	*t = IdempotentRequestTarget{}
	it := fieldIter{b: b, msg: "IdempotentRequestTarget"}
	for it.next() {
		switch it.num {
		case 1:
			t.ServiceName = it.string()
		case 2:
			t.ServiceKey, t.HasServiceKey = it.string(), true
		case 3:
			t.HandlerName = it.string()
		case 4:
			t.IdempotencyKey = it.string()
		case 5:
			t.Scope = it.string()
		default:
			it.skip()
		}
	}
	return it.err
}

func (t *WorkflowTarget) size() int {
	return sizeBytesField(1, len(t.WorkflowName)) + sizeBytesField(2, len(t.WorkflowKey)) +
		sizeBytesField(3, len(t.Scope))
}

func (t *WorkflowTarget) unmarshal(b []byte) error {
	*t = WorkflowTarget{}
	it := fieldIter{b: b, msg: "WorkflowTarget"}
	for it.next() {
		switch it.num {
		case 1:
			t.WorkflowName = it.string()
		case 2:
			t.WorkflowKey = it.string()
		case 3:
			t.Scope = it.string()
		default:
			it.skip()
		}
	}
	return it.err
}

func (t *InvocationTarget) appendTo(b []byte) []byte {
	switch t.Kind {
	case TargetInvocationID:
		b = appendStringAlways(b, 1, t.InvocationID)
	case TargetIdempotentRequest:
		r := &t.IdempotentRequest
		b = appendMessageHeader(b, 3, r.size())
		b = appendStringField(b, 1, r.ServiceName)
		if r.HasServiceKey {
			b = appendStringAlways(b, 2, r.ServiceKey)
		}
		b = appendStringField(b, 3, r.HandlerName)
		b = appendStringField(b, 4, r.IdempotencyKey)
		b = appendStringField(b, 5, r.Scope)
	case TargetWorkflow:
		w := &t.Workflow
		b = appendMessageHeader(b, 4, w.size())
		b = appendStringField(b, 1, w.WorkflowName)
		b = appendStringField(b, 2, w.WorkflowKey)
		b = appendStringField(b, 3, w.Scope)
	}
	return b
}

// decode handles field it.num if it is a target member.
func (t *InvocationTarget) decode(it *fieldIter) bool {
	switch it.num {
	case 1:
		*t = InvocationTarget{Kind: TargetInvocationID, InvocationID: it.string()}
	case 3:
		*t = InvocationTarget{Kind: TargetIdempotentRequest}
		it.sub(t.IdempotentRequest.unmarshal)
	case 4:
		*t = InvocationTarget{Kind: TargetWorkflow}
		it.sub(t.Workflow.unmarshal)
	default:
		return false
	}
	return true
}

// AttachInvocationCommand (0x0412) awaits the result of another invocation.
type AttachInvocationCommand struct {
	Target             InvocationTarget
	ResultCompletionID uint32
	Name               string
}

func (*AttachInvocationCommand) Type() MessageType     { return TypeAttachInvocationCommand }
func (c *AttachInvocationCommand) CommandName() string { return c.Name }

func (c *AttachInvocationCommand) AppendTo(b []byte) []byte {
	b = c.Target.appendTo(b)
	b = appendVarintField(b, 11, uint64(c.ResultCompletionID))
	return appendStringField(b, 12, c.Name)
}

func (c *AttachInvocationCommand) Unmarshal(b []byte) error {
	*c = AttachInvocationCommand{}
	return decodeTargetCommand(b, "AttachInvocationCommandMessage", &c.Target, &c.ResultCompletionID, &c.Name)
}

// GetInvocationOutputCommand (0x0413) reads the result of another invocation
// without waiting; the notification is void if it has not finished.
type GetInvocationOutputCommand struct {
	Target             InvocationTarget
	ResultCompletionID uint32
	Name               string
}

func (*GetInvocationOutputCommand) Type() MessageType     { return TypeGetInvocationOutputCommand }
func (c *GetInvocationOutputCommand) CommandName() string { return c.Name }

func (c *GetInvocationOutputCommand) AppendTo(b []byte) []byte {
	b = c.Target.appendTo(b)
	b = appendVarintField(b, 11, uint64(c.ResultCompletionID))
	return appendStringField(b, 12, c.Name)
}

func (c *GetInvocationOutputCommand) Unmarshal(b []byte) error {
	*c = GetInvocationOutputCommand{}
	return decodeTargetCommand(b, "GetInvocationOutputCommandMessage", &c.Target, &c.ResultCompletionID, &c.Name)
}

func decodeTargetCommand(b []byte, msg string, t *InvocationTarget, cid *uint32, name *string) error {
	it := fieldIter{b: b, msg: msg}
	for it.next() {
		switch {
		case it.num == 11:
			*cid = it.uint32()
		case it.num == 12:
			*name = it.string()
		case t.decode(&it):
		default:
			it.skip()
		}
	}
	return it.err
}

// CompleteAwakeableCommand (0x0414) resolves an awakeable ("sign_1…" or
// legacy "prom_1…") with ResultValue or ResultFailure.
type CompleteAwakeableCommand struct {
	AwakeableID string
	Result
	Name string
}

func (*CompleteAwakeableCommand) Type() MessageType     { return TypeCompleteAwakeableCommand }
func (c *CompleteAwakeableCommand) CommandName() string { return c.Name }

func (c *CompleteAwakeableCommand) AppendTo(b []byte) []byte {
	b = appendStringField(b, 1, c.AwakeableID)
	b = awakeableResultFields.appendTo(b, &c.Result, MaxProtocolVersion)
	return appendStringField(b, 12, c.Name)
}

func (c *CompleteAwakeableCommand) Unmarshal(b []byte) error {
	*c = CompleteAwakeableCommand{}
	it := fieldIter{b: b, msg: "CompleteAwakeableCommandMessage"}
	for it.next() {
		switch {
		case it.num == 1:
			c.AwakeableID = it.string()
		case it.num == 12:
			c.Name = it.string()
		case awakeableResultFields.decode(&it, &c.Result):
		default:
			it.skip()
		}
	}
	return it.err
}
