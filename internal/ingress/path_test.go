package ingress

import (
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	cases := []struct {
		path string
		kind RouteKind
		segs int
		err  bool
	}{
		{"/Greeter/greet", RouteService, 2, false},
		{"/Greeter/greet/", RouteService, 2, false},
		{"/Greeter/greet/send", RouteService, 3, false},
		{"/Counter/my%20key/add/send", RouteService, 4, false},
		{"/Greeter", 0, 0, true},
		{"/a/b/c/d/e", 0, 0, true},
		{"/a//b", 0, 0, true},
		{"/", 0, 0, true},
		{"/restate/health", RouteHealth, 0, false},
		{"/restate/awakeables/sign_1abc/resolve", RouteAwakeable, 2, false},
		{"/restate/a/sign_1abc/reject", RouteAwakeable, 2, false},
		{"/restate/a/sign_1abc/other", 0, 0, true},
		{"/restate/invocation/inv_1abc/attach", RouteInvocation, 2, false},
		{"/restate/invocation/Svc/handler/idem/output", RouteInvocation, 4, false},
		{"/restate/invocation/Obj/key/handler/idem/attach", RouteInvocation, 5, false},
		{"/restate/workflow/Wf/key/attach", RouteWorkflow, 3, false},
		{"/restate/unknown", 0, 0, true},
		{"/openapi", RouteOpenAPI, 0, false},
	}
	for _, c := range cases {
		r, err := ParsePath(c.path)
		if (err != nil) != c.err {
			t.Errorf("%s: err = %v, want error %v", c.path, err, c.err)
			continue
		}
		if err == nil && (r.Kind != c.kind || len(r.Segments) != c.segs) {
			t.Errorf("%s: got kind %d segs %v", c.path, r.Kind, r.Segments)
		}
	}
}

func TestResolveServicePath(t *testing.T) {
	c, err := ResolveServicePath([]string{"Counter", "my%20key", "add", "send"}, true)
	if err != nil || c.Key != "my key" || c.Handler != "add" || !c.Send {
		t.Fatalf("got %+v, %v", c, err)
	}
	c, err = ResolveServicePath([]string{"Greeter", "greet"}, false)
	if err != nil || c.Handler != "greet" || c.Send || c.Key != "" {
		t.Fatalf("got %+v, %v", c, err)
	}
	if _, err := ResolveServicePath([]string{"Greeter", "greet", "nope"}, false); err == nil {
		t.Fatal("a last segment other than send must be rejected")
	}
	if _, err := ResolveServicePath([]string{"Counter", "add"}, true); err == nil {
		t.Fatal("a keyed service without a key must be rejected")
	}
	if _, err := ResolveServicePath([]string{"Counter", "%ff", "add"}, true); err == nil {
		t.Fatal("a key that is not UTF-8 must be rejected")
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/Greeter/greet", "/restate/invocation/x/attach", "/a/b%2F/c/send", "//", "/restate/a/x/resolve", "/openapi/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		r, err := ParsePath(path)
		if err != nil {
			return
		}
		for _, s := range r.Segments {
			if s == "" || strings.Contains(s, "/") {
				t.Fatalf("segment %q of %q", s, path)
			}
		}
		if r.Kind == RouteService {
			for _, keyed := range []bool{false, true} {
				c, err := ResolveServicePath(r.Segments, keyed)
				if err == nil && (c.Service == "" || c.Handler == "") {
					t.Fatalf("resolved %q to %+v", path, c)
				}
			}
		}
	})
}
