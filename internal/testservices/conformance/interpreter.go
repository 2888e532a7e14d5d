package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	restate "github.com/restatedev/sdk-go"
)

// The "type" values of the suite's VirtualObjectCommandInterpreter contract.
const (
	// Awaitable commands.
	TypeCreateAwakeable           = "createAwakeable"
	TypeSleep                     = "sleep"
	TypeRunThrowTerminalException = "runThrowTerminalException"
	TypeRunReturns                = "runReturns"
	TypeCreateSignal              = "createSignal"

	// Top-level commands.
	TypeAwaitOne                       = "awaitOne"
	TypeAwaitAny                       = "awaitAny"
	TypeAwaitAnySuccessful             = "awaitAnySuccessful"
	TypeAwaitFirstCompleted            = "awaitFirstCompleted"
	TypeAwaitFirstSucceededOrAllFailed = "awaitFirstSucceededOrAllFailed"
	TypeAwaitAllSucceededOrFirstFailed = "awaitAllSucceededOrFirstFailed"
	TypeAwaitAllCompleted              = "awaitAllCompleted"
	TypeAwaitAwakeableOrTimeout        = "awaitAwakeableOrTimeout"
	TypeResolveAwakeable               = "resolveAwakeable"
	TypeRejectAwakeable                = "rejectAwakeable"
	TypeGetEnvVariable                 = "getEnvVariable"
)

// AwaitableCommand creates something that completes later: an awakeable, a timer, a run or
// a signal. Which fields matter depends on Type.
type AwaitableCommand struct {
	Type          string `json:"type"`
	AwakeableKey  string `json:"awakeableKey"`
	TimeoutMillis int64  `json:"timeoutMillis"`
	Reason        string `json:"reason"`
	Value         string `json:"value"`
	SignalName    string `json:"signalName"`
}

// MarshalJSON writes only the fields of the command's type, as the suite does.
func (c AwaitableCommand) MarshalJSON() ([]byte, error) {
	m := map[string]any{"type": c.Type}
	switch c.Type {
	case TypeCreateAwakeable:
		m["awakeableKey"] = c.AwakeableKey
	case TypeSleep:
		m["timeoutMillis"] = c.TimeoutMillis
	case TypeRunThrowTerminalException:
		m["reason"] = c.Reason
	case TypeRunReturns:
		m["value"] = c.Value
	case TypeCreateSignal:
		m["signalName"] = c.SignalName
	default:
		return nil, fmt.Errorf("unknown awaitable command type %q", c.Type)
	}
	return json.Marshal(m)
}

// Command is one step of VirtualObjectCommandInterpreter/interpretCommands.
type Command struct {
	Type          string             `json:"type"`
	Command       *AwaitableCommand  `json:"command"`
	Commands      []AwaitableCommand `json:"commands"`
	AwakeableKey  string             `json:"awakeableKey"`
	TimeoutMillis int64              `json:"timeoutMillis"`
	Value         string             `json:"value"`
	Reason        string             `json:"reason"`
	EnvName       string             `json:"envName"`
}

// MarshalJSON writes only the fields of the command's type, as the suite does.
func (c Command) MarshalJSON() ([]byte, error) {
	m := map[string]any{"type": c.Type}
	switch c.Type {
	case TypeAwaitOne:
		m["command"] = c.Command
	case TypeAwaitAny, TypeAwaitAnySuccessful, TypeAwaitFirstCompleted, TypeAwaitFirstSucceededOrAllFailed,
		TypeAwaitAllSucceededOrFirstFailed, TypeAwaitAllCompleted:
		cmds := c.Commands
		if cmds == nil {
			cmds = []AwaitableCommand{}
		}
		m["commands"] = cmds
	case TypeAwaitAwakeableOrTimeout:
		m["awakeableKey"] = c.AwakeableKey
		m["timeoutMillis"] = c.TimeoutMillis
	case TypeResolveAwakeable:
		m["awakeableKey"] = c.AwakeableKey
		m["value"] = c.Value
	case TypeRejectAwakeable:
		m["awakeableKey"] = c.AwakeableKey
		m["reason"] = c.Reason
	case TypeGetEnvVariable:
		m["envName"] = c.EnvName
	default:
		return nil, fmt.Errorf("unknown command type %q", c.Type)
	}
	return json.Marshal(m)
}

