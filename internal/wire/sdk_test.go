package wire_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	restate "github.com/restatedev/sdk-go"
	"github.com/restatedev/sdk-go/server"

	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/wire"
)

// End-to-end checks of the encoders and decoders against the real sdk-go
// v1.2.0 state machine, in request-response mode over h2c.

type Greeter struct{}

func (Greeter) Greet(ctx restate.Context, name string) (string, error) { return "hi " + name, nil }

func (Greeter) Nap(ctx restate.Context) error { return restate.Sleep(ctx, 10*time.Second) }

func (Greeter) Side(ctx restate.Context) (string, error) {
	return restate.Run(ctx, func(restate.RunContext) (string, error) { return "side", nil }, restate.WithName("myrun"))
}

func (Greeter) Awake(ctx restate.Context) (string, error) {
	return restate.Awakeable[string](ctx).Id(), nil
}

func (Greeter) CallOther(ctx restate.Context) (string, error) {
	return restate.Service[string](ctx, "Greeter", "Greet").Request("bob")
}

type Counter struct{}

func (Counter) Get(ctx restate.ObjectContext) (string, error) { return restate.Get[string](ctx, "k") }

type sdk struct {
	url    string
	client *http.Client
}

func startSDK(t *testing.T) *sdk {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the sdk-go state machine")
	}
	quiet := slog.NewTextHandler(io.Discard, nil)
	h, err := server.NewRestate().WithLogger(quiet, true).Bidirectional(false).
		Bind(restate.Reflect(Greeter{})).Bind(restate.Reflect(Counter{})).Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	return &sdk{url: srv.URL, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

var testInvocation = ids.InvocationID{PartitionKey: 0x0102030405060708, UUID: [16]byte{0xAB, 15: 0xCD}}

// invoke sends Start plus journal and returns the SDK's frames.
func (s *sdk) invoke(t *testing.T, version int, path string, start wire.StartMessage, journal ...[]byte) []wire.Frame {
	t.Helper()
	raw := testInvocation.Bytes()
	start.ID = raw[:]
	start.DebugID = testInvocation.String()
	start.KnownEntries = uint32(len(journal))
	body := start.AppendFrame(nil, version)
	for _, j := range journal {
		body = append(body, j...)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.url+"/invoke/"+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("content-type", wire.InvocationContentType(version))
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s v%d: HTTP %d %s", path, version, resp.StatusCode, msg)
	}
	if v, err := wire.ParseInvocationContentType(resp.Header.Get("content-type")); err != nil || v != version {
		t.Fatalf("response content-type %q (%v)", resp.Header.Get("content-type"), err)
	}
	d := wire.NewDecoder(resp.Body, 1<<20)
	defer d.Release()
	var frames []wire.Frame
	for {
		f, err := d.Next()
		if err == io.EOF {
			return frames
		}
		if err != nil {
			t.Fatalf("decoding SDK response: %v", err)
		}
		frames = append(frames, f)
	}
}

func input(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return (&wire.InputCommand{Value: b, Headers: []wire.Header{{Key: "x-test", Value: "1"}}}).AppendFrame(nil)
}

func types(frames []wire.Frame) []wire.MessageType {
	out := make([]wire.MessageType, len(frames))
	for i, f := range frames {
		out[i] = f.Type
	}
	return out
}

func expectTypes(t *testing.T, frames []wire.Frame, want ...wire.MessageType) {
	t.Helper()
	got := types(frames)
	if len(got) != len(want) {
		t.Fatalf("frames %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("frames %v, want %v", got, want)
		}
	}
}

func output(t *testing.T, f wire.Frame) wire.OutputCommand {
	t.Helper()
	var o wire.OutputCommand
	if err := o.Unmarshal(f.Payload); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestSDKGreet(t *testing.T) {
	s := startSDK(t)
	for _, v := range []int{5, 6, 7} {
		frames := s.invoke(t, v, "Greeter/Greet", wire.StartMessage{RandomSeed: 1}, input(t, "bob"))
		expectTypes(t, frames, wire.TypeOutputCommand, wire.TypeEnd)
		if o := output(t, frames[0]); o.Kind != wire.ResultValue || string(o.Value) != `"hi bob"` {
			t.Errorf("v%d output %+v", v, o)
		}
	}
}

func TestSDKSleepSuspends(t *testing.T) {
	s := startSDK(t)
	frames := s.invoke(t, 5, "Greeter/Nap", wire.StartMessage{}, input(t, nil))
	expectTypes(t, frames, wire.TypeSleepCommand, wire.TypeSuspension)
	var sleep wire.SleepCommand
	if err := sleep.Unmarshal(frames[0].Payload); err != nil || sleep.ResultCompletionID != 1 {
		t.Fatalf("sleep %+v %v", sleep, err)
	}
	if wake := time.UnixMilli(int64(sleep.WakeUpTime)); time.Until(wake) < 5*time.Second || time.Until(wake) > 15*time.Second {
		t.Errorf("wake up time %v", wake)
	}
	var susp wire.SuspensionMessage
	if err := susp.Unmarshal(frames[1].Payload); err != nil {
		t.Fatal(err)
	}
	if len(susp.WaitingCompletions) != 1 || susp.WaitingCompletions[0] != 1 || len(susp.WaitingSignals) != 1 || susp.WaitingSignals[0] != wire.SignalCancel {
		t.Errorf("v5 suspension %+v", susp)
	}

	frames = s.invoke(t, 7, "Greeter/Nap", wire.StartMessage{}, input(t, nil))
	expectTypes(t, frames, wire.TypeSleepCommand, wire.TypeAwaitingOn, wire.TypeSuspension)
	if err := susp.Unmarshal(frames[2].Payload); err != nil || susp.AwaitingOn == nil {
		t.Fatalf("v7 suspension %+v %v", susp, err)
	}
	fut := susp.Awaiting()
	done := func(id wire.NotificationID) func(wire.NotificationID) wire.Outcome {
		return func(x wire.NotificationID) wire.Outcome {
			if x == id {
				return wire.Succeeded
			}
			return wire.Pending
		}
	}
	if !fut.Resolved(done(wire.CompletionID(1))) || !fut.Resolved(done(wire.SignalID(wire.SignalCancel))) ||
		fut.Resolved(done(wire.CompletionID(2))) {
		t.Errorf("v7 future %+v does not resolve as expected", fut)
	}
	var aw wire.AwaitingOnMessage
	if err := aw.Unmarshal(frames[1].Payload); err != nil || aw.AwaitingOn == nil {
		t.Errorf("awaiting on %+v %v", aw, err)
	}
}

func TestSDKReplaySleep(t *testing.T) {
	s := startSDK(t)
	for _, v := range []int{5, 7} {
		completion := wire.NewCompletion(wire.TypeSleepCompletion, 1, wire.VoidResult())
		frames := s.invoke(t, v, "Greeter/Nap", wire.StartMessage{},
			input(t, nil),
			wire.AppendCommandFrame(nil, &wire.SleepCommand{WakeUpTime: 12345, ResultCompletionID: 1}),
			completion.AppendFrame(nil, v))
		expectTypes(t, frames, wire.TypeOutputCommand, wire.TypeEnd)
	}
}

func TestSDKRunProposal(t *testing.T) {
	s := startSDK(t)
	for _, v := range []int{5, 7} {
		frames := s.invoke(t, v, "Greeter/Side", wire.StartMessage{}, input(t, nil))
		if len(frames) < 3 || frames[0].Type != wire.TypeRunCommand || frames[1].Type != wire.TypeProposeRunCompletion {
			t.Fatalf("v%d frames %v", v, types(frames))
		}
		var run wire.RunCommand
		if err := run.Unmarshal(frames[0].Payload); err != nil || run.Name != "myrun" || run.ResultCompletionID != 1 {
			t.Errorf("run %+v %v", run, err)
		}
		var p wire.ProposeRunCompletion
		if err := p.Unmarshal(frames[1].Payload); err != nil || p.Kind != wire.ResultValue || string(p.Value) != `"side"` || p.ResultCompletionID != 1 {
			t.Errorf("proposal %+v %v", p, err)
		}
		if frames[1].RequestedAck() != (v >= 7) {
			t.Errorf("v%d REQUESTED_ACK = %v", v, frames[1].RequestedAck())
		}
		if frames[len(frames)-1].Type != wire.TypeSuspension {
			t.Errorf("v%d last frame %s", v, frames[len(frames)-1].Type)
		}
	}
	// Replaying the stored completion finishes the handler.
	run := wire.AppendCommandFrame(nil, &wire.RunCommand{ResultCompletionID: 1, Name: "myrun"})
	done := wire.NewCompletion(wire.TypeRunCompletion, 1, wire.ValueResult([]byte(`"side"`)))
	frames := s.invoke(t, 7, "Greeter/Side", wire.StartMessage{}, input(t, nil), run, done.AppendFrame(nil, 7))
	expectTypes(t, frames, wire.TypeOutputCommand, wire.TypeEnd)
	if o := output(t, frames[0]); string(o.Value) != `"side"` {
		t.Errorf("output %q", o.Value)
	}
}

func TestSDKAwakeableID(t *testing.T) {
	s := startSDK(t)
	frames := s.invoke(t, 7, "Greeter/Awake", wire.StartMessage{}, input(t, nil))
	expectTypes(t, frames, wire.TypeOutputCommand, wire.TypeEnd)
	var id string
	if err := json.Unmarshal(output(t, frames[0]).Value, &id); err != nil {
		t.Fatal(err)
	}
	if want := ids.AwakeableID(testInvocation, wire.FirstAwakeableSignalID); id != want {
		t.Errorf("SDK awakeable id %s, ids.AwakeableID gives %s", id, want)
	}
	inv, idx, legacy, err := ids.ParseAwakeableID(id)
	if err != nil || inv != testInvocation || idx != wire.FirstAwakeableSignalID || legacy {
		t.Errorf("ParseAwakeableID(%s) = %v %d %v %v", id, inv, idx, legacy, err)
	}
}

func TestSDKCall(t *testing.T) {
	s := startSDK(t)
	frames := s.invoke(t, 7, "Greeter/CallOther", wire.StartMessage{}, input(t, nil))
	if len(frames) == 0 || frames[0].Type != wire.TypeCallCommand {
		t.Fatalf("frames %v", types(frames))
	}
	c, err := wire.DecodeCommand(frames[0].Type, frames[0].Payload)
	if err != nil {
		t.Fatal(err)
	}
	call := c.(*wire.CallCommand)
	if call.ServiceName != "Greeter" || call.HandlerName != "Greet" || string(call.Parameter) != `"bob"` ||
		call.InvocationIDNotificationIdx != 1 || call.ResultCompletionID != 2 {
		t.Errorf("call %+v", call)
	}
	// Replay with both notifications: the handler returns the callee's value.
	idNotif := wire.NewCompletion(wire.TypeCallInvocationIDCompletion, 1, wire.InvocationIDResult(ids.NewInvocationID(1).String()))
	result := wire.NewCompletion(wire.TypeCallCompletion, 2, wire.ValueResult([]byte(`"hi bob"`)))
	frames = s.invoke(t, 7, "Greeter/CallOther", wire.StartMessage{}, input(t, nil),
		frames[0].AppendTo(nil), idNotif.AppendFrame(nil, 7), result.AppendFrame(nil, 7))
	expectTypes(t, frames, wire.TypeOutputCommand, wire.TypeEnd)
	if o := output(t, frames[0]); string(o.Value) != `"hi bob"` {
		t.Errorf("output %q", o.Value)
	}
	// A failed call surfaces as a terminal failure carrying the code.
	failed := wire.NewCompletion(wire.TypeCallCompletion, 2, wire.FailureResult(418, "teapot"))
	callFrame := wire.AppendFrame(nil, wire.TypeCallCommand, 0, call.AppendTo(nil))
	frames = s.invoke(t, 7, "Greeter/CallOther", wire.StartMessage{}, input(t, nil),
		callFrame, idNotif.AppendFrame(nil, 7), failed.AppendFrame(nil, 7))
	expectTypes(t, frames, wire.TypeOutputCommand, wire.TypeEnd)
	if o := output(t, frames[0]); o.Kind != wire.ResultFailure || o.Failure.Code != 418 || o.Failure.Message != "teapot" {
		t.Errorf("output %+v", o)
	}
}

func TestSDKState(t *testing.T) {
	s := startSDK(t)
	full := wire.StartMessage{Key: "obj", StateMap: []wire.StateEntry{{Key: []byte("k"), Value: []byte(`"v"`)}}}
	frames := s.invoke(t, 6, "Counter/Get", full, input(t, nil))
	expectTypes(t, frames, wire.TypeGetEagerStateCommand, wire.TypeOutputCommand, wire.TypeEnd)
	var get wire.GetEagerStateCommand
	if err := get.Unmarshal(frames[0].Payload); err != nil || string(get.Key) != "k" || get.Kind != wire.ResultValue || string(get.Value) != `"v"` {
		t.Errorf("eager get %+v %v", get, err)
	}

	frames = s.invoke(t, 6, "Counter/Get", wire.StartMessage{Key: "obj", PartialState: true}, input(t, nil))
	expectTypes(t, frames, wire.TypeGetLazyStateCommand, wire.TypeSuspension)
	var lazy wire.GetLazyStateCommand
	if err := lazy.Unmarshal(frames[0].Payload); err != nil || string(lazy.Key) != "k" || lazy.ResultCompletionID != 1 {
		t.Errorf("lazy get %+v %v", lazy, err)
	}
	// Completing the lazy get with void (absent key) finishes with "".
	absent := wire.NewCompletion(wire.TypeGetLazyStateCompletion, 1, wire.VoidResult())
	frames = s.invoke(t, 6, "Counter/Get", wire.StartMessage{Key: "obj", PartialState: true}, input(t, nil),
		frames[0].AppendTo(nil), absent.AppendFrame(nil, 6))
	expectTypes(t, frames, wire.TypeOutputCommand, wire.TypeEnd)
}
