package workload

import (
	"math"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

func op(client int, call, ret int64, in RegisterInput, out RegisterOutput) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: in, Output: out}
}

func read(key string) RegisterInput           { return RegisterInput{Key: key, Op: OpRead} }
func write(key string, v int64) RegisterInput { return RegisterInput{Key: key, Op: OpWrite, Value: v} }
func cas(key string, expect, v int64) RegisterInput {
	return RegisterInput{Key: key, Op: OpCas, Expect: expect, Value: v}
}
func got(v int64) RegisterOutput     { return RegisterOutput{Value: v} }
func swapped(ok bool) RegisterOutput { return RegisterOutput{Swapped: ok} }

var (
	none    = RegisterOutput{}
	unknown = RegisterOutput{Unknown: true}
	forever = int64(math.MaxInt64)
)

func TestRegisterModel(t *testing.T) {
	cases := []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"sequential write then read", []porcupine.Operation{
			op(0, 0, 10, write("a", 1), none),
			op(1, 20, 30, read("a"), got(1)),
		}, porcupine.Ok},
		{"read of the initial value", []porcupine.Operation{
			op(0, 0, 10, read("a"), got(0)),
		}, porcupine.Ok},
		{"stale read after a completed write", []porcupine.Operation{
			op(0, 0, 10, write("a", 1), none),
			op(1, 20, 30, read("a"), got(0)),
		}, porcupine.Illegal},
		{"read concurrent with a write sees either value", []porcupine.Operation{
			op(0, 0, 50, write("a", 1), none),
			op(1, 10, 20, read("a"), got(0)),
			op(2, 30, 40, read("a"), got(1)),
		}, porcupine.Ok},
		{"reads going back in time", []porcupine.Operation{
			op(0, 0, 100, write("a", 1), none),
			op(1, 10, 20, read("a"), got(1)),
			op(2, 30, 40, read("a"), got(0)),
		}, porcupine.Illegal},
		{"value never written", []porcupine.Operation{
			op(0, 0, 10, write("a", 1), none),
			op(1, 20, 30, read("a"), got(7)),
		}, porcupine.Illegal},
		{"unknown write observed later", []porcupine.Operation{
			op(0, 0, forever, write("a", 5), unknown),
			op(1, 100, 110, read("a"), got(5)),
		}, porcupine.Ok},
		{"unknown write never observed", []porcupine.Operation{
			op(0, 0, forever, write("a", 5), unknown),
			op(1, 100, 110, read("a"), got(0)),
		}, porcupine.Ok},
		{"unknown write cannot take effect before its call", []porcupine.Operation{
			op(1, 0, 10, read("a"), got(5)),
			op(0, 20, forever, write("a", 5), unknown),
		}, porcupine.Illegal},
		{"unknown write observed then lost", []porcupine.Operation{
			op(0, 0, forever, write("a", 5), unknown),
			op(1, 100, 110, read("a"), got(5)),
			op(1, 120, 130, read("a"), got(0)),
		}, porcupine.Illegal},
		{"cas swaps on a match", []porcupine.Operation{
			op(0, 0, 10, write("a", 1), none),
			op(0, 20, 30, cas("a", 1, 2), swapped(true)),
			op(1, 40, 50, read("a"), got(2)),
		}, porcupine.Ok},
		{"cas claims a swap on a mismatch", []porcupine.Operation{
			op(0, 0, 10, write("a", 1), none),
			op(0, 20, 30, cas("a", 3, 2), swapped(true)),
		}, porcupine.Illegal},
		{"cas refuses on a match", []porcupine.Operation{
			op(0, 0, 10, write("a", 1), none),
			op(0, 20, 30, cas("a", 1, 2), swapped(false)),
		}, porcupine.Illegal},
		{"unknown cas may apply", []porcupine.Operation{
			op(0, 0, 10, write("a", 1), none),
			op(0, 20, forever, cas("a", 1, 2), unknown),
			op(1, 40, 50, read("a"), got(2)),
		}, porcupine.Ok},
		{"unknown cas cannot apply on a mismatch", []porcupine.Operation{
			op(0, 0, 10, write("a", 1), none),
			op(0, 20, forever, cas("a", 9, 2), unknown),
			op(1, 40, 50, read("a"), got(2)),
		}, porcupine.Illegal},
		{"keys are independent registers", []porcupine.Operation{
			op(0, 0, 10, write("a", 1), none),
			op(1, 20, 30, read("b"), got(0)),
			op(1, 40, 50, read("a"), got(1)),
		}, porcupine.Ok},
		{"a write to one key does not show in another", []porcupine.Operation{
			op(0, 0, 10, write("a", 1), none),
			op(1, 20, 30, read("b"), got(1)),
		}, porcupine.Illegal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := CheckRegister(RegisterHistory{Ops: tc.ops}, 10*time.Second)
			if res != tc.want {
				t.Fatalf("check = %s, want %s", res, tc.want)
			}
		})
	}
}

// TestRegisterModelLongHistory checks that a long history of concurrent clients with some
// unknown operations still checks quickly, as the cluster tests produce.
func TestRegisterModelLongHistory(t *testing.T) {
	var ops []porcupine.Operation
	var now int64
	value := int64(0)
	for i := range 3000 {
		client := i % 3
		switch i % 5 {
		case 0, 1:
			ops = append(ops, op(client, now, now+15, read("a"), got(value)))
		case 2, 3:
			value = int64(i + 1)
			ops = append(ops, op(client, now, now+15, write("a", value), none))
		default:
			if i%50 == 4 {
				ops = append(ops, op(client, now, forever, write("a", -int64(i)), unknown))
			} else {
				ops = append(ops, op(client, now, now+15, cas("a", value, value+1_000_000), swapped(true)))
				value += 1_000_000
			}
		}
		now += 10
	}
	start := time.Now()
	res, _ := CheckRegister(RegisterHistory{Ops: ops}, 30*time.Second)
	if res != porcupine.Ok {
		t.Fatalf("check = %s, want Ok", res)
	}
	t.Logf("checked %d operations in %s", len(ops), time.Since(start))
}
