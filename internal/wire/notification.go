package wire

// Notification is any notification message (types 0x8000-0xFBFF). All of
// them follow NotificationTemplate: an id oneof (completion_id(1) /
// signal_id(2) / signal_name(3)) and a result oneof (void(4) / value(5) /
// failure(6) / invocation_id(16) / state_keys(17)). SDKs route on the id;
// the type matters for journal bookkeeping.
type Notification struct {
	// Type lives in the frame header, not the payload.
	Type MessageType
	ID   NotificationID
	Result
}

// NewCompletion returns a completion notification of type t for command
// completion id.
func NewCompletion(t MessageType, id uint32, r Result) Notification {
	return Notification{Type: t, ID: CompletionID(id), Result: r}
}

// NewSignal returns a SignalNotification for the given signal id.
func NewSignal(id NotificationID, r Result) Notification {
	return Notification{Type: TypeSignalNotification, ID: id, Result: r}
}

// AppendTo appends the protobuf encoding of n. Failure metadata is dropped
// for V5.
func (n *Notification) AppendTo(b []byte, version int) []byte {
	switch n.ID.Kind {
	case IDCompletion:
		b = appendVarintAlways(b, 1, uint64(n.ID.ID))
	case IDSignal:
		b = appendVarintAlways(b, 2, uint64(n.ID.ID))
	case IDSignalName:
		b = appendStringAlways(b, 3, n.ID.Name)
	}
	return notificationResultFields.appendTo(b, &n.Result, version)
}

// Marshal returns the protobuf encoding of n.
func (n *Notification) Marshal(version int) []byte { return n.AppendTo(nil, version) }

// AppendFrame appends n as a complete frame of type n.Type.
func (n *Notification) AppendFrame(b []byte, version int) []byte {
	start := len(b)
	b = BeginFrame(b, n.Type, 0)
	b = n.AppendTo(b, version)
	return FinishFrame(b, start)
}

// Unmarshal decodes a notification payload into every field but Type, which
// it leaves as is. Like the SDKs, it rejects a notification without an id or
// without a result. Value and StateKeys alias b.
func (n *Notification) Unmarshal(b []byte) error {
	n.ID, n.Result = NotificationID{}, Result{}
	it := fieldIter{b: b, msg: "Notification"}
	for it.next() {
		switch {
		case it.num == 1:
			n.ID = CompletionID(it.uint32())
		case it.num == 2:
			n.ID = SignalID(it.uint32())
		case it.num == 3:
			n.ID = NamedSignal(it.string())
		case notificationResultFields.decode(&it, &n.Result):
		default:
			it.skip()
		}
	}
	if it.err != nil {
		return it.err
	}
	if n.ID.Kind == IDNone {
		return &DecodeError{Message: "Notification", Reason: "missing id (completion_id, signal_id or signal_name)"}
	}
	if n.Kind == ResultNone {
		return &DecodeError{Message: "Notification", Reason: "missing result"}
	}
	return nil
}

// DecodeNotification decodes a notification frame.
func DecodeNotification(f Frame) (Notification, error) {
	n := Notification{Type: f.Type}
	if !f.Type.IsNotification() {
		return n, &DecodeError{Message: "Notification", Reason: "frame type " + f.Type.String() + " is not a notification"}
	}
	err := n.Unmarshal(f.Payload)
	return n, err
}
