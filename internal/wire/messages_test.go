package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func u32(v uint32) *uint32 { return &v }
func u64(v uint64) *uint64 { return &v }
func str(v string) *string { return &v }

func failure() *Failure {
	return &Failure{Code: 409, Message: "nope", Metadata: []FailureMetadata{{Key: "k", Value: "v"}, {Key: "k2"}}}
}

// allCommands returns one fully populated value of every command type, with
// every result variant the command allows.
func allCommands() []Command {
	target := func(i int) InvocationTarget {
		switch i {
		case 0:
			return InvocationTarget{Kind: TargetInvocationID, InvocationID: "inv_1abc"}
		case 1:
			return InvocationTarget{Kind: TargetIdempotentRequest, IdempotentRequest: IdempotentRequestTarget{
				ServiceName: "Svc", ServiceKey: "", HasServiceKey: true, HandlerName: "h", IdempotencyKey: "ik", Scope: "sc"}}
		case 2:
			return InvocationTarget{Kind: TargetIdempotentRequest, IdempotentRequest: IdempotentRequestTarget{
				ServiceName: "Svc", HandlerName: "h", IdempotencyKey: "ik"}}
		default:
			return InvocationTarget{Kind: TargetWorkflow, Workflow: WorkflowTarget{WorkflowName: "Wf", WorkflowKey: "k", Scope: "s"}}
		}
	}
	hdrs := []Header{{Key: "a", Value: "1"}, {Key: "b", Value: ""}}
	cmds := []Command{
		&InputCommand{Headers: hdrs, Value: []byte(`"in"`), Name: "input"},
		&InputCommand{},
		&OutputCommand{Result: ValueResult([]byte("out")), Name: "o"},
		&OutputCommand{Result: ValueResult(nil)},
		&OutputCommand{Result: Result{Kind: ResultFailure, Failure: failure()}},
		&GetLazyStateCommand{Key: []byte("k"), ResultCompletionID: 3, Name: "g"},
		&SetStateCommand{Key: []byte("k"), Value: []byte("v"), Name: "s"},
		&SetStateCommand{Key: []byte("k")},
		&ClearStateCommand{Key: []byte("k"), Name: "c"},
		&ClearAllStateCommand{Name: "ca"},
		&GetLazyStateKeysCommand{ResultCompletionID: 9, Name: "gk"},
		&GetEagerStateCommand{Key: []byte("k"), Result: VoidResult(), Name: "ge"},
		&GetEagerStateCommand{Key: []byte("k"), Result: ValueResult([]byte("v"))},
		&GetEagerStateKeysCommand{Keys: [][]byte{[]byte("a"), {}, []byte("c")}, Name: "gek"},
		&GetPromiseCommand{Key: "p", ResultCompletionID: 4, Name: "gp"},
		&PeekPromiseCommand{Key: "p", ResultCompletionID: 5, Name: "pp"},
		&CompletePromiseCommand{Key: "p", Result: ValueResult([]byte("v")), ResultCompletionID: 6, Name: "cp"},
		&CompletePromiseCommand{Key: "p", Result: Result{Kind: ResultFailure, Failure: failure()}, ResultCompletionID: 6},
		&SleepCommand{WakeUpTime: 1 << 40, ResultCompletionID: 7, Name: "z"},
		&CallCommand{ServiceName: "Svc", HandlerName: "h", Parameter: []byte("arg"), Headers: hdrs, Key: "key",
			IdempotencyKey: "ik", Scope: "sc", LimitKey: "lk", InvocationIDNotificationIdx: 1, ResultCompletionID: 2, Name: "call"},
		&OneWayCallCommand{ServiceName: "Svc", HandlerName: "h", Parameter: []byte("arg"), InvokeTime: 12345, Headers: hdrs,
			Key: "key", IdempotencyKey: "ik", Scope: "sc", LimitKey: "lk", InvocationIDNotificationIdx: 3, Name: "send"},
		&SendSignalCommand{TargetInvocationID: "inv_1x", Signal: SignalID(SignalCancel), Result: VoidResult(), EntryName: "cancel"},
		&SendSignalCommand{TargetInvocationID: "inv_1x", Signal: NamedSignal("sig"), Result: ValueResult([]byte("v"))},
		&SendSignalCommand{TargetInvocationID: "inv_1x", Signal: SignalID(17), Result: Result{Kind: ResultFailure, Failure: failure()}},
		&RunCommand{ResultCompletionID: 8, Name: "run"},
		&CompleteAwakeableCommand{AwakeableID: "sign_1abc", Result: ValueResult([]byte("v")), Name: "aw"},
		&CompleteAwakeableCommand{AwakeableID: "prom_1abc", Result: Result{Kind: ResultFailure, Failure: failure()}},
	}
	for i := range 4 {
		cmds = append(cmds,
			&AttachInvocationCommand{Target: target(i), ResultCompletionID: 10, Name: "att"},
			&GetInvocationOutputCommand{Target: target(i), ResultCompletionID: 11, Name: "out"})
	}
	return cmds
}