// InterpretRequest is the input of interpretCommands.
type InterpretRequest struct {
	Commands []Command `json:"commands"`
}

// AwakeableRequest is the input of the interpreter's resolveAwakeable and rejectAwakeable
// shared handlers.
type AwakeableRequest struct {
	AwakeableKey string `json:"awakeableKey"`
	Value        string `json:"value,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

// Constructors for the commands, so tests read like the suite's scenarios.

func CreateAwakeable(key string) AwaitableCommand {
	return AwaitableCommand{Type: TypeCreateAwakeable, AwakeableKey: key}
}
func SleepFor(millis int64) AwaitableCommand {
	return AwaitableCommand{Type: TypeSleep, TimeoutMillis: millis}
}
func RunThrowTerminalException(reason string) AwaitableCommand {
	return AwaitableCommand{Type: TypeRunThrowTerminalException, Reason: reason}
}
func RunReturns(value string) AwaitableCommand {
	return AwaitableCommand{Type: TypeRunReturns, Value: value}
}
func CreateSignal(name string) AwaitableCommand {
	return AwaitableCommand{Type: TypeCreateSignal, SignalName: name}
}
func AwaitOne(c AwaitableCommand) Command { return Command{Type: TypeAwaitOne, Command: &c} }
func AwaitAny(cs ...AwaitableCommand) Command {
	return Command{Type: TypeAwaitAny, Commands: cs}
}
func AwaitAnySuccessful(cs ...AwaitableCommand) Command {
	return Command{Type: TypeAwaitAnySuccessful, Commands: cs}
}
func AwaitFirstCompleted(cs ...AwaitableCommand) Command {
	return Command{Type: TypeAwaitFirstCompleted, Commands: cs}
}
func AwaitFirstSucceededOrAllFailed(cs ...AwaitableCommand) Command {
	return Command{Type: TypeAwaitFirstSucceededOrAllFailed, Commands: cs}
}
func AwaitAllSucceededOrFirstFailed(cs ...AwaitableCommand) Command {
	return Command{Type: TypeAwaitAllSucceededOrFirstFailed, Commands: cs}
}
func AwaitAllCompleted(cs ...AwaitableCommand) Command {
	return Command{Type: TypeAwaitAllCompleted, Commands: cs}
}
func AwaitAwakeableOrTimeout(key string, millis int64) Command {
	return Command{Type: TypeAwaitAwakeableOrTimeout, AwakeableKey: key, TimeoutMillis: millis}
}
func ResolveAwakeableCommand(key, value string) Command {
	return Command{Type: TypeResolveAwakeable, AwakeableKey: key, Value: value}
}
func RejectAwakeableCommand(key, reason string) Command {
	return Command{Type: TypeRejectAwakeable, AwakeableKey: key, Reason: reason}
}
func GetEnvVariable(name string) Command { return Command{Type: TypeGetEnvVariable, EnvName: name} }

// AwaitTimeoutMessage is the terminal error message of a timed out awaitAwakeableOrTimeout.
const AwaitTimeoutMessage = "await-timeout"

const resultsKey = "results"

func awakeableStateKey(key string) string { return "awk-" + key }

// pending is a started awaitable command and a way to read its outcome once it completed.
type pending struct {
	future restate.Future
	result func() (string, restate.TerminalError)
}

func start(ctx restate.ObjectContext, c AwaitableCommand) (pending, error) {
	switch c.Type {
	case TypeCreateAwakeable:
		awk := restate.Awakeable[string](ctx)
		restate.Set(ctx, awakeableStateKey(c.AwakeableKey), awk.Id())
		return pending{awk, awk.Result}, nil
	case TypeSleep:
		timer := restate.After(ctx, time.Duration(c.TimeoutMillis)*time.Millisecond)
		return pending{timer, func() (string, restate.TerminalError) { return "sleep", timer.Done() }}, nil
	case TypeRunThrowTerminalException:
		run := restate.RunAsync(ctx, func(restate.RunContext) (string, error) {
			return "", restate.TerminalErrorf("%s", c.Reason)
		})
		return pending{run, run.Result}, nil
	case TypeRunReturns:
		run := restate.RunAsync(ctx, func(restate.RunContext) (string, error) { return c.Value, nil })
		return pending{run, run.Result}, nil
	case TypeCreateSignal:
		sig := restate.Signal[string](ctx, c.SignalName)
		return pending{sig, sig.Result}, nil
	default:
		return pending{}, restate.TerminalErrorf("unknown awaitable command type %q", c.Type)
	}
}

func startAll(ctx restate.ObjectContext, cs []AwaitableCommand) ([]pending, []restate.Future, error) {
	ps := make([]pending, len(cs))
	futs := make([]restate.Future, len(cs))
	for i, c := range cs {
		p, err := start(ctx, c)
		if err != nil {
			return nil, nil, err
		}
		ps[i], futs[i] = p, p.future
	}
	return ps, futs, nil
}

func indexOf(futs []restate.Future, f restate.Future) int {
	for i, g := range futs {
		if g == f {
			return i
		}
	}
	panic("a completed future is not among the awaited ones")
}

// firstCompleted answers with the outcome of whichever command completes first.
func firstCompleted(ctx restate.ObjectContext, cs []AwaitableCommand) (string, error) {
	ps, futs, err := startAll(ctx, cs)
	if err != nil {
		return "", err
	}
	winner, cerr := restate.WaitFirst(ctx, futs...)
	if cerr != nil {
		return "", cerr
	}
	return ps[indexOf(futs, winner)].result()
}

// firstSucceeded answers with the first successful outcome, or the last failure when all
// commands fail.
func firstSucceeded(ctx restate.ObjectContext, cs []AwaitableCommand) (string, error) {
	ps, futs, err := startAll(ctx, cs)
	if err != nil {
		return "", err
	}
	var last restate.TerminalError
	it := restate.WaitIter(ctx, futs...)
	for it.Next() {
		v, err := ps[indexOf(futs, it.Value())].result()
		if err == nil {
			return v, nil
		}
		last = err
	}
	if err := it.Err(); err != nil {
		return "", err
	}
	if last == nil {
		return "", restate.TerminalErrorf("no commands to await")
	}
	return "", last
}

// allSucceeded joins all outcomes in command order with "|", failing on the first failure.
func allSucceeded(ctx restate.ObjectContext, cs []AwaitableCommand) (string, error) {
	ps, futs, err := startAll(ctx, cs)
	if err != nil {
		return "", err
	}
	for f, err := range restate.Wait(ctx, futs...) {
		if err != nil {
			return "", err
		}
		if _, err := ps[indexOf(futs, f)].result(); err != nil {
			return "", err
		}
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i], _ = p.result()
	}
	return strings.Join(out, "|"), nil
}

// allCompleted waits for every command and joins "ok:<value>" or "err:<message>" in
// command order with "|".
func allCompleted(ctx restate.ObjectContext, cs []AwaitableCommand) (string, error) {
	ps, futs, err := startAll(ctx, cs)
	if err != nil {
		return "", err
	}
	for _, err := range restate.Wait(ctx, futs...) {
		if err != nil {
			return "", err
		}
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		if v, err := p.result(); err != nil {
			out[i] = "err:" + err.Message()
		} else {
			out[i] = "ok:" + v
		}
	}
	return strings.Join(out, "|"), nil
}

func heldAwakeable(ctx restate.ObjectSharedContext, key string) (string, error) {
	id, err := restate.Get[*string](ctx, awakeableStateKey(key))
	if err != nil {
		return "", err
	}
	if id == nil {
		return "", restate.TerminalErrorf("no awakeable was created under key %q", key)
	}
	return *id, nil
}

func interpret(ctx restate.ObjectContext, c Command) (string, error) {
	switch c.Type {
	case TypeAwaitOne:
		if c.Command == nil {
			return "", restate.TerminalErrorf("awaitOne without a command")
		}
		p, err := start(ctx, *c.Command)
		if err != nil {
			return "", err
		}
		return p.result()
	case TypeAwaitAny, TypeAwaitFirstCompleted:
		return firstCompleted(ctx, c.Commands)
	case TypeAwaitAnySuccessful, TypeAwaitFirstSucceededOrAllFailed:
		return firstSucceeded(ctx, c.Commands)
	case TypeAwaitAllSucceededOrFirstFailed:
		return allSucceeded(ctx, c.Commands)
	case TypeAwaitAllCompleted:
		return allCompleted(ctx, c.Commands)
	case TypeAwaitAwakeableOrTimeout:
		awk := restate.Awakeable[string](ctx)
		restate.Set(ctx, awakeableStateKey(c.AwakeableKey), awk.Id())
		timer := restate.After(ctx, time.Duration(c.TimeoutMillis)*time.Millisecond)
		winner, err := restate.WaitFirst(ctx, awk, timer)
		if err != nil {
			return "", err
		}
		if winner == restate.Future(timer) {
			return "", restate.TerminalErrorf("%s", AwaitTimeoutMessage)
		}
		return awk.Result()
	case TypeResolveAwakeable:
		id, err := heldAwakeable(ctx, c.AwakeableKey)
		if err != nil {
			return "", err
		}
		restate.ResolveAwakeable(ctx, id, c.Value)
		return "", nil
	case TypeRejectAwakeable:
		id, err := heldAwakeable(ctx, c.AwakeableKey)
		if err != nil {
			return "", err
		}
		restate.RejectAwakeable(ctx, id, errors.New(c.Reason))
		return "", nil
	case TypeGetEnvVariable:
		return restate.Run(ctx, func(restate.RunContext) (string, error) { return os.Getenv(c.EnvName), nil })
	default:
		return "", restate.TerminalErrorf("unknown command type %q", c.Type)
	}
}

// interpreterService is the suite's VirtualObjectCommandInterpreter: it runs a list of
// commands, appends each command's result to the "results" state and answers with the last.
func interpreterService() restate.ServiceDefinition {
	return restate.NewObject("VirtualObjectCommandInterpreter").
		Handler("interpretCommands", restate.NewObjectHandler(
			func(ctx restate.ObjectContext, req InterpretRequest) (string, error) {
				last := ""
				for _, c := range req.Commands {
					out, err := interpret(ctx, c)
					if err != nil {
						return "", err
					}
					results, err := restate.Get[[]string](ctx, resultsKey)
					if err != nil {
						return "", err
					}
					restate.Set(ctx, resultsKey, append(results, out))
					last = out
				}
				return last, nil
			})).
		Handler("resolveAwakeable", restate.NewObjectSharedHandler(
			func(ctx restate.ObjectSharedContext, req AwakeableRequest) (restate.Void, error) {
				id, err := heldAwakeable(ctx, req.AwakeableKey)
				if err != nil {
					return restate.Void{}, err
				}
				restate.ResolveAwakeable(ctx, id, req.Value)
				return restate.Void{}, nil
			})).
		Handler("rejectAwakeable", restate.NewObjectSharedHandler(
			func(ctx restate.ObjectSharedContext, req AwakeableRequest) (restate.Void, error) {
				id, err := heldAwakeable(ctx, req.AwakeableKey)
				if err != nil {
					return restate.Void{}, err
				}
				restate.RejectAwakeable(ctx, id, errors.New(req.Reason))
				return restate.Void{}, nil
			})).
		Handler("hasAwakeable", restate.NewObjectSharedHandler(
			func(ctx restate.ObjectSharedContext, key string) (bool, error) {
				id, err := restate.Get[*string](ctx, awakeableStateKey(key))
				return id != nil, err
			})).
		// Not part of the suite's contract: lets a test complete an awakeable through the
		// ingress's /restate/awakeables API, which needs the id.
		Handler("awakeableId", restate.NewObjectSharedHandler(
			func(ctx restate.ObjectSharedContext, key string) (string, error) {
				return heldAwakeable(ctx, key)
			})).
		Handler("getResults", restate.NewObjectSharedHandler(
			func(ctx restate.ObjectSharedContext, _ restate.Void) ([]string, error) {
				return nonNil(restate.Get[[]string](ctx, resultsKey))
			}))
}
