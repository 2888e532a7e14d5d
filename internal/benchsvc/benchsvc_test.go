package benchsvc

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// Message types and content type of the service protocol (see
// /work/shared/reference/service-protocol.md §3.2). Only what these tests
// send or expect back is listed.
const (
	msgStart          = 0x0000
	msgEnd            = 0x0003
	msgInput          = 0x0400
	msgOutput         = 0x0401
	msgSetState       = 0x0403
	msgGetEagerState  = 0x0407
	invocationContent = "application/vnd.restate.invocation.v5"
)

type frame struct {
	typ     uint16
	payload []byte
}

func appendFrame(dst []byte, typ uint16, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, typ)
	dst = binary.BigEndian.AppendUint16(dst, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

func decodeFrames(t *testing.T, b []byte) []frame {
	t.Helper()
	var out []frame
	for len(b) > 0 {
		if len(b) < 8 {
			t.Fatalf("truncated frame header: %x", b)
		}
		typ := binary.BigEndian.Uint16(b[0:2])
		n := int(binary.BigEndian.Uint32(b[4:8]))
		if len(b) < 8+n {
			t.Fatalf("frame 0x%04x claims %d payload bytes, only %d left", typ, n, len(b)-8)
		}
		out = append(out, frame{typ: typ, payload: b[8 : 8+n]})
		b = b[8+n:]
	}
	return out
}

// fields returns the length-delimited and varint fields of a protobuf
// message keyed by field number (last occurrence wins).
func fields(t *testing.T, msg []byte) (bytesFields map[protowire.Number][]byte, varints map[protowire.Number]uint64) {
	t.Helper()
	bytesFields = map[protowire.Number][]byte{}
	varints = map[protowire.Number]uint64{}
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		msg = msg[n:]
		switch typ {
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(msg)
			if m < 0 {
				t.Fatalf("bad bytes field %d: %v", num, protowire.ParseError(m))
			}
			bytesFields[num] = v
			msg = msg[m:]
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(msg)
			if m < 0 {
				t.Fatalf("bad varint field %d: %v", num, protowire.ParseError(m))
			}
			varints[num] = v
			msg = msg[m:]
		default:
			m := protowire.ConsumeFieldValue(num, typ, msg)
			if m < 0 {
				t.Fatalf("bad field %d: %v", num, protowire.ParseError(m))
			}
			msg = msg[m:]
		}
	}
	return bytesFields, varints
}

type stateEntry struct{ key, value string }

func startMessage(key string, state []stateEntry) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, bytes.Repeat([]byte{0xAB}, 24))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, "inv_test")
	b = protowire.AppendTag(b, 3, protowire.VarintType)
	b = protowire.AppendVarint(b, 1)
	for _, e := range state {
		var entry []byte
		entry = protowire.AppendTag(entry, 1, protowire.BytesType)
		entry = protowire.AppendString(entry, e.key)
		entry = protowire.AppendTag(entry, 2, protowire.BytesType)
		entry = protowire.AppendString(entry, e.value)
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, entry)
	}
	// The whole state is sent, so the SDK must not ask for missing keys.
	b = protowire.AppendTag(b, 5, protowire.VarintType)
	b = protowire.AppendVarint(b, 0)
	if key != "" {
		b = protowire.AppendTag(b, 6, protowire.BytesType)
		b = protowire.AppendString(b, key)
	}
	return b
}

func inputCommand(jsonInput string) []byte {
	var value []byte
	value = protowire.AppendTag(value, 1, protowire.BytesType)
	value = protowire.AppendString(value, jsonInput)
	var b []byte
	b = protowire.AppendTag(b, 14, protowire.BytesType)
	return protowire.AppendBytes(b, value)
}

// invoke runs one complete attempt (Start + Input, input closed) against the
// endpoint and returns the frames the SDK wrote back.
func invoke(t *testing.T, addr, service, handler, key string, state []stateEntry, jsonInput string) []frame {
	t.Helper()
	var body []byte
	body = appendFrame(body, msgStart, startMessage(key, state))
	body = appendFrame(body, msgInput, inputCommand(jsonInput))
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("http://%s/invoke/%s/%s", addr, service, handler), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("content-type", invocationContent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("invoking %s/%s: %v", service, handler, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s/%s response: %v", service, handler, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s/%s: status %d, body %q", service, handler, resp.StatusCode, out)
	}
	if ct := resp.Header.Get("content-type"); ct != invocationContent {
		t.Fatalf("%s/%s: content-type %q, want %q", service, handler, ct, invocationContent)
	}
	return decodeFrames(t, out)
}

