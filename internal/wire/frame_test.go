package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Golden frames written by hand from the protocol description.
func TestGoldenFrames(t *testing.T) {
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{
			// sdk-go on V7: ProposeRunCompletion with REQUESTED_ACK, {1:1, 14:"\"side\""}.
			name: "run proposal v7",
			got: func() []byte {
				m := ProposeRunCompletion{ResultCompletionID: 1, Result: ValueResult([]byte(`"side"`))}
				return AppendFrame(nil, TypeProposeRunCompletion, FlagRequestedAck, m.AppendTo(nil))
			}(),
			want: "0005 8000 0000000a" + "0801" + "7206" + hex.EncodeToString([]byte(`"side"`)),
		},
		{
			name: "end",
			got:  AppendFrame(nil, TypeEnd, 0, nil),
			want: "0003 0000 00000000",
		},
		{
			// SleepCompletion {1:1, 4:{}}
			name: "sleep completion",
			got: func() []byte {
				n := NewCompletion(TypeSleepCompletion, 1, VoidResult())
				return n.AppendFrame(nil, 7)
			}(),
			want: "800c 0000 00000004 0801 2200",
		},
		{
			// Cancel: SignalNotification {2:1, 4:{}}
			name: "cancel signal",
			got: func() []byte {
				n := NewSignal(SignalID(SignalCancel), VoidResult())
				return n.AppendFrame(nil, 5)
			}(),
			want: "fbff 0000 00000004 1001 2200",
		},
		{
			name: "run ack",
			got:  (&ProposeRunCompletionAck{CompletionID: 1}).AppendFrame(nil),
			want: "0007 0000 00000002 0801",
		},
		{
			// Output{14:{1:"\"hi bob\""}} as sdk-go sends it.
			name: "output",
			got:  AppendCommandFrame(nil, &OutputCommand{Result: ValueResult([]byte(`"hi bob"`))}),
			want: "0401 0000 0000000c 720a 0a08" + hex.EncodeToString([]byte(`"hi bob"`)),
		},
		{
			// Sleep{1:300, 11:1, 12:"nap"}
			name: "sleep",
			got:  AppendCommandFrame(nil, &SleepCommand{WakeUpTime: 300, ResultCompletionID: 1, Name: "nap"}),
			want: "040c 0000 0000000a 08ac02 5801 6203 6e6170",
		},
		{
			// Start{1:<2 bytes>, 2:"x", 3:1, 9:7} on V6 includes random_seed.
			name: "start v6",
			got:  (&StartMessage{ID: []byte{0xab, 0xcd}, DebugID: "x", KnownEntries: 1, RandomSeed: 7}).AppendFrame(nil, 6),
			want: "0000 0000 0000000b 0a02abcd 120178 1801 4807",
		},
	}
	for _, c := range cases {
		if want := mustHex(t, c.want); !bytes.Equal(c.got, want) {
			t.Errorf("%s:\n got %x\nwant %x", c.name, c.got, want)
		}
	}
}

func TestGoldenDecode(t *testing.T) {
	// The V7 run proposal as captured from sdk-go.
	stream := mustHex(t, "0005 8000 0000000a 0801 7206"+hex.EncodeToString([]byte(`"side"`))+"0003 0000 00000000")
	frames, rest, err := DecodeFrames(stream)
	if err != nil || len(rest) != 0 || len(frames) != 2 {
		t.Fatalf("DecodeFrames = %d frames, rest %x, %v", len(frames), rest, err)
	}
	f := frames[0]
	if f.Type != TypeProposeRunCompletion || !f.RequestedAck() || frames[1].Type != TypeEnd || frames[1].RequestedAck() {
		t.Fatalf("frames = %+v", frames)
	}
	var p ProposeRunCompletion
	if err := p.Unmarshal(f.Payload); err != nil {
		t.Fatal(err)
	}
	if p.ResultCompletionID != 1 || p.Kind != ResultValue || string(p.Value) != `"side"` {
		t.Fatalf("proposal = %+v", p)
	}
}

