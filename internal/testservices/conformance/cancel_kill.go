package conformance

import (
	"fmt"
	"time"

	restate "github.com/restatedev/sdk-go"
)

// BlockingOperation says what CancelTestBlockingService/block waits on.
type BlockingOperation string

// The operations of the suite's CancelTest.BlockingOperation enum.
const (
	BlockOnCall      BlockingOperation = "CALL"
	BlockOnSleep     BlockingOperation = "SLEEP"
	BlockOnAwakeable BlockingOperation = "AWAKEABLE"
)

const canceledKey = "state"

// cancelTestRunnerService is the suite's CancelTestRunner: it calls the blocking service and
// records whether that call ended with the 409 "canceled" failure.
func cancelTestRunnerService() restate.ServiceDefinition {
	return restate.NewObject("CancelTestRunner").
		Handler("startTest", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, op BlockingOperation) (restate.Void, error) {
				_, err := restate.Object[restate.Void](ctx, "CancelTestBlockingService", restate.Key(ctx), "block").Request(op)
				if err == nil {
					return restate.Void{}, restate.TerminalErrorf("the blocking call returned instead of being canceled")
				}
				if err.Code() != 409 {
					return restate.Void{}, err
				}
				restate.Set(ctx, canceledKey, true)
				return restate.Void{}, nil
			})).
		Handler("verifyTest", restate.NewObjectHandler(
			// Exclusive, so it only runs once startTest has finished on the same key.
			func(ctx restate.ObjectContext, _ restate.Void) (bool, error) {
				return restate.Get[bool](ctx, canceledKey)
			}))
}

// blockUntilReleased parks an awakeable in AwakeableHolder under the object's key and waits
// for the test to unlock it: proof that the handler is running before the test acts.
func blockUntilReleased(ctx restate.ObjectContext) error {
	awk := restate.Awakeable[string](ctx)
	if _, err := restate.Object[restate.Void](ctx, "AwakeableHolder", restate.Key(ctx), "hold").Request(awk.Id()); err != nil {
		return err
	}
	_, err := awk.Result()
	return err
}

// cancelTestBlockingService is the suite's CancelTestBlockingService: block waits on an
// operation that never completes by itself, so only cancellation can end it.
func cancelTestBlockingService() restate.ServiceDefinition {
	return restate.NewObject("CancelTestBlockingService").
		Handler("block", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, op BlockingOperation) (restate.Void, error) {
				if err := blockUntilReleased(ctx); err != nil {
					return restate.Void{}, err
				}
				switch op {
				case BlockOnCall:
					// Calling ourselves on the same key queues behind this invocation forever.
					_, err := restate.Object[restate.Void](ctx, "CancelTestBlockingService", restate.Key(ctx), "block").Request(op)
					return restate.Void{}, err
				case BlockOnSleep:
					return restate.Void{}, restate.Sleep(ctx, 1024*24*time.Hour)
				case BlockOnAwakeable:
					_, err := restate.Awakeable[string](ctx).Result()
					return restate.Void{}, err
				default:
					return restate.Void{}, restate.TerminalErrorf("unknown blocking operation %q", op)
				}
			})).
		Handler("isUnlocked", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, _ restate.Void) (restate.Void, error) {
				return restate.Void{}, nil
			}))
}

// killTestRunnerService is the suite's KillTestRunner: the root of a call tree.
func killTestRunnerService() restate.ServiceDefinition {
	return restate.NewObject("KillTestRunner").
		Handler("startCallTree", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, _ restate.Void) (restate.Void, error) {
				_, err := restate.Object[restate.Void](ctx, "KillTestSingleton", restate.Key(ctx), "recursiveCall").Request(restate.Void{})
				return restate.Void{}, err
			}))
}

// killTestSingletonService is the suite's KillTestSingleton: after being released it calls
// itself on the same key, which can never run while it holds the key, so the tree hangs
// until it is killed.
func killTestSingletonService() restate.ServiceDefinition {
	return restate.NewObject("KillTestSingleton").
		Handler("recursiveCall", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, _ restate.Void) (restate.Void, error) {
				if err := blockUntilReleased(ctx); err != nil {
					return restate.Void{}, err
				}
				_, err := restate.Object[restate.Void](ctx, "KillTestSingleton", restate.Key(ctx), "recursiveCall").Request(restate.Void{})
				if err != nil {
					return restate.Void{}, err
				}
				return restate.Void{}, fmt.Errorf("the recursive call returned; it should hang until killed")
			})).
		Handler("isUnlocked", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, _ restate.Void) (restate.Void, error) {
				return restate.Void{}, nil
			}))
}