// outputValue checks that frames end in Output + End and returns the output
// value bytes and the failure code (0 if the output is a value).
func outputValue(t *testing.T, frames []frame) (value string, failureCode uint64) {
	t.Helper()
	if len(frames) < 2 || frames[len(frames)-1].typ != msgEnd || frames[len(frames)-2].typ != msgOutput {
		t.Fatalf("want frames ending in Output, End; got %v", frameTypes(frames))
	}
	out, _ := fields(t, frames[len(frames)-2].payload)
	if v, ok := out[14]; ok {
		content, _ := fields(t, v)
		return string(content[1]), 0
	}
	failure, ok := out[15]
	if !ok {
		t.Fatalf("Output has neither value nor failure: %x", frames[len(frames)-2].payload)
	}
	_, codes := fields(t, failure)
	return "", codes[1]
}

func frameTypes(frames []frame) []string {
	var s []string
	for _, f := range frames {
		s = append(s, fmt.Sprintf("0x%04x", f.typ))
	}
	return s
}

func startEndpoint(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	addr, err := Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestNoopEchoesInput(t *testing.T) {
	addr := startEndpoint(t)
	got, code := outputValue(t, invoke(t, addr, ServiceName, "Noop", "", nil, `"hello"`))
	if code != 0 || got != `"hello"` {
		t.Fatalf("Noop output = %q (failure code %d), want %q", got, code, `"hello"`)
	}
}

func TestCounterAddReadsAndWritesState(t *testing.T) {
	addr := startEndpoint(t)
	frames := invoke(t, addr, CounterName, "Add", "k1", []stateEntry{{CounterStateKey, "41"}}, "1")
	got, code := outputValue(t, frames)
	if code != 0 || got != "42" {
		t.Fatalf("Add output = %q (failure code %d), want 42", got, code)
	}
	var sawGet, sawSet bool
	for _, f := range frames {
		switch f.typ {
		case msgGetEagerState:
			sawGet = true
		case msgSetState:
			b, _ := fields(t, f.payload)
			value, _ := fields(t, b[3])
			if string(b[1]) != CounterStateKey || string(value[1]) != "42" {
				t.Fatalf("SetState key=%q value=%q, want %q=42", b[1], value[1], CounterStateKey)
			}
			sawSet = true
		}
	}
	if !sawGet || !sawSet {
		t.Fatalf("Add journaled get=%v set=%v, want both; frames %v", sawGet, sawSet, frameTypes(frames))
	}
}

func TestCounterAddStartsFromZero(t *testing.T) {
	addr := startEndpoint(t)
	got, _ := outputValue(t, invoke(t, addr, CounterName, "Add", "fresh", nil, "5"))
	if got != "5" {
		t.Fatalf("Add on empty state = %q, want 5", got)
	}
}

func TestSleepRejectsNegativeDuration(t *testing.T) {
	addr := startEndpoint(t)
	_, code := outputValue(t, invoke(t, addr, ServiceName, "Sleep", "", nil, "-1"))
	if code != 400 {
		t.Fatalf("Sleep(-1) failure code = %d, want 400", code)
	}
}

func TestDiscoveryListsServicesAndHandlerKinds(t *testing.T) {
	addr := startEndpoint(t)
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/discover", nil)
	req.Header.Set("accept", "application/vnd.restate.endpointmanifest.v3+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discover status %d", resp.StatusCode)
	}
	var manifest struct {
		Services []struct {
			Name     string `json:"name"`
			Ty       string `json:"ty"`
			Handlers []struct {
				Name string `json:"name"`
				Ty   string `json:"ty"`
			} `json:"handlers"`
		} `json:"services"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&manifest); err != nil {
		t.Fatalf("decoding manifest: %v", err)
	}
	got := map[string]string{}
	for _, s := range manifest.Services {
		got[s.Name] = s.Ty
		for _, h := range s.Handlers {
			got[s.Name+"/"+h.Name] = h.Ty
		}
	}
	want := map[string]string{
		ServiceName:              "SERVICE",
		ServiceName + "/Noop":    "",
		ServiceName + "/Sleep":   "",
		ServiceName + "/RunOnce": "",
		CounterName:              "VIRTUAL_OBJECT",
		CounterName + "/Add":     "EXCLUSIVE",
		CounterName + "/Get":     "SHARED",
	}
	if len(got) != len(want) {
		t.Fatalf("manifest entries %v, want %v", got, want)
	}
	for k, v := range want {
		if gv, ok := got[k]; !ok || gv != v {
			t.Fatalf("manifest %s = %q (present %v), want %q; all: %v", k, gv, ok, v, got)
		}
	}
}

func TestServeSpeaksH2C(t *testing.T) {
	addr := startEndpoint(t)
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: &protocols}}
	resp, err := client.Get("http://" + addr + "/health")
	if err != nil {
		t.Fatalf("h2c health check: %v", err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusOK {
		t.Fatalf("health over h2c: proto %s status %d", resp.Proto, resp.StatusCode)
	}
}