// normalize makes decoded and constructed values comparable: empty byte
// slices and nil are the same on the wire.
func normalize(v any) any {
	rv := reflect.ValueOf(v)
	out := reflect.New(rv.Type()).Elem()
	out.Set(normalizeValue(rv))
	return out.Interface()
}

func normalizeValue(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(normalizeValue(v.Elem()))
		return p
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		for i := range v.NumField() {
			out.Field(i).Set(normalizeValue(v.Field(i)))
		}
		return out
	case reflect.Slice:
		if v.Len() == 0 {
			return reflect.Zero(v.Type())
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(normalizeValue(v.Index(i)))
		}
		return out
	}
	return v
}

func TestCommandRoundTrip(t *testing.T) {
	for _, c := range allCommands() {
		payload := c.AppendTo(nil)
		got, err := DecodeCommand(c.Type(), payload)
		if err != nil {
			t.Errorf("%s: %v", c.Type(), err)
			continue
		}
		if !reflect.DeepEqual(normalize(got), normalize(c)) {
			t.Errorf("%s round trip:\n got %+v\nwant %+v", c.Type(), got, c)
		}
		if got.CommandName() != c.CommandName() {
			t.Errorf("%s: CommandName %q", c.Type(), got.CommandName())
		}
		// Frame helper and decoding through DecodeFrames.
		frames, rest, err := DecodeFrames(AppendCommandFrame(nil, c))
		if err != nil || len(rest) != 0 || len(frames) != 1 || frames[0].Type != c.Type() || !bytes.Equal(frames[0].Payload, payload) {
			t.Errorf("%s: AppendCommandFrame produced %+v %x %v", c.Type(), frames, rest, err)
		}
	}
}

func TestDecodeCommandRejectsNonCommands(t *testing.T) {
	for _, mt := range []MessageType{TypeStart, TypeSleepCompletion, 0x040F, 0xFC01} {
		if _, err := DecodeCommand(mt, nil); err == nil {
			t.Errorf("DecodeCommand(%s) succeeded", mt)
		}
	}
}