// sampleStream returns frames of several kinds and their encoding; one
// payload is bigSize bytes, so it can exceed the decoder's read buffer.
func sampleStream(t testing.TB, bigSize int) ([]Frame, []byte) {
	t.Helper()
	big := bytes.Repeat([]byte("x"), bigSize)
	frames := []Frame{
		{Type: TypeStart, Payload: (&StartMessage{ID: []byte("id"), KnownEntries: 1}).Marshal(7)},
		{Type: TypeInputCommand, Payload: (&InputCommand{Value: []byte(`"in"`)}).Marshal()},
		{Type: TypeSleepCompletion, Payload: []byte{0x08, 0x01, 0x22, 0x00}},
		{Type: TypeProposeRunCompletion, Flags: FlagRequestedAck, Payload: (&ProposeRunCompletion{ResultCompletionID: 3, Result: ValueResult(big)}).AppendTo(nil)},
		{Type: TypeEnd},
		{Type: 0xFC01, Payload: []byte("custom")},
	}
	var stream []byte
	for _, f := range frames {
		stream = AppendFrame(stream, f.Type, f.Flags, f.Payload)
	}
	return frames, stream
}

func sameFrame(a, b Frame) bool {
	return a.Type == b.Type && a.Flags == b.Flags && bytes.Equal(a.Payload, b.Payload)
}

func TestDecoderReadsStream(t *testing.T) {
	want, stream := sampleStream(t, 10000)
	readers := map[string]func() io.Reader{
		"whole":    func() io.Reader { return bytes.NewReader(stream) },
		"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(stream)) },
		"half":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(stream)) },
		"data+EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(stream)) },
	}
	for name, mk := range readers {
		d := NewDecoder(mk(), 1<<20)
		var got []Frame
		for {
			f, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: Next: %v", name, err)
			}
			got = append(got, f)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: got %d frames, want %d", name, len(got), len(want))
		}
		// Earlier payloads must survive later reads.
		for i := range want {
			if !sameFrame(got[i], want[i]) {
				t.Errorf("%s: frame %d = %v/%x, want %v/%x", name, i, got[i].Type, got[i].Payload, want[i].Type, want[i].Payload)
			}
		}
		if _, err := d.Next(); err != io.EOF {
			t.Errorf("%s: Next after EOF = %v", name, err)
		}
	}
}

func TestDecoderTruncation(t *testing.T) {
	_, stream := sampleStream(t, 10000)
	boundaries := map[int]bool{0: true}
	frames, _, _ := DecodeFrames(stream)
	off := 0
	for _, f := range frames {
		off += HeaderSize + len(f.Payload)
		boundaries[off] = true
	}
	for cut := 0; cut < len(stream); cut++ {
		d := NewDecoder(bytes.NewReader(stream[:cut]), 0)
		var err error
		for err == nil {
			_, err = d.Next()
		}
		want := io.ErrUnexpectedEOF
		if boundaries[cut] {
			want = io.EOF
		}
		if err != want {
			t.Fatalf("cut at %d: error %v, want %v", cut, err, want)
		}
	}
}

func TestDecoderMaxMessageSize(t *testing.T) {
	stream := AppendFrame(nil, TypeOutputCommand, 0, make([]byte, 101))
	d := NewDecoder(bytes.NewReader(stream), 100)
	_, err := d.Next()
	var tooLarge *MessageTooLargeError
	if !errors.As(err, &tooLarge) || tooLarge.Length != 101 || tooLarge.Max != 100 {
		t.Fatalf("error = %v", err)
	}
	if !strings.Contains(err.Error(), "101") || !strings.Contains(err.Error(), "100") {
		t.Errorf("error %q should name the sizes", err)
	}
	// Errors are sticky.
	if _, err2 := d.Next(); err2 != err {
		t.Errorf("second Next = %v", err2)
	}
	// Exactly at the limit is fine.
	ok := NewDecoder(bytes.NewReader(AppendFrame(nil, TypeOutputCommand, 0, make([]byte, 100))), 100)
	if _, err := ok.Next(); err != nil {
		t.Errorf("frame at the limit: %v", err)
	}
}

func TestDecoderReadError(t *testing.T) {
	boom := errors.New("boom")
	_, stream := sampleStream(t, 10000)
	d := NewDecoder(io.MultiReader(bytes.NewReader(stream[:20]), iotest.ErrReader(boom)), 0)
	var err error
	for err == nil {
		_, err = d.Next()
	}
	if err != boom {
		t.Fatalf("error = %v, want boom", err)
	}
}

func TestUnknownMessageType(t *testing.T) {
	stream := AppendFrame(nil, 0x0200, 0, []byte{1})
	_, err := NewDecoder(bytes.NewReader(stream), 0).Next()
	var unknown *UnknownMessageTypeError
	if !errors.As(err, &unknown) || unknown.Type != 0x0200 || !strings.Contains(err.Error(), "0x0200") {
		t.Fatalf("Decoder error = %v", err)
	}
	good := AppendFrame(nil, TypeEnd, 0, nil)
	frames, rest, err := DecodeFrames(append(good, stream...))
	if !errors.As(err, &unknown) || len(frames) != 1 || len(rest) != len(stream) {
		t.Fatalf("DecodeFrames = %d frames, rest %d, %v", len(frames), len(rest), err)
	}
}

