package wire

import "google.golang.org/protobuf/encoding/protowire"

// Failure is a user-visible error (protobuf Failure).
type Failure struct {
	Code    uint32
	Message string
	// Metadata exists since V6; encoders drop it for V5.
	Metadata []FailureMetadata
}

// FailureMetadata is one key/value pair attached to a Failure.
type FailureMetadata struct {
	Key, Value string
}

func (f *Failure) size(version int) int {
	n := sizeVarintField(1, uint64(f.Code)) + sizeBytesField(2, len(f.Message))
	if version >= 6 {
		for i := range f.Metadata {
			n += sizeMessageField(3, f.Metadata[i].size())
		}
	}
	return n
}

func (f *Failure) appendTo(b []byte, version int) []byte {
	b = appendVarintField(b, 1, uint64(f.Code))
	b = appendStringField(b, 2, f.Message)
	if version >= 6 {
		for i := range f.Metadata {
			md := &f.Metadata[i]
			b = appendMessageHeader(b, 3, md.size())
			b = appendStringField(b, 1, md.Key)
			b = appendStringField(b, 2, md.Value)
		}
	}
	return b
}

func (f *Failure) unmarshal(b []byte) error {
	*f = Failure{}
	it := fieldIter{b: b, msg: "Failure"}
	for it.next() {
		switch it.num {
		case 1:
			f.Code = it.uint32()
		case 2:
			f.Message = it.string()
		case 3:
			var md FailureMetadata
			it.sub(md.unmarshal)
			f.Metadata = append(f.Metadata, md)
		default:
			it.skip()
		}
	}
	return it.err
}

func (m *FailureMetadata) size() int {
	return sizeBytesField(1, len(m.Key)) + sizeBytesField(2, len(m.Value))
}

func (m *FailureMetadata) unmarshal(b []byte) error {
	*m = FailureMetadata{}
	it := fieldIter{b: b, msg: "FailureMetadata"}
	for it.next() {
		switch it.num {
		case 1:
			m.Key = it.string()
		case 2:
			m.Value = it.string()
		default:
			it.skip()
		}
	}
	return it.err
}

// Header is an HTTP-style header forwarded with an invocation.
type Header struct {
	Key, Value string
}

func (h *Header) size() int {
	return sizeBytesField(1, len(h.Key)) + sizeBytesField(2, len(h.Value))
}

func (h *Header) unmarshal(b []byte) error {
	*h = Header{}
	it := fieldIter{b: b, msg: "Header"}
	for it.next() {
		switch it.num {
		case 1:
			h.Key = it.string()
		case 2:
			h.Value = it.string()
		default:
			it.skip()
		}
	}
	return it.err
}

func appendHeaders(b []byte, num protowire.Number, hs []Header) []byte {
	for i := range hs {
		h := &hs[i]
		b = appendMessageHeader(b, num, h.size())
		b = appendStringField(b, 1, h.Key)
		b = appendStringField(b, 2, h.Value)
	}
	return b
}

// StateEntry is one entry of StartMessage.state_map. An empty Value is an
// empty value, not a missing one.
type StateEntry struct {
	Key, Value []byte
}

func (e *StateEntry) size() int {
	return sizeBytesField(1, len(e.Key)) + sizeBytesField(2, len(e.Value))
}

func (e *StateEntry) unmarshal(b []byte) error {
	*e = StateEntry{}
	it := fieldIter{b: b, msg: "StateEntry"}
	for it.next() {
		switch it.num {
		case 1:
			e.Key = it.bytes()
		case 2:
			e.Value = it.bytes()
		default:
			it.skip()
		}
	}
	return it.err
}

// --- Value{content(1)} and StateKeys{keys(1)} wrappers.

func sizeValueBody(content []byte) int { return sizeBytesField(1, len(content)) }

func appendValueMessage(b []byte, num protowire.Number, content []byte) []byte {
	b = appendMessageHeader(b, num, sizeValueBody(content))
	return appendBytesField(b, 1, content)
}

func decodeValue(b []byte) ([]byte, error) {
	var content []byte
	it := fieldIter{b: b, msg: "Value"}
	for it.next() {
		if it.num == 1 {
			content = it.bytes()
		} else {
			it.skip()
		}
	}
	return content, it.err
}

func sizeStateKeysBody(keys [][]byte) int {
	n := 0
	for _, k := range keys {
		n += protowire.SizeTag(1) + protowire.SizeBytes(len(k))
	}
	return n
}

func appendStateKeysMessage(b []byte, num protowire.Number, keys [][]byte) []byte {
	b = appendMessageHeader(b, num, sizeStateKeysBody(keys))
	for _, k := range keys {
		b = appendBytesAlways(b, 1, k)
	}
	return b
}

func decodeStateKeys(b []byte) ([][]byte, error) {
	var keys [][]byte
	it := fieldIter{b: b, msg: "StateKeys"}
	for it.next() {
		if it.num == 1 {
			k := it.bytes()
			if it.err == nil {
				keys = append(keys, k)
			}
		} else {
			it.skip()
		}
	}
	return keys, it.err
}

