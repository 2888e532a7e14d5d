package conformance

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/restatego/restate/internal/testservices/conformance"
)

// TestCallOrdering is the suite's CallOrdering class: one-way sends and calls from one
// invocation to one object key arrive in the order they were made. The last call of each
// ordering is awaited, so the list is complete when manyCalls answers.
func TestCallOrdering(t *testing.T) {
	e := setup(t, nil)
	for _, ordering := range [][]bool{{true, false, false}, {false, true, false}, {true, true, false}} {
		t.Run(fmt.Sprint(ordering), func(t *testing.T) {
			t.Parallel()
			list := newID()
			var calls []conformance.ManyCallRequest
			for i, oneWay := range ordering {
				msg, _ := json.Marshal(strconv.Itoa(i))
				calls = append(calls, conformance.ManyCallRequest{
					ProxyRequest: conformance.ProxyRequest{
						ServiceName: "ListObject", VirtualObjectKey: list, HandlerName: "append", Message: msg,
					},
					OneWayCall:    oneWay,
					AwaitAtTheEnd: !oneWay,
				})
			}
			e.call(t, "/Proxy/manyCalls", calls, nil, idem()...)
			var got []string
			e.call(t, "/ListObject/"+list+"/clear", nil, &got, idem()...)
			if !slices.Equal(got, []string{"0", "1", "2"}) {
				t.Fatalf("list %q, want [0 1 2]", got)
			}
		})
	}
}
