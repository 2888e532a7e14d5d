package conformance

import (
	"errors"
	"fmt"
	"time"

	restate "github.com/restatedev/sdk-go"
)

// FailureToPropagate asks Failing to fail terminally with this message and metadata.
type FailureToPropagate struct {
	ErrorMessage string            `json:"errorMessage"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

func (f FailureToPropagate) terminal() restate.TerminalError {
	if len(f.Metadata) == 0 {
		return restate.TerminalErrorf("%s", f.ErrorMessage)
	}
	return restate.ToTerminalError(errors.New(f.ErrorMessage), restate.WithMetadataMap(f.Metadata))
}

// EventualSuccessAttempt is the attempt on which Failing/failingCallWithEventualSuccess
// succeeds; it answers with this number.
const EventualSuccessAttempt = 4

// runRetryInterval keeps run retries quick so scenarios finish in milliseconds.
const runRetryInterval = 10 * time.Millisecond

// failingService is the suite's Failing object: terminal errors (with metadata) from
// handlers, calls and runs, and retried work that counts its attempts in process memory.
func failingService(reg *registry) restate.ServiceDefinition {
	return restate.NewObject("Failing").
		Handler("terminallyFailingCall", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, f FailureToPropagate) (restate.Void, error) {
				return restate.Void{}, f.terminal()
			})).
		Handler("callTerminallyFailingCall", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, f FailureToPropagate) (string, error) {
				// A fresh key, so the callee does not queue behind this invocation.
				key := restate.UUID(ctx).String()
				if _, err := restate.Object[restate.Void](ctx, "Failing", key, "terminallyFailingCall").Request(f); err != nil {
					return "", err
				}
				return "", restate.TerminalErrorf("terminallyFailingCall on key %s succeeded; it must fail", key)
			})).
		Handler("failingCallWithEventualSuccess", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, _ restate.Void) (int, error) {
				n := reg.inc("eventual-success/" + restate.Key(ctx))
				if n < EventualSuccessAttempt {
					return 0, fmt.Errorf("planned failure of attempt %d of %d", n, EventualSuccessAttempt)
				}
				return n, nil
			})).
		Handler("terminallyFailingSideEffect", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, f FailureToPropagate) (restate.Void, error) {
				_, err := restate.Run(ctx, func(restate.RunContext) (restate.Void, error) {
					return restate.Void{}, f.terminal()
				})
				if err != nil {
					return restate.Void{}, err
				}
				return restate.Void{}, restate.TerminalErrorf("the failing run succeeded")
			})).
		Handler("sideEffectSucceedsAfterGivenAttempts", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, minimumAttempts int) (int, error) {
				name := "run-succeeds/" + restate.Key(ctx)
				return restate.Run(ctx, func(restate.RunContext) (int, error) {
					n := reg.inc(name)
					if n < minimumAttempts {
						return 0, fmt.Errorf("planned failure of run attempt %d of %d", n, minimumAttempts)
					}
					return n, nil
				}, restate.WithInitialRetryInterval(runRetryInterval), restate.WithRetryIntervalFactor(1))
			})).
		Handler("sideEffectFailsAfterGivenAttempts", restate.NewObjectHandler(
			// The run never succeeds; once its retry budget is spent the SDK turns the
			// failure terminal and the handler reports how many times the run executed.
			func(ctx restate.ObjectContext, maxRetryCount int) (int, error) {
				name := "run-fails/" + restate.Key(ctx)
				_, err := restate.Run(ctx, func(restate.RunContext) (int, error) {
					return 0, fmt.Errorf("planned failure of run attempt %d", reg.inc(name))
				}, restate.WithInitialRetryInterval(runRetryInterval), restate.WithRetryIntervalFactor(1),
					restate.WithMaxRetryAttempts(uint(maxRetryCount)))
				if err == nil {
					return 0, restate.TerminalErrorf("the always failing run succeeded")
				}
				return reg.get(name), nil
			}))
}
