package conformance

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/restatego/restate/internal/testservices/conformance"
)

// TestState is the suite's State class: Counter add, one-way adds through Proxy, and
// listing + clearing all state keys of MapObject.
func TestState(t *testing.T) {
	e := setup(t, nil)

	t.Run("add", func(t *testing.T) {
		t.Parallel()
		path := "/Counter/" + newID() + "/add"
		var r conformance.CounterUpdateResponse
		e.call(t, path, 1, &r, idem()...)
		if r != (conformance.CounterUpdateResponse{OldValue: 0, NewValue: 1}) {
			t.Fatalf("first add: %+v", r)
		}
		e.call(t, path, 2, &r, idem()...)
		if r != (conformance.CounterUpdateResponse{OldValue: 1, NewValue: 3}) {
			t.Fatalf("second add: %+v", r)
		}
	})

	t.Run("proxyOneWayAdd", func(t *testing.T) {
		t.Parallel()
		key := newID()
		for range 3 {
			var id string
			e.call(t, "/Proxy/oneWayCall", conformance.ProxyRequest{
				ServiceName: "Counter", VirtualObjectKey: key, HandlerName: "add", Message: conformance.Bytes("1"),
			}, &id, idem()...)
			if len(id) != 38 || id[:5] != "inv_1" {
				t.Fatalf("oneWayCall answered %q, want an invocation id", id)
			}
		}
		eventually(t, 10*time.Second, "counter reaches 3", func() error {
			return counterIs(e, key, 3)
		})
	})

	t.Run("listStateAndClearAll", func(t *testing.T) {
		t.Parallel()
		name := newID()
		e.call(t, "/MapObject/"+name+"/set", conformance.MapEntry{Key: "my-key-0", Value: "my-value-0"}, nil, idem()...)
		e.call(t, "/MapObject/"+name+"/set", conformance.MapEntry{Key: "my-key-1", Value: "my-value-1"}, nil, idem()...)
		e.call(t, "/MapObject/"+name+"1/set", conformance.MapEntry{Key: "my-key-2", Value: "my-value-2"}, nil, idem()...)

		var cleared []conformance.MapEntry
		e.call(t, "/MapObject/"+name+"/clearAll", nil, &cleared, idem()...)
		slices.SortFunc(cleared, func(a, b conformance.MapEntry) int {
			if a.Key < b.Key {
				return -1
			}
			return 1
		})
		want := []conformance.MapEntry{{Key: "my-key-0", Value: "my-value-0"}, {Key: "my-key-1", Value: "my-value-1"}}
		if !slices.Equal(cleared, want) {
			t.Fatalf("clearAll answered %+v, want %+v", cleared, want)
		}
		for _, k := range []string{"my-key-0", "my-key-1"} {
			var v string
			e.call(t, "/MapObject/"+name+"/get", k, &v, idem()...)
			if v != "" {
				t.Fatalf("%s after clearAll: %q", k, v)
			}
		}
		var v string
		e.call(t, "/MapObject/"+name+"1/get", "my-key-2", &v, idem()...)
		if v != "my-value-2" {
			t.Fatalf("the other map's my-key-2 is %q", v)
		}
	})
}

// counterIs checks Counter/{key}/get.
func counterIs(e *env, key string, want int64) error {
	r, err := request("POST", "http://"+e.Ingress+"/Counter/"+key+"/get", nil)
	if err != nil {
		return err
	}
	if r.Status != 200 || string(r.Body) != fmt.Sprint(want) {
		return fmt.Errorf("Counter/%s/get: %d %s, want 200 %d", key, r.Status, r.Body, want)
	}
	return nil
}
