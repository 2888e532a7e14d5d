package conformance

import (
	restate "github.com/restatedev/sdk-go"
)

// CounterUpdateResponse is what Counter/add answers.
type CounterUpdateResponse struct {
	OldValue int64 `json:"oldValue"`
	NewValue int64 `json:"newValue"`
}

const counterKey = "counter"

// counterService is the suite's Counter object: one number per key.
func counterService() restate.ServiceDefinition {
	return restate.NewObject("Counter").
		Handler("add", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, value int64) (CounterUpdateResponse, error) {
				old, err := restate.Get[int64](ctx, counterKey)
				if err != nil {
					return CounterUpdateResponse{}, err
				}
				restate.Set(ctx, counterKey, old+value)
				return CounterUpdateResponse{OldValue: old, NewValue: old + value}, nil
			})).
		Handler("addThenFail", restate.NewObjectHandler(
			// The state write must survive the terminal failure that follows it; the failure
			// names the key so callers can tell which counter failed.
			func(ctx restate.ObjectContext, value int64) (restate.Void, error) {
				old, err := restate.Get[int64](ctx, counterKey)
				if err != nil {
					return restate.Void{}, err
				}
				restate.Set(ctx, counterKey, old+value)
				return restate.Void{}, restate.TerminalErrorf("%s", restate.Key(ctx))
			})).
		Handler("get", restate.NewObjectSharedHandler(
			func(ctx restate.ObjectSharedContext, _ restate.Void) (int64, error) {
				return restate.Get[int64](ctx, counterKey)
			})).
		Handler("reset", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, _ restate.Void) (restate.Void, error) {
				restate.Clear(ctx, counterKey)
				return restate.Void{}, nil
			}))
}

const listKey = "list"

// listObjectService is the suite's ListObject: an append-only list used to observe the
// order in which calls arrive.
func listObjectService() restate.ServiceDefinition {
	return restate.NewObject("ListObject").
		Handler("append", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, value string) (restate.Void, error) {
				list, err := restate.Get[[]string](ctx, listKey)
				if err != nil {
					return restate.Void{}, err
				}
				restate.Set(ctx, listKey, append(list, value))
				return restate.Void{}, nil
			})).
		Handler("get", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, _ restate.Void) ([]string, error) {
				return nonNil(restate.Get[[]string](ctx, listKey))
			})).
		Handler("clear", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, _ restate.Void) ([]string, error) {
				list, err := nonNil(restate.Get[[]string](ctx, listKey))
				if err != nil {
					return nil, err
				}
				restate.Clear(ctx, listKey)
				return list, nil
			}))
}

// nonNil turns a missing list into an empty one so it encodes as [] rather than null.
func nonNil(list []string, err restate.TerminalError) ([]string, error) {
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []string{}
	}
	return list, nil
}

// MapEntry is one key/value pair of MapObject.
type MapEntry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// mapObjectService is the suite's MapObject: every entry is its own state key, so clearAll
// exercises listing keys and clearing all state.
func mapObjectService() restate.ServiceDefinition {
	return restate.NewObject("MapObject").
		Handler("set", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, e MapEntry) (restate.Void, error) {
				restate.Set(ctx, e.Key, e.Value)
				return restate.Void{}, nil
			})).
		Handler("get", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, key string) (string, error) {
				return restate.Get[string](ctx, key)
			})).
		Handler("clearAll", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, _ restate.Void) ([]MapEntry, error) {
				keys, err := restate.Keys(ctx)
				if err != nil {
					return nil, err
				}
				entries := []MapEntry{}
				for _, k := range keys {
					v, err := restate.Get[string](ctx, k)
					if err != nil {
						return nil, err
					}
					entries = append(entries, MapEntry{Key: k, Value: v})
				}
				restate.ClearAll(ctx)
				return entries, nil
			}))
}

const awakeableIDKey = "id"

// awakeableHolderService is the suite's AwakeableHolder: it parks an awakeable id so that a
// test can see that a handler reached its blocking point, then resolves it on unlock.
func awakeableHolderService() restate.ServiceDefinition {
	return restate.NewObject("AwakeableHolder").
		Handler("hold", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, id string) (restate.Void, error) {
				restate.Set(ctx, awakeableIDKey, id)
				return restate.Void{}, nil
			})).
		Handler("hasAwakeable", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, _ restate.Void) (bool, error) {
				id, err := restate.Get[*string](ctx, awakeableIDKey)
				return id != nil, err
			})).
		Handler("unlock", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, payload string) (restate.Void, error) {
				id, err := restate.Get[*string](ctx, awakeableIDKey)
				if err != nil {
					return restate.Void{}, err
				}
				if id == nil {
					return restate.Void{}, restate.TerminalErrorf("no awakeable is held under key %q", restate.Key(ctx))
				}
				restate.ResolveAwakeable(ctx, *id, payload)
				restate.Clear(ctx, awakeableIDKey)
				return restate.Void{}, nil
			}))
}

const (
	workflowStateKey   = "my-state"
	workflowPromiseKey = "durable-promise"
)

// blockAndWaitWorkflow is the suite's BlockAndWaitWorkflow: run stores its input, blocks on
// a durable promise that the shared unblock handler resolves, and returns the promise value.
func blockAndWaitWorkflow() restate.ServiceDefinition {
	return restate.NewWorkflow("BlockAndWaitWorkflow").
		Handler("run", restate.NewWorkflowHandler(
			func(ctx restate.WorkflowContext, input string) (string, error) {
				restate.Set(ctx, workflowStateKey, input)
				promise := restate.Promise[string](ctx, workflowPromiseKey)
				out, err := promise.Result()
				if err != nil {
					return "", err
				}
				// Once resolved, peeking must give the same value without blocking.
				peeked, err := promise.Peek()
				if err != nil {
					return "", err
				}
				if peeked != out {
					return "", restate.TerminalErrorf("peek gave %q after the promise resolved to %q", peeked, out)
				}
				return out, nil
			})).
		Handler("unblock", restate.NewWorkflowSharedHandler(
			func(ctx restate.WorkflowSharedContext, output string) (restate.Void, error) {
				return restate.Void{}, restate.Promise[string](ctx, workflowPromiseKey).Resolve(output)
			})).
		Handler("getState", restate.NewWorkflowSharedHandler(
			func(ctx restate.WorkflowSharedContext, _ restate.Void) (*string, error) {
				return restate.Get[*string](ctx, workflowStateKey)
			}))
}