// ResultKind says which member of a result oneof is set.
type ResultKind uint8

const (
	ResultNone         ResultKind = iota // no result field present
	ResultVoid                           // Void{}
	ResultValue                          // Value (possibly empty)
	ResultFailure                        // Failure
	ResultInvocationID                   // invocation id string (CallInvocationIdCompletion)
	ResultStateKeys                      // StateKeys (GetLazyStateKeysCompletion)
)

func (k ResultKind) String() string {
	switch k {
	case ResultNone:
		return "none"
	case ResultVoid:
		return "void"
	case ResultValue:
		return "value"
	case ResultFailure:
		return "failure"
	case ResultInvocationID:
		return "invocation_id"
	case ResultStateKeys:
		return "state_keys"
	}
	return "unknown"
}

// Result is the value of a result oneof. Kind says which field is
// meaningful, so an empty Value is distinguishable from no value.
type Result struct {
	Kind         ResultKind
	Value        []byte
	Failure      *Failure
	InvocationID string
	StateKeys    [][]byte
}

// VoidResult returns a Void result.
func VoidResult() Result { return Result{Kind: ResultVoid} }

// ValueResult returns a Value result; v may be empty.
func ValueResult(v []byte) Result { return Result{Kind: ResultValue, Value: v} }

// FailureResult returns a Failure result.
func FailureResult(code uint32, message string) Result {
	return Result{Kind: ResultFailure, Failure: &Failure{Code: code, Message: message}}
}

// InvocationIDResult returns the result of a CallInvocationIdCompletion.
func InvocationIDResult(id string) Result { return Result{Kind: ResultInvocationID, InvocationID: id} }

// StateKeysResult returns the result of a GetLazyStateKeysCompletion.
func StateKeysResult(keys [][]byte) Result { return Result{Kind: ResultStateKeys, StateKeys: keys} }

// resultFields maps result oneof members to field numbers; 0 marks a member
// the message does not have.
type resultFields struct {
	void, value, failure, invocationID, stateKeys protowire.Number
	// rawValue: the value member is plain bytes rather than a Value message
	// (ProposeRunCompletion).
	rawValue bool
}

var (
	notificationResultFields = resultFields{void: 4, value: 5, failure: 6, invocationID: 16, stateKeys: 17}
	outputResultFields       = resultFields{value: 14, failure: 15}
	eagerStateResultFields   = resultFields{void: 13, value: 14}
	promiseResultFields      = resultFields{value: 2, failure: 3}
	sendSignalResultFields   = resultFields{void: 4, value: 5, failure: 6}
	proposeRunResultFields   = resultFields{value: 14, failure: 15, rawValue: true}
	awakeableResultFields    = resultFields{value: 2, failure: 3}
)

// decode handles field it.num if it is a result member and reports whether
// it did. The last member seen wins, as for any protobuf oneof.
func (fs *resultFields) decode(it *fieldIter, r *Result) bool {
	switch it.num {
	case 0: // never a valid field number; keeps absent members (0) from matching
		return false
	case fs.void:
		it.bytes() // Void has no fields; anything inside is ignored
		*r = Result{Kind: ResultVoid}
	case fs.value:
		b := it.bytes()
		if !fs.rawValue && it.err == nil {
			var err error
			if b, err = decodeValue(b); err != nil {
				it.err, it.b = err, nil
			}
		}
		*r = Result{Kind: ResultValue, Value: b}
	case fs.failure:
		f := new(Failure)
		it.sub(f.unmarshal)
		*r = Result{Kind: ResultFailure, Failure: f}
	case fs.invocationID:
		*r = Result{Kind: ResultInvocationID, InvocationID: it.string()}
	case fs.stateKeys:
		b := it.bytes()
		var keys [][]byte
		if it.err == nil {
			var err error
			if keys, err = decodeStateKeys(b); err != nil {
				it.err, it.b = err, nil
			}
		}
		*r = Result{Kind: ResultStateKeys, StateKeys: keys}
	default:
		return false
	}
	return true
}

// appendTo encodes r. A kind the message has no field for is dropped, so
// encoders never emit a field the receiver does not expect.
func (fs *resultFields) appendTo(b []byte, r *Result, version int) []byte {
	switch r.Kind {
	case ResultVoid:
		if fs.void != 0 {
			b = appendMessageHeader(b, fs.void, 0)
		}
	case ResultValue:
		if fs.rawValue {
			b = appendBytesAlways(b, fs.value, r.Value)
		} else if fs.value != 0 {
			b = appendValueMessage(b, fs.value, r.Value)
		}
	case ResultFailure:
		if fs.failure != 0 {
			f := r.Failure
			if f == nil {
				f = &Failure{}
			}
			b = appendMessageHeader(b, fs.failure, f.size(version))
			b = f.appendTo(b, version)
		}
	case ResultInvocationID:
		if fs.invocationID != 0 {
			b = appendStringAlways(b, fs.invocationID, r.InvocationID)
		}
	case ResultStateKeys:
		if fs.stateKeys != 0 {
			b = appendStateKeysMessage(b, fs.stateKeys, r.StateKeys)
		}
	}
	return b
}
