package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func FuzzDecoder(f *testing.F) {
	_, stream := sampleStream(f, 700)
	f.Add(stream)
	f.Add(stream[:len(stream)-3])
	f.Add(AppendFrame(nil, TypeEnd, 0, nil))
	f.Add(AppendFrame(nil, 0x0300, 0, nil))
	f.Add([]byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 1 << 16
		want, rest, splitErr := DecodeFrames(data)
		d := NewDecoder(bytes.NewReader(data), limit)
		var got []Frame
		var err error
		for {
			var fr Frame
			if fr, err = d.Next(); err != nil {
				break
			}
			got = append(got, fr)
		}
		var tooLarge *MessageTooLargeError
		var unknown *UnknownMessageTypeError
		switch {
		case err == io.EOF:
			if splitErr != nil || len(rest) != 0 {
				t.Fatalf("Decoder hit a clean EOF but DecodeFrames left %d bytes (%v)", len(rest), splitErr)
			}
		case err == io.ErrUnexpectedEOF:
			if splitErr != nil || len(rest) == 0 {
				t.Fatalf("Decoder hit an unexpected EOF but DecodeFrames did not (%v)", splitErr)
			}
		case errors.As(err, &unknown):
			if splitErr == nil {
				t.Fatal("Decoder rejected a type DecodeFrames accepted")
			}
		case errors.As(err, &tooLarge):
			if tooLarge.Length <= limit {
				t.Fatalf("frame of %d bytes reported too large", tooLarge.Length)
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
		if tooLarge == nil && len(got) != len(want) {
			t.Fatalf("Decoder read %d frames, DecodeFrames %d", len(got), len(want))
		}
		for i := range got {
			if !sameFrame(got[i], want[i]) {
				t.Fatalf("frame %d differs", i)
			}
		}
	})
}

// checkCanonical encodes a decoded message, decodes and encodes again: the
// two encodings must match (decoding loses nothing our encoder writes).
func checkCanonical(t *testing.T, what string, encode func() []byte, decode func([]byte) error) {
	t.Helper()
	first := encode()
	if err := decode(first); err != nil {
		t.Fatalf("%s: re-decoding our own encoding %x: %v", what, first, err)
	}
	if second := encode(); !bytes.Equal(first, second) {
		t.Fatalf("%s: encoding not stable:\n%x\n%x", what, first, second)
	}
}

func FuzzDecodeCommand(f *testing.F) {
	for _, c := range allCommands() {
		f.Add(uint16(c.Type()), c.AppendTo(nil))
	}
	f.Add(uint16(TypeCallCommand), []byte{0x22, 0x02, 0x0a, 0x80})
	f.Fuzz(func(t *testing.T, typ uint16, payload []byte) {
		mt := MessageType(0x0400 | typ&0x1F)
		c, err := DecodeCommand(mt, payload)
		if err != nil {
			return
		}
		if c.Type() != mt {
			t.Fatalf("decoded %s as %s", mt, c.Type())
		}
		checkCanonical(t, mt.String(), func() []byte { return c.AppendTo(nil) }, c.Unmarshal)
	})
}

func FuzzSuspension(f *testing.F) {
	f.Add([]byte{0x0a, 0x01, 0x01, 0x12, 0x01, 0x01})
	f.Add([]byte{0x08, 0x01, 0x10, 0x11, 0x1a, 0x01, 'x'})
	f.Add(append([]byte{0x22, byte(len(v7SleepFuture))}, v7SleepFuture...))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var m SuspensionMessage
		if err := m.Unmarshal(payload); err != nil {
			return
		}
		checkCanonical(t, "Suspension", func() []byte { return m.AppendTo(nil) }, m.Unmarshal)
		fut := m.Awaiting()
		comps, sigs, names := fut.Leaves()
		// With every leaf succeeded, FIRST_COMPLETED/ALL_* trees resolve
		// unless they are empty somewhere a leaf is required; with nothing
		// completed, only trees with vacuous ALL nodes resolve. Either way
		// evaluation must terminate, and "all succeeded" must resolve at
		// least whenever "nothing done" does.
		none := fut.Resolved(func(NotificationID) Outcome { return Pending })
		all := fut.Resolved(func(NotificationID) Outcome { return Succeeded })
		if none && !all {
			t.Fatalf("resolved with nothing done but not with everything succeeded")
		}
		if len(comps)+len(sigs)+len(names) == 0 != fut.IsEmpty() {
			t.Fatal("IsEmpty disagrees with Leaves")
		}
	})
}

func FuzzNotification(f *testing.F) {
	seeds := []Notification{
		NewCompletion(TypeSleepCompletion, 1, VoidResult()),
		NewCompletion(TypeCallCompletion, 2, Result{Kind: ResultFailure, Failure: failure()}),
		NewCompletion(TypeCallInvocationIDCompletion, 3, InvocationIDResult("inv_1x")),
		NewCompletion(TypeGetLazyStateKeysCompletion, 4, StateKeysResult([][]byte{[]byte("k")})),
		NewSignal(NamedSignal("n"), ValueResult([]byte("v"))),
	}
	for _, n := range seeds {
		f.Add(n.Marshal(7))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		n := Notification{Type: TypeRunCompletion}
		if err := n.Unmarshal(payload); err != nil {
			return
		}
		if n.ID.Kind == IDNone || n.Kind == ResultNone {
			t.Fatal("accepted a notification without id or result")
		}
		checkCanonical(t, "Notification", func() []byte { return n.Marshal(7) }, n.Unmarshal)
	})
}

func FuzzControlMessages(f *testing.F) {
	start := StartMessage{ID: []byte("id"), DebugID: "inv", KnownEntries: 2,
		StateMap: []StateEntry{{Key: []byte("k"), Value: []byte("v")}}, RandomSeed: 1, Scope: "s"}
	f.Add(uint8(0), start.Marshal(7))
	f.Add(uint8(1), (&ErrorMessage{Code: 570, RelatedCommandIndex: u32(1), NextRetryDelay: u64(5)}).AppendTo(nil))
	f.Add(uint8(2), (&AwaitingOnMessage{AwaitingOn: &Future{WaitingCompletions: []uint32{1}}}).AppendTo(nil))
	f.Add(uint8(3), (&ProposeRunCompletion{ResultCompletionID: 1, Result: ValueResult(nil)}).AppendTo(nil))
	f.Add(uint8(4), (&ProposeRunCompletionAck{CompletionID: 1}).AppendTo(nil))
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		switch which % 5 {
		case 0:
			var m StartMessage
			if m.Unmarshal(payload) == nil {
				checkCanonical(t, "Start", func() []byte { return m.Marshal(7) }, m.Unmarshal)
			}
		case 1:
			var m ErrorMessage
			if m.Unmarshal(payload) == nil {
				checkCanonical(t, "Error", func() []byte { return m.AppendTo(nil) }, m.Unmarshal)
			}
		case 2:
			var m AwaitingOnMessage
			if m.Unmarshal(payload) == nil {
				checkCanonical(t, "AwaitingOn", func() []byte { return m.AppendTo(nil) }, m.Unmarshal)
			}
		case 3:
			var m ProposeRunCompletion
			if m.Unmarshal(payload) == nil {
				checkCanonical(t, "ProposeRunCompletion", func() []byte { return m.AppendTo(nil) }, m.Unmarshal)
			}
		case 4:
			var m ProposeRunCompletionAck
			if m.Unmarshal(payload) == nil {
				checkCanonical(t, "ProposeRunCompletionAck", func() []byte { return m.AppendTo(nil) }, m.Unmarshal)
			}
		}
	})
}
