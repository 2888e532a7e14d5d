package conformance

import (
	"errors"
	"os"
	"strings"
	"time"

	restate "github.com/restatedev/sdk-go"
)

// ResolveSignalRequest asks TestUtilsService/resolveSignal to complete a named signal of
// another invocation with a value.
type ResolveSignalRequest struct {
	InvocationID string `json:"invocationId"`
	SignalName   string `json:"signalName"`
	Value        string `json:"value"`
}

// RejectSignalRequest asks TestUtilsService/rejectSignal to fail a named signal.
type RejectSignalRequest struct {
	InvocationID string `json:"invocationId"`
	SignalName   string `json:"signalName"`
	Reason       string `json:"reason"`
}

// testUtilsService is the suite's TestUtilsService: small utilities and corner cases.
func testUtilsService() restate.ServiceDefinition {
	return restate.NewService("TestUtilsService").
		Handler("echo", restate.NewServiceHandler(
			func(ctx restate.Context, in string) (string, error) { return in, nil })).
		Handler("uppercaseEcho", restate.NewServiceHandler(
			func(ctx restate.Context, in string) (string, error) { return strings.ToUpper(in), nil })).
		Handler("echoHeaders", restate.NewServiceHandler(
			func(ctx restate.Context, _ restate.Void) (map[string]string, error) {
				return ctx.Request().Headers.ToMap(), nil
			})).
		Handler("rawEcho", restate.NewServiceHandler(
			func(ctx restate.Context, in []byte) ([]byte, error) { return in, nil },
			restate.WithBinary)).
		Handler("sleepConcurrently", restate.NewServiceHandler(
			func(ctx restate.Context, millis []int64) (restate.Void, error) {
				timers := make([]restate.Future, len(millis))
				for i, ms := range millis {
					timers[i] = restate.After(ctx, time.Duration(ms)*time.Millisecond)
				}
				for _, err := range restate.Wait(ctx, timers...) {
					if err != nil {
						return restate.Void{}, err
					}
				}
				return restate.Void{}, nil
			})).
		Handler("countExecutedSideEffects", restate.NewServiceHandler(
			// The counter is a local variable: a replayed run does not execute its closure,
			// so the answer counts only the runs executed by the final attempt. A server
			// that makes the SDK wait for each run's acknowledgement (always suspending)
			// therefore yields 0.
			func(ctx restate.Context, increments int) (int, error) {
				executed := 0
				for range increments {
					if _, err := restate.Run(ctx, func(restate.RunContext) (restate.Void, error) {
						executed++
						return restate.Void{}, nil
					}); err != nil {
						return 0, err
					}
				}
				return executed, nil
			})).
		Handler("getEnvVariable", restate.NewServiceHandler(
			func(ctx restate.Context, name string) (string, error) {
				return restate.Run(ctx, func(restate.RunContext) (string, error) { return os.Getenv(name), nil })
			})).
		Handler("cancelInvocation", restate.NewServiceHandler(
			func(ctx restate.Context, invocationID string) (restate.Void, error) {
				restate.CancelInvocation(ctx, invocationID)
				return restate.Void{}, nil
			})).
		Handler("resolveSignal", restate.NewServiceHandler(
			func(ctx restate.Context, req ResolveSignalRequest) (restate.Void, error) {
				restate.ResolveSignal(ctx, req.InvocationID, req.SignalName, req.Value)
				return restate.Void{}, nil
			})).
		Handler("rejectSignal", restate.NewServiceHandler(
			func(ctx restate.Context, req RejectSignalRequest) (restate.Void, error) {
				restate.RejectSignal(ctx, req.InvocationID, req.SignalName, errors.New(req.Reason))
				return restate.Void{}, nil
			}))
}
