package conformance

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"slices"
	"testing"
)

func TestBytesJSON(t *testing.T) {
	b, err := json.Marshal(Bytes(`"ping"`))
	if err != nil || string(b) != `[34,112,105,110,103,34]` {
		t.Fatalf("marshal ascii: %s %v", b, err)
	}
	// Kotlin's Byte is signed, so high bytes travel as negative numbers.
	if b, _ = json.Marshal(Bytes{0xff, 0x80, 0x7f}); string(b) != `[-1,-128,127]` {
		t.Fatalf("marshal high bytes: %s", b)
	}
	if b, _ = json.Marshal(Bytes(nil)); string(b) != `[]` {
		t.Fatalf("marshal nil: %s", b)
	}
	var got Bytes
	if err := json.Unmarshal([]byte(`[255,-1,0,-128,128]`), &got); err != nil || !slices.Equal(got, Bytes{255, 255, 0, 128, 128}) {
		t.Fatalf("unmarshal: %v %v", got, err)
	}
	for _, bad := range []string{`[256]`, `[-129]`, `[1.5]`, `["1"]`, `{}`, `"AAE="`, `[1e2]`} {
		if err := json.Unmarshal([]byte(bad), &got); err == nil {
			t.Errorf("%s decoded to %v, want an error", bad, got)
		}
	}
}

func TestCommandJSONMatchesTheSuite(t *testing.T) {
	cases := []struct {
		cmd  Command
		want string
	}{
		{AwaitAny(CreateAwakeable("awk1"), SleepFor(100)),
			`{"commands":[{"awakeableKey":"awk1","type":"createAwakeable"},{"timeoutMillis":100,"type":"sleep"}],"type":"awaitAny"}`},
		{AwaitOne(RunThrowTerminalException("boom")), `{"command":{"reason":"boom","type":"runThrowTerminalException"},"type":"awaitOne"}`},
		{AwaitAllCompleted(RunReturns(""), CreateSignal("sig")),
			`{"commands":[{"type":"runReturns","value":""},{"signalName":"sig","type":"createSignal"}],"type":"awaitAllCompleted"}`},
		{AwaitAwakeableOrTimeout("k", 0), `{"awakeableKey":"k","timeoutMillis":0,"type":"awaitAwakeableOrTimeout"}`},
		{ResolveAwakeableCommand("k", "v"), `{"awakeableKey":"k","type":"resolveAwakeable","value":"v"}`},
		{RejectAwakeableCommand("k", "r"), `{"awakeableKey":"k","reason":"r","type":"rejectAwakeable"}`},
		{GetEnvVariable("HOME"), `{"envName":"HOME","type":"getEnvVariable"}`},
		{AwaitAnySuccessful(), `{"commands":[],"type":"awaitAnySuccessful"}`},
	}
	for _, c := range cases {
		b, err := json.Marshal(c.cmd)
		if err != nil || string(b) != c.want {
			t.Errorf("%s: got %s %v\nwant %s", c.cmd.Type, b, err, c.want)
			continue
		}
		var back Command
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if again, _ := json.Marshal(back); string(again) != c.want {
			t.Errorf("%s: round trip gave %s", c.cmd.Type, again)
		}
	}
	if _, err := json.Marshal(Command{Type: "nope"}); err == nil {
		t.Error("unknown command type marshalled")
	}
}

