package conformance

import (
	"time"

	restate "github.com/restatedev/sdk-go"
)

// nonDeterministicService is the suite's NonDeterministic object. Each handler takes one path
// on odd attempts and another on even ones, then suspends (a short sleep) and finally adds 1
// to Counter under its own key. A replay after the suspension meets a journal that does not
// match the code; the server must report the mismatch and the increment must never happen.
// The scenarios are meant for always-suspending servers, where the first attempt suspends
// before reaching the increment.
func nonDeterministicService(reg *registry) restate.ServiceDefinition {
	obj := restate.NewObject("NonDeterministic")
	add := func(name string, body func(ctx restate.ObjectContext, firstPath bool) error) {
		obj.Handler(name, restate.NewObjectHandler(
			func(ctx restate.ObjectContext, _ restate.Void) (restate.Void, error) {
				firstPath := reg.inc("nondeterministic/"+name+"/"+restate.Key(ctx))%2 == 1
				if err := body(ctx, firstPath); err != nil {
					return restate.Void{}, err
				}
				if err := restate.Sleep(ctx, 100*time.Millisecond); err != nil {
					return restate.Void{}, err
				}
				restate.ObjectSend(ctx, "Counter", restate.Key(ctx), "add").Send(1)
				return restate.Void{}, nil
			}))
	}
	add("eitherSleepOrCall", func(ctx restate.ObjectContext, firstPath bool) error {
		if firstPath {
			return restate.Sleep(ctx, 100*time.Millisecond)
		}
		_, err := restate.Object[int64](ctx, "Counter", "abc", "get").Request(restate.Void{})
		return err
	})
	add("callDifferentMethod", func(ctx restate.ObjectContext, firstPath bool) error {
		handler := "reset"
		if firstPath {
			handler = "get"
		}
		_, err := restate.Object[restate.Void](ctx, "Counter", "abc", handler).Request(restate.Void{})
		return err
	})
	add("backgroundInvokeWithDifferentTargets", func(ctx restate.ObjectContext, firstPath bool) error {
		handler := "reset"
		if firstPath {
			handler = "get"
		}
		restate.ObjectSend(ctx, "Counter", "abc", handler).Send(restate.Void{})
		return nil
	})
	add("setDifferentKey", func(ctx restate.ObjectContext, firstPath bool) error {
		key := "b"
		if firstPath {
			key = "a"
		}
		restate.Set(ctx, key, "my-state")
		return nil
	})
	return obj
}