func TestDecodeFramesPartial(t *testing.T) {
	want, stream := sampleStream(t, 10000)
	for cut := 0; cut <= len(stream); cut++ {
		frames, rest, err := DecodeFrames(stream[:cut])
		if err != nil {
			t.Fatal(err)
		}
		consumed := 0
		for i, f := range frames {
			if !sameFrame(f, want[i]) {
				t.Fatalf("cut %d: frame %d differs", cut, i)
			}
			consumed += HeaderSize + len(f.Payload)
		}
		if consumed+len(rest) != cut || !bytes.Equal(rest, stream[consumed:cut]) {
			t.Fatalf("cut %d: rest does not start at the incomplete frame", cut)
		}
		if len(frames) < len(want) && cut-consumed >= HeaderSize+len(want[len(frames)].Payload) {
			t.Fatalf("cut %d: a complete frame was left in rest", cut)
		}
	}
	// Payload capacity is clipped so appending cannot clobber the next frame.
	frames, _, _ := DecodeFrames(stream)
	p := append(frames[2].Payload, 0xEE)
	_ = p
	if !sameFrame(frames[3], want[3]) {
		t.Fatal("appending to a payload overwrote the next frame")
	}
}

func TestBeginFinishFrame(t *testing.T) {
	prefix := []byte("junk")
	b := BeginFrame(prefix, TypeCallCommand, 0)
	b = append(b, "payload"...)
	b = FinishFrame(b, len(prefix))
	want := AppendFrame([]byte("junk"), TypeCallCommand, 0, []byte("payload"))
	if !bytes.Equal(b, want) {
		t.Fatalf("got %x want %x", b, want)
	}
}

func TestMessageTypeClassification(t *testing.T) {
	cases := []struct {
		t                         MessageType
		cmd, notif, custom, known bool
		name                      string
	}{
		{TypeStart, false, false, false, true, "Start"},
		{TypeProposeRunCompletionAck, false, false, false, true, "ProposeRunCompletionAck"},
		{0x0008, false, false, false, false, "Unknown(0x8)"},
		{TypeInputCommand, true, false, false, true, "Input"},
		{TypeCallCommand, true, false, false, true, "Call"},
		{0x040F, true, false, false, false, "Unknown(0x40f)"},
		{TypeCompleteAwakeableCommand, true, false, false, true, "CompleteAwakeable"},
		{TypeSleepCompletion, false, true, false, true, "SleepCompletion"},
		{TypeCallInvocationIDCompletion, false, true, false, true, "CallInvocationIdCompletion"},
		{TypeSignalNotification, false, true, false, true, "Signal"},
		{0xFC00, false, false, true, true, "Custom(0xfc00)"},
		{0xFFFF, false, false, true, true, "Custom(0xffff)"},
	}
	for _, c := range cases {
		if c.t.IsCommand() != c.cmd || c.t.IsNotification() != c.notif || c.t.IsCustomEntry() != c.custom ||
			c.t.Known() != c.known || c.t.String() != c.name {
			t.Errorf("%#x: cmd=%v notif=%v custom=%v known=%v name=%q", uint16(c.t),
				c.t.IsCommand(), c.t.IsNotification(), c.t.IsCustomEntry(), c.t.Known(), c.t.String())
		}
	}
	// Every named type is known, and the known set is exactly the named set
	// plus custom entries.
	for code := 0; code < 0xFC00; code++ {
		mt := MessageType(code)
		if mt.Known() != (typeNames[mt] != "") {
			t.Fatalf("%#x: Known=%v but named %q", code, mt.Known(), typeNames[mt])
		}
	}
}

func TestDecoderRelease(t *testing.T) {
	want, stream := sampleStream(t, 10000)
	d := NewDecoder(bytes.NewReader(stream), 0)
	first, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	d.Release()
	if _, err := d.Next(); err != ErrDecoderReleased {
		t.Fatalf("Next after Release = %v", err)
	}
	// Reuse the pooled buffer in another decoder; the first payload must
	// be unaffected.
	d2 := NewDecoder(bytes.NewReader(bytes.Repeat([]byte{0}, 64)), 0)
	_, _ = d2.Next()
	d2.Release()
	if !sameFrame(first, want[0]) {
		t.Fatal("payload changed after Release")
	}
}