// Unknown fields of every wire type are skipped, wherever they appear.
func TestUnknownFieldsSkipped(t *testing.T) {
	var unknown []byte
	unknown = protowire.AppendTag(unknown, 99, protowire.VarintType)
	unknown = protowire.AppendVarint(unknown, 1<<50)
	unknown = protowire.AppendTag(unknown, 98, protowire.Fixed64Type)
	unknown = protowire.AppendFixed64(unknown, 7)
	unknown = protowire.AppendTag(unknown, 97, protowire.BytesType)
	unknown = protowire.AppendBytes(unknown, []byte("ignored"))
	unknown = protowire.AppendTag(unknown, 96, protowire.Fixed32Type)
	unknown = protowire.AppendFixed32(unknown, 7)
	unknown = protowire.AppendTag(unknown, 95, protowire.StartGroupType)
	unknown = protowire.AppendTag(unknown, 1, protowire.VarintType)
	unknown = protowire.AppendVarint(unknown, 1)
	unknown = protowire.AppendTag(unknown, 95, protowire.EndGroupType)

	for _, c := range allCommands() {
		payload := append(append(append([]byte{}, unknown...), c.AppendTo(nil)...), unknown...)
		got, err := DecodeCommand(c.Type(), payload)
		if err != nil {
			t.Errorf("%s with unknown fields: %v", c.Type(), err)
			continue
		}
		if !reflect.DeepEqual(normalize(got), normalize(c)) {
			t.Errorf("%s with unknown fields decoded as %+v", c.Type(), got)
		}
	}

	// Unknown fields inside nested messages (Failure, Value, Future).
	var f Failure
	body := append((&Failure{Code: 1, Message: "m"}).appendTo(nil, 7), unknown...)
	if err := f.unmarshal(body); err != nil || f.Code != 1 || f.Message != "m" {
		t.Errorf("Failure with unknown fields: %+v %v", f, err)
	}
	var n Notification
	payload := protowire.AppendTag(nil, 1, protowire.VarintType)
	payload = protowire.AppendVarint(payload, 4)
	payload = protowire.AppendTag(payload, 5, protowire.BytesType)
	payload = protowire.AppendBytes(payload, append(protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte("v")), unknown...))
	if err := n.Unmarshal(payload); err != nil || n.ID != CompletionID(4) || string(n.Value) != "v" {
		t.Errorf("Value with unknown fields: %+v %v", n, err)
	}
}

func TestStartMessageVersions(t *testing.T) {
	m := StartMessage{
		ID:      bytes.Repeat([]byte{0xAB}, 24),
		DebugID: "inv_1abc", KnownEntries: 3,
		StateMap:     []StateEntry{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("empty"), Value: nil}},
		PartialState: true, Key: "obj",
		RetryCountSinceLastStoredEntry: 2, DurationSinceLastStoredEntry: 1500,
		RandomSeed: 0xDEADBEEF, Scope: "sc", LimitKey: "lk", IdempotencyKey: "ik",
	}
	for _, v := range []int{5, 6, 7} {
		var got StartMessage
		if err := got.Unmarshal(m.Marshal(v)); err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		want := m
		if v < 6 {
			want.RandomSeed = 0
		}
		if v < 7 {
			want.Scope, want.LimitKey, want.IdempotencyKey = "", "", ""
		}
		if !reflect.DeepEqual(normalize(got), normalize(want)) {
			t.Errorf("v%d:\n got %+v\nwant %+v", v, got, want)
		}
	}
	// AppendFrame = header + Marshal.
	if !bytes.Equal(m.AppendFrame(nil, 7), AppendFrame(nil, TypeStart, 0, m.Marshal(7))) {
		t.Error("StartMessage.AppendFrame differs from AppendFrame(Marshal)")
	}
}