func TestProxyRequestJSON(t *testing.T) {
	b, _ := json.Marshal(ProxyRequest{ServiceName: "Counter", VirtualObjectKey: "k", HandlerName: "add", Message: Bytes("1")})
	if string(b) != `{"serviceName":"Counter","virtualObjectKey":"k","handlerName":"add","message":[49]}` {
		t.Fatalf("got %s", b)
	}
	var r ProxyRequest
	in := `{"serviceName":"S","handlerName":"h","message":[1,2],"delayMillis":5000,"idempotencyKey":"i"}`
	if err := json.Unmarshal([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	want := ProxyRequest{ServiceName: "S", HandlerName: "h", Message: Bytes{1, 2}, DelayMillis: 5000, IdempotencyKey: "i"}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("got %+v", r)
	}
}

// The discovery manifest is the contract with the suite's scenarios: every service and
// handler name, its kind and which handlers are shared.
func TestDiscoveryNamesMatchTheSuite(t *testing.T) {
	for _, bidi := range []bool{true, false} {
		var opts []Option
		if !bidi {
			opts = append(opts, RequestResponse())
		}
		ctx, cancel := context.WithCancel(context.Background())
		e, err := Start(ctx, opts...)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", e.URL+"/discover", nil)
		req.Header.Set("accept", "application/vnd.restate.endpointmanifest.v3+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		var manifest struct {
			ProtocolMode string `json:"protocolMode"`
			Services     []struct {
				Name     string `json:"name"`
				Ty       string `json:"ty"`
				Handlers []struct {
					Name string `json:"name"`
					Ty   string `json:"ty"`
				} `json:"handlers"`
			} `json:"services"`
		}
		if err := json.Unmarshal(body, &manifest); err != nil {
			t.Fatalf("manifest %d %s: %v", resp.StatusCode, body, err)
		}
		wantMode := "BIDI_STREAM"
		if !bidi {
			wantMode = "REQUEST_RESPONSE"
		}
		if manifest.ProtocolMode != wantMode {
			t.Errorf("protocol mode %q, want %q", manifest.ProtocolMode, wantMode)
		}
		got := map[string]string{}
		for _, s := range manifest.Services {
			got[s.Name] = s.Ty
			for _, h := range s.Handlers {
				got[s.Name+"/"+h.Name] = h.Ty
			}
		}
		want := map[string]string{
			"Counter": "VIRTUAL_OBJECT", "Counter/add": "EXCLUSIVE", "Counter/addThenFail": "EXCLUSIVE",
			"Counter/get": "SHARED", "Counter/reset": "EXCLUSIVE",
			"Proxy": "SERVICE", "Proxy/call": "", "Proxy/oneWayCall": "", "Proxy/manyCalls": "",
			"ListObject": "VIRTUAL_OBJECT", "ListObject/append": "EXCLUSIVE", "ListObject/get": "EXCLUSIVE", "ListObject/clear": "EXCLUSIVE",
			"MapObject": "VIRTUAL_OBJECT", "MapObject/set": "EXCLUSIVE", "MapObject/get": "EXCLUSIVE", "MapObject/clearAll": "EXCLUSIVE",
			"AwakeableHolder": "VIRTUAL_OBJECT", "AwakeableHolder/hold": "EXCLUSIVE", "AwakeableHolder/hasAwakeable": "EXCLUSIVE",
			"AwakeableHolder/unlock": "EXCLUSIVE",
			"BlockAndWaitWorkflow":   "WORKFLOW", "BlockAndWaitWorkflow/run": "WORKFLOW", "BlockAndWaitWorkflow/unblock": "SHARED",
			"BlockAndWaitWorkflow/getState": "SHARED",
			"CancelTestRunner":              "VIRTUAL_OBJECT", "CancelTestRunner/startTest": "EXCLUSIVE", "CancelTestRunner/verifyTest": "EXCLUSIVE",
			"CancelTestBlockingService": "VIRTUAL_OBJECT", "CancelTestBlockingService/block": "EXCLUSIVE",
			"CancelTestBlockingService/isUnlocked": "EXCLUSIVE",
			"KillTestRunner":                       "VIRTUAL_OBJECT", "KillTestRunner/startCallTree": "EXCLUSIVE",
			"KillTestSingleton": "VIRTUAL_OBJECT", "KillTestSingleton/recursiveCall": "EXCLUSIVE", "KillTestSingleton/isUnlocked": "EXCLUSIVE",
			"Failing": "VIRTUAL_OBJECT", "Failing/terminallyFailingCall": "EXCLUSIVE", "Failing/callTerminallyFailingCall": "EXCLUSIVE",
			"Failing/failingCallWithEventualSuccess": "EXCLUSIVE", "Failing/terminallyFailingSideEffect": "EXCLUSIVE",
			"Failing/sideEffectSucceedsAfterGivenAttempts": "EXCLUSIVE", "Failing/sideEffectFailsAfterGivenAttempts": "EXCLUSIVE",
			"NonDeterministic": "VIRTUAL_OBJECT", "NonDeterministic/eitherSleepOrCall": "EXCLUSIVE",
			"NonDeterministic/callDifferentMethod": "EXCLUSIVE", "NonDeterministic/backgroundInvokeWithDifferentTargets": "EXCLUSIVE",
			"NonDeterministic/setDifferentKey": "EXCLUSIVE",
			"TestUtilsService":                 "SERVICE", "TestUtilsService/echo": "", "TestUtilsService/uppercaseEcho": "",
			"TestUtilsService/echoHeaders": "", "TestUtilsService/rawEcho": "", "TestUtilsService/sleepConcurrently": "",
			"TestUtilsService/countExecutedSideEffects": "", "TestUtilsService/getEnvVariable": "",
			"TestUtilsService/cancelInvocation": "", "TestUtilsService/resolveSignal": "", "TestUtilsService/rejectSignal": "",
			"VirtualObjectCommandInterpreter": "VIRTUAL_OBJECT", "VirtualObjectCommandInterpreter/interpretCommands": "EXCLUSIVE",
			"VirtualObjectCommandInterpreter/resolveAwakeable": "SHARED", "VirtualObjectCommandInterpreter/rejectAwakeable": "SHARED",
			"VirtualObjectCommandInterpreter/hasAwakeable": "SHARED", "VirtualObjectCommandInterpreter/awakeableId": "SHARED", "VirtualObjectCommandInterpreter/getResults": "SHARED",
		}
		if !reflect.DeepEqual(got, want) {
			for k, v := range want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s: got %q (present %v), want %q", k, g, ok, v)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("unexpected %s", k)
				}
			}
		}
	}
}

