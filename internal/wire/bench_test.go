package wire

import (
	"bytes"
	"io"
	"testing"
)

// benchStream is a typical SDK response: a few commands, a run proposal and
// the end.
func benchStream() (stream []byte, frames int) {
	cmds := []Command{
		&GetEagerStateCommand{Key: []byte("counter"), Result: ValueResult([]byte("41"))},
		&SetStateCommand{Key: []byte("counter"), Value: []byte("42")},
		&CallCommand{ServiceName: "Greeter", HandlerName: "greet", Parameter: []byte(`"bob"`),
			InvocationIDNotificationIdx: 1, ResultCompletionID: 2},
		&SleepCommand{WakeUpTime: 1700000000000, ResultCompletionID: 3},
		&RunCommand{ResultCompletionID: 4, Name: "side-effect"},
	}
	for _, c := range cmds {
		stream = AppendCommandFrame(stream, c)
	}
	prc := ProposeRunCompletion{ResultCompletionID: 4, Result: ValueResult(bytes.Repeat([]byte("r"), 200))}
	stream = AppendFrame(stream, TypeProposeRunCompletion, FlagRequestedAck, prc.AppendTo(nil))
	stream = AppendCommandFrame(stream, &OutputCommand{Result: ValueResult([]byte(`"done"`))})
	stream = AppendFrame(stream, TypeEnd, 0, nil)
	return stream, len(cmds) + 3
}

func BenchmarkDecoderNext(b *testing.B) {
	stream, n := benchStream()
	r := bytes.NewReader(stream)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(stream)
		d := NewDecoder(r, 1<<20)
		for range n {
			if _, err := d.Next(); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := d.Next(); err != io.EOF {
			b.Fatal(err)
		}
		d.Release()
	}
}

func BenchmarkDecodeFrames(b *testing.B) {
	stream, _ := benchStream()
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeFrames(stream); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStartMessageEncode(b *testing.B) {
	m := StartMessage{
		ID:      bytes.Repeat([]byte{0xAB}, 24),
		DebugID: "inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hbz", KnownEntries: 5,
		StateMap: []StateEntry{
			{Key: []byte("a"), Value: []byte(`"alpha"`)},
			{Key: []byte("b"), Value: []byte(`{"x":1}`)},
			{Key: []byte("counter"), Value: []byte("42")},
		},
		Key: "customer-1", RetryCountSinceLastStoredEntry: 1, DurationSinceLastStoredEntry: 1234, RandomSeed: 99,
	}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = m.AppendFrame(buf[:0], 7)
	}
}

func BenchmarkCallCommandUnmarshal(b *testing.B) {
	payload := (&CallCommand{ServiceName: "Greeter", HandlerName: "greet", Parameter: []byte(`"bob"`),
		Headers: []Header{{Key: "x-trace", Value: "abc"}}, Key: "k", InvocationIDNotificationIdx: 1, ResultCompletionID: 2}).AppendTo(nil)
	b.ReportAllocs()
	for b.Loop() {
		var c CallCommand
		if err := c.Unmarshal(payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNotificationEncode(b *testing.B) {
	n := NewCompletion(TypeCallCompletion, 2, ValueResult([]byte(`"hi bob"`)))
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = n.AppendFrame(buf[:0], 7)
	}
}