func TestNotificationRoundTrip(t *testing.T) {
	cases := []Notification{
		NewCompletion(TypeSleepCompletion, 1, VoidResult()),
		NewCompletion(TypeGetLazyStateCompletion, 2, ValueResult(nil)),
		NewCompletion(TypeGetLazyStateCompletion, 2, ValueResult([]byte("v"))),
		NewCompletion(TypeCallCompletion, 3, Result{Kind: ResultFailure, Failure: failure()}),
		NewCompletion(TypeCallInvocationIDCompletion, 4, InvocationIDResult("inv_1xyz")),
		NewCompletion(TypeGetLazyStateKeysCompletion, 5, StateKeysResult([][]byte{[]byte("a"), []byte("b")})),
		NewCompletion(TypeGetLazyStateKeysCompletion, 5, StateKeysResult(nil)),
		NewSignal(SignalID(17), ValueResult([]byte("aw"))),
		NewSignal(NamedSignal("named"), FailureResult(500, "x")),
	}
	for _, n := range cases {
		got, err := DecodeNotification(Frame{Type: n.Type, Payload: n.Marshal(7)})
		if err != nil {
			t.Errorf("%s %s: %v", n.Type, n.ID, err)
			continue
		}
		if !reflect.DeepEqual(normalize(got), normalize(n)) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, n)
		}
		frames, _, err := DecodeFrames(n.AppendFrame(nil, 7))
		if err != nil || len(frames) != 1 || frames[0].Type != n.Type {
			t.Errorf("AppendFrame: %+v %v", frames, err)
		}
	}

	// V5 has no failure metadata.
	n := NewCompletion(TypeRunCompletion, 1, Result{Kind: ResultFailure, Failure: failure()})
	got, err := DecodeNotification(Frame{Type: n.Type, Payload: n.Marshal(5)})
	if err != nil || got.Failure.Metadata != nil || got.Failure.Code != 409 || got.Failure.Message != "nope" {
		t.Errorf("v5 failure: %+v %v", got.Failure, err)
	}

	// An empty value is still a value, distinct from void.
	empty := NewCompletion(TypeGetLazyStateCompletion, 1, ValueResult(nil))
	got, _ = DecodeNotification(Frame{Type: empty.Type, Payload: empty.Marshal(7)})
	if got.Kind != ResultValue || len(got.Value) != 0 {
		t.Errorf("empty value decoded as %v", got.Kind)
	}
}

func TestNotificationValidation(t *testing.T) {
	onlyID := []byte{0x08, 0x01}
	onlyResult := []byte{0x22, 0x00}
	var n Notification
	if err := n.Unmarshal(onlyID); err == nil {
		t.Error("notification without result accepted")
	}
	if err := n.Unmarshal(onlyResult); err == nil {
		t.Error("notification without id accepted")
	}
	if _, err := DecodeNotification(Frame{Type: TypeCallCommand, Payload: []byte{0x08, 0x01, 0x22, 0x00}}); err == nil {
		t.Error("DecodeNotification accepted a command frame")
	}
	// Oneofs: the last member wins.
	n = Notification{Type: TypeSleepCompletion}
	if err := n.Unmarshal([]byte{0x08, 0x01, 0x10, 0x02, 0x2a, 0x00, 0x22, 0x00}); err != nil {
		t.Fatal(err)
	}
	if n.ID != SignalID(2) || n.Kind != ResultVoid || n.Type != TypeSleepCompletion {
		t.Errorf("last oneof member should win: %+v", n)
	}
}

func TestErrorMessageRoundTrip(t *testing.T) {
	full := ErrorMessage{Code: 570, Message: "mismatch", Stacktrace: "at ...",
		RelatedCommandIndex: u32(0), RelatedCommandName: str(""), RelatedCommandType: u32(uint32(TypeSleepCommand)),
		NextRetryDelay: u64(250), Behavior: BehaviorPause}
	for _, m := range []ErrorMessage{full, {Code: 500, Message: "transient"}} {
		var got ErrorMessage
		if err := got.Unmarshal(m.AppendTo(nil)); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("got %+v want %+v", got, m)
		}
	}
	// Optional fields keep their presence even when zero.
	var got ErrorMessage
	_ = got.Unmarshal(full.AppendTo(nil))
	if got.RelatedCommandIndex == nil || *got.RelatedCommandIndex != 0 || got.RelatedCommandName == nil {
		t.Error("optional zero fields lost their presence")
	}
}

func TestProposeRunCompletion(t *testing.T) {
	cases := []ProposeRunCompletion{
		{ResultCompletionID: 1, Result: ValueResult([]byte("x"))},
		{ResultCompletionID: 2, Result: ValueResult(nil)},
		{ResultCompletionID: 3, Result: Result{Kind: ResultFailure, Failure: failure()}},
		{ResultCompletionID: 4},
	}
	for _, m := range cases {
		var got ProposeRunCompletion
		if err := got.Unmarshal(m.AppendTo(nil)); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(m)) {
			t.Errorf("got %+v want %+v", got, m)
		}
	}
	// Empty value: field 14 with length 0.
	var got ProposeRunCompletion
	if err := got.Unmarshal([]byte{0x08, 0x01, 0x72, 0x00}); err != nil || got.Kind != ResultValue {
		t.Errorf("empty value proposal: %+v %v", got, err)
	}
	var ack ProposeRunCompletionAck
	if err := ack.Unmarshal((&ProposeRunCompletionAck{CompletionID: 9}).AppendTo(nil)); err != nil || ack.CompletionID != 9 {
		t.Errorf("ack: %+v %v", ack, err)
	}
}

