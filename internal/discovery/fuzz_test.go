package discovery

import (
	"encoding/json"
	"testing"
)

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(sdkLikeManifest))
	f.Add([]byte(`{"protocolMode":"REQUEST_RESPONSE","minProtocolVersion":5,"maxProtocolVersion":5,"services":[]}`))
	f.Add([]byte(`{"minProtocolVersion":5,"maxProtocolVersion":7,"services":[]}`))
	f.Add([]byte(`{"protocolMode":"BIDI_STREAM","minProtocolVersion":5,"maxProtocolVersion":7,"services":[{"name":"A","ty":"SERVICE","handlers":[{"name":"h","input":{"jsonSchema":true},"output":{"jsonSchema":null}}]}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"services":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseManifest(body)
		if err != nil {
			if _, ok := AsError(err); !ok {
				t.Fatalf("error is not a *discovery.Error: %T %v", err, err)
			}
			if m != nil {
				t.Fatalf("manifest returned together with error %v", err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if m.MinProtocolVersion < 1 || m.MinProtocolVersion > m.MaxProtocolVersion {
			t.Fatalf("accepted bad version range [%d,%d]", m.MinProtocolVersion, m.MaxProtocolVersion)
		}
		if m.ProtocolMode != ProtocolModeBidiStream && m.ProtocolMode != ProtocolModeRequestResponse {
			t.Fatalf("accepted protocol mode %q", m.ProtocolMode)
		}
		names := map[string]bool{}
		for _, s := range m.Services {
			if !serviceNamePattern.MatchString(s.Name) || names[s.Name] {
				t.Fatalf("accepted bad or duplicate service name %q", s.Name)
			}
			names[s.Name] = true
			handlers := map[string]bool{}
			for _, h := range s.Handlers {
				if !handlerNamePattern.MatchString(h.Name) || handlers[h.Name] {
					t.Fatalf("accepted bad or duplicate handler name %q", h.Name)
				}
				handlers[h.Name] = true
				if h.InactivityTimeout != nil && *h.InactivityTimeout < 0 {
					t.Fatalf("negative duration accepted")
				}
			}
		}
	})
}