func TestRestartServesAgainOnTheSameAddress(t *testing.T) {
	e, err := Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	url := e.URL
	if err := e.Restart(0); err != nil {
		t.Fatal(err)
	}
	if e.URL != url {
		t.Fatalf("URL changed from %s to %s", url, e.URL)
	}
	resp, err := http.Get(e.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health after restart: %d", resp.StatusCode)
	}
	e.Close()
	if err := e.Restart(0); err == nil {
		t.Fatal("restarting a closed endpoint succeeded")
	}
}

func FuzzBytesUnmarshal(f *testing.F) {
	for _, s := range []string{`[]`, `[1,2,3]`, `[-128,255]`, `null`, `[256]`, `[1.0]`, `{"a":1}`, `[1e1]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Bytes
		if err := json.Unmarshal(data, &b); err != nil {
			return
		}
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		var back Bytes
		if err := json.Unmarshal(enc, &back); err != nil || !slices.Equal(back, b) {
			t.Fatalf("%s decoded to %v, re-encoded as %s, decoded back to %v (%v)", data, b, enc, back, err)
		}
	})
}

func FuzzInterpretRequest(f *testing.F) {
	seed, _ := json.Marshal(InterpretRequest{Commands: []Command{
		AwaitAnySuccessful(CreateAwakeable("a"), RunThrowTerminalException("r"), SleepFor(3)),
		AwaitOne(CreateSignal("s")), GetEnvVariable("E"), AwaitAwakeableOrTimeout("k", 10),
	}})
	f.Add(seed)
	f.Add([]byte(`{"commands":[{"type":"awaitOne","command":null}]}`))
	f.Add([]byte(`{"commands":[{"type":"x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req InterpretRequest
		if err := json.Unmarshal(data, &req); err != nil {
			return
		}
		enc, err := json.Marshal(req)
		if err != nil {
			return // unknown command types are refused, never half-encoded
		}
		var back InterpretRequest
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
		if again, err := json.Marshal(back); err != nil || string(again) != string(enc) {
			t.Fatalf("encoding is not stable: %s then %s (%v)", enc, again, err)
		}
	})
}