func TestSuspensionPackedAndUnpacked(t *testing.T) {
	// V5 trace from sdk-go: Suspension{1:[1], 2:[1]} packed.
	packed := []byte{0x0a, 0x01, 0x01, 0x12, 0x01, 0x01}
	unpacked := []byte{0x08, 0x01, 0x10, 0x01}
	// Mixed: packed [3,300] then unpacked 5 for completions, names "a","b".
	mixed := []byte{0x0a, 0x03, 0x03, 0xac, 0x02, 0x08, 0x05, 0x1a, 0x01, 'a', 0x1a, 0x01, 'b'}
	cases := []struct {
		in   []byte
		want SuspensionMessage
	}{
		{packed, SuspensionMessage{WaitingCompletions: []uint32{1}, WaitingSignals: []uint32{1}}},
		{unpacked, SuspensionMessage{WaitingCompletions: []uint32{1}, WaitingSignals: []uint32{1}}},
		{mixed, SuspensionMessage{WaitingCompletions: []uint32{3, 300, 5}, WaitingNamedSignals: []string{"a", "b"}}},
	}
	for _, c := range cases {
		var got SuspensionMessage
		if err := got.Unmarshal(c.in); err != nil {
			t.Fatalf("%x: %v", c.in, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%x: got %+v want %+v", c.in, got, c.want)
		}
	}
	// Our encoder packs.
	m := SuspensionMessage{WaitingCompletions: []uint32{1}, WaitingSignals: []uint32{1}}
	if !bytes.Equal(m.AppendTo(nil), packed) {
		t.Errorf("encoding %x, want %x", m.AppendTo(nil), packed)
	}
	// V5 lists behave as one FIRST_COMPLETED node.
	f := m.Awaiting()
	if !f.Resolved(outcomes(map[NotificationID]Outcome{SignalID(1): Succeeded})) {
		t.Error("V5 suspension should resolve on any listed id")
	}
}

// v7SleepFuture is what sdk-go sends for a sleep on V7:
// {5:FIRST_COMPLETED, 2:[1], 4:{5:FIRST_COMPLETED, 1:[1]}}.
var v7SleepFuture = []byte{0x28, 0x01, 0x12, 0x01, 0x01, 0x22, 0x05, 0x28, 0x01, 0x0a, 0x01, 0x01}

func TestSuspensionV7(t *testing.T) {
	payload := protowire.AppendBytes(protowire.AppendTag(nil, 4, protowire.BytesType), v7SleepFuture)
	var m SuspensionMessage
	if err := m.Unmarshal(payload); err != nil {
		t.Fatal(err)
	}
	want := Future{Combinator: FirstCompleted, WaitingSignals: []uint32{1},
		Nested: []Future{{Combinator: FirstCompleted, WaitingCompletions: []uint32{1}}}}
	if m.AwaitingOn == nil || !reflect.DeepEqual(*m.AwaitingOn, want) {
		t.Fatalf("got %+v", m.AwaitingOn)
	}
	var again SuspensionMessage
	if err := again.Unmarshal(m.AppendTo(nil)); err != nil || !reflect.DeepEqual(again, m) {
		t.Errorf("re-encoding round trip: %+v %v", again, err)
	}
	c, s, names := m.AwaitingOn.Leaves()
	if !reflect.DeepEqual(c, []uint32{1}) || !reflect.DeepEqual(s, []uint32{1}) || names != nil {
		t.Errorf("leaves %v %v %v", c, s, names)
	}
	if m.AwaitingOn.Resolved(outcomes(nil)) {
		t.Error("resolved with nothing completed")
	}
	if !m.AwaitingOn.Resolved(outcomes(map[NotificationID]Outcome{CompletionID(1): Succeeded})) {
		t.Error("not resolved after the sleep completed")
	}

	var a AwaitingOnMessage
	aw := AwaitingOnMessage{AwaitingOn: &want, ExecutingSideEffects: true}
	if err := a.Unmarshal(aw.AppendTo(nil)); err != nil || !reflect.DeepEqual(a, aw) {
		t.Errorf("AwaitingOn round trip: %+v %v", a, err)
	}
}

func outcomes(m map[NotificationID]Outcome) func(NotificationID) Outcome {
	return func(id NotificationID) Outcome { return m[id] }
}

func TestFutureCombinators(t *testing.T) {
	c1, c2 := CompletionID(1), CompletionID(2)
	leaves := func(comb Combinator) Future {
		return Future{Combinator: comb, WaitingCompletions: []uint32{1, 2}}
	}
	type state = map[NotificationID]Outcome
	cases := []struct {
		comb Combinator
		st   state
		want bool
	}{
		{CombinatorUnknown, state{}, false},
		{CombinatorUnknown, state{c2: Failed}, true},
		{FirstCompleted, state{c1: Succeeded}, true},
		{FirstCompleted, state{c1: Failed}, true},
		{AllCompleted, state{c1: Failed}, false},
		{AllCompleted, state{c1: Failed, c2: Succeeded}, true},
		{FirstSucceededOrAllFailed, state{c1: Failed}, false},
		{FirstSucceededOrAllFailed, state{c1: Failed, c2: Succeeded}, true},
		{FirstSucceededOrAllFailed, state{c1: Failed, c2: Failed}, true},
		{FirstSucceededOrAllFailed, state{c2: Succeeded}, true},
		{AllSucceededOrFirstFailed, state{c1: Succeeded}, false},
		{AllSucceededOrFirstFailed, state{c1: Succeeded, c2: Succeeded}, true},
		{AllSucceededOrFirstFailed, state{c2: Failed}, true},
		{Combinator(99), state{c1: Succeeded}, true}, // unknown values act like FIRST_COMPLETED
	}
	for _, c := range cases {
		f := leaves(c.comb)
		if got := f.Resolved(outcomes(c.st)); got != c.want {
			t.Errorf("combinator %d with %v: resolved=%v want %v", c.comb, c.st, got, c.want)
		}
	}

	// Promise.all([c1, race(signal 1, signal 2)]): resolved when c1 succeeded
	// and either signal arrived, or as soon as anything fails.
	tree := Future{Combinator: AllSucceededOrFirstFailed, WaitingCompletions: []uint32{1},
		Nested: []Future{{Combinator: FirstCompleted, WaitingSignals: []uint32{1, 2}}}}
	s1, s2 := SignalID(1), SignalID(2)
	treeCases := []struct {
		st   state
		want bool
	}{
		{state{c1: Succeeded}, false},
		{state{s2: Succeeded}, false},
		{state{c1: Succeeded, s2: Succeeded}, true},
		{state{s1: Failed}, true},
		{state{c1: Failed}, true},
		// race(s1 ok, s2 failed): the race's outcome depends on order, so
		// both are assumed possible: the failure path resolves the all.
		{state{s1: Succeeded, s2: Failed}, true},
	}
	for _, c := range treeCases {
		if got := tree.Resolved(outcomes(c.st)); got != c.want {
			t.Errorf("tree with %v: resolved=%v want %v", c.st, got, c.want)
		}
	}

	// any(all(c1,c2), named "x"): resolves on x or on both completions.
	anyTree := Future{Combinator: FirstSucceededOrAllFailed, WaitingNamedSignals: []string{"x"},
		Nested: []Future{{Combinator: AllSucceededOrFirstFailed, WaitingCompletions: []uint32{1, 2}}}}
	if anyTree.Resolved(outcomes(state{c1: Succeeded})) {
		t.Error("any(all) resolved early")
	}
	if !anyTree.Resolved(outcomes(state{NamedSignal("x"): Succeeded})) {
		t.Error("any(all) not resolved by named signal")
	}
	if !anyTree.Resolved(outcomes(state{c1: Succeeded, c2: Succeeded})) {
		t.Error("any(all) not resolved by nested all")
	}
	if anyTree.Resolved(outcomes(state{c1: Failed})) {
		t.Error("any(all) resolved while the named signal may still succeed")
	}
	if !anyTree.Resolved(outcomes(state{c1: Failed, NamedSignal("x"): Failed})) {
		t.Error("any(all) not resolved when everything failed")
	}

	if !(&Future{}).IsEmpty() || (&Future{Nested: []Future{{WaitingNamedSignals: []string{"a"}}}}).IsEmpty() {
		t.Error("IsEmpty")
	}
}

func TestFutureDepthLimit(t *testing.T) {
	body := []byte{}
	for range maxFutureDepth + 1 {
		body = protowire.AppendBytes(protowire.AppendTag(nil, 4, protowire.BytesType), body)
	}
	var f Future
	var de *DecodeError
	if err := f.Unmarshal(body); !errors.As(err, &de) {
		t.Fatalf("deep future: %v", err)
	}
	// One level less is accepted.
	body = []byte{}
	for range maxFutureDepth - 1 {
		body = protowire.AppendBytes(protowire.AppendTag(nil, 4, protowire.BytesType), body)
	}
	if err := f.Unmarshal(body); err != nil {
		t.Fatalf("future at the depth limit: %v", err)
	}
}

func TestMalformedInputs(t *testing.T) {
	cases := map[string][]byte{
		"truncated tag":        {0x80},
		"truncated varint":     {0x08, 0x80},
		"truncated bytes":      {0x62, 0x05, 'a'},
		"wrong wire type":      {0x65, 0x00, 0x00, 0x00, 0x00}, // field 12 (name) as fixed32
		"field number zero":    {0x00, 0x01},
		"bad packed varint":    {0x0a, 0x01, 0x80},
		"unterminated group":   {0x0b},
		"bad nested failure":   {0x7a, 0x02, 0x08, 0x80},
		"reserved wire type 6": {0x0e},
	}
	for name, in := range cases {
		var out OutputCommand
		var s SuspensionMessage
		errOut := out.Unmarshal(in)
		errS := s.Unmarshal(in)
		if errOut == nil && errS == nil {
			t.Errorf("%s: both decoders accepted %x", name, in)
		}
		for _, err := range []error{errOut, errS} {
			var de *DecodeError
			if err != nil && !errors.As(err, &de) {
				t.Errorf("%s: error %v is not a DecodeError", name, err)
			}
		}
	}
}

// Every prefix of every valid encoding decodes or errors; none panics.
func TestTruncatedPayloadsNeverPanic(t *testing.T) {
	var payloads [][]byte
	for _, c := range allCommands() {
		payloads = append(payloads, c.AppendTo(nil))
	}
	for _, p := range payloads {
		for cut := range len(p) {
			for _, c := range allCommands() {
				_ = c.Unmarshal(p[:cut])
			}
			var n Notification
			_ = n.Unmarshal(p[:cut])
			var s SuspensionMessage
			_ = s.Unmarshal(p[:cut])
			var st StartMessage
			_ = st.Unmarshal(p[:cut])
		}
	}
}

func TestDecodeAliasesPayload(t *testing.T) {
	c := CallCommand{ServiceName: "S", HandlerName: "h", Parameter: []byte("param")}
	payload := c.AppendTo(nil)
	var got CallCommand
	if err := got.Unmarshal(payload); err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(payload, []byte("param"))
	payload[i] = 'P'
	if string(got.Parameter) != "Param" {
		t.Error("Parameter should alias the payload (documented zero-copy decoding)")
	}
	payload[bytes.IndexByte(payload, 'S')] = 'X'
	if got.ServiceName != "S" {
		t.Error("strings must not alias the payload")
	}
}
