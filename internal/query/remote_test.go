package query

import (
	"math"
	"reflect"
	"testing"
	"time"
)

var remoteSampleRows = []Row{
	{String("inv_1"), Uint(math.MaxUint64), Uint32(math.MaxUint32), Int(-7), Float(2.5), Bool(true), Bytes([]byte{0, 255}), Timestamp(1700000000000), Duration(time.Hour), Null},
	{String(""), Uint(0), Uint32(0), Int(math.MinInt64), Float(math.Inf(-1)), Bool(false), Bytes(nil), Timestamp(0), Duration(0), Null},
}

func encodeSampleResult(t testing.TB, rows []Row, refused []Refusal) []byte {
	w := NewResultWriter(10)
	for _, r := range rows {
		if err := w.AddRow(r); err != nil {
			t.Fatal(err)
		}
	}
	return w.Finish(refused)
}

func TestScanResultRoundTrip(t *testing.T) {
	refused := []Refusal{{Partition: 3, Leader: 2}, {Partition: 65535}}
	b := encodeSampleResult(t, remoteSampleRows, refused)
	got, err := DecodeScanResult(b, 10)
	if err != nil || !reflect.DeepEqual(got.Rows, remoteSampleRows) || !reflect.DeepEqual(got.Refused, refused) {
		t.Fatalf("got %+v, %v", got, err)
	}
	if _, err := DecodeScanResult(b, 9); err == nil {
		t.Error("rows of 10 columns decoded as 9")
	}
	if err := NewResultWriter(9).AddRow(remoteSampleRows[0]); err == nil {
		t.Error("a row wider than the table was encoded")
	}
	for i := range b {
		if _, err := DecodeScanResult(b[:i], 10); err == nil {
			t.Fatalf("truncated to %d bytes: no error", i)
		}
	}
	empty, err := DecodeScanResult(NewResultWriter(10).Finish(nil), 10)
	if err != nil || len(empty.Rows) != 0 || len(empty.Refused) != 0 {
		t.Fatalf("empty result: %+v, %v", empty, err)
	}
}

func TestScanRequestRoundTrip(t *testing.T) {
	r := &ScanRequest{Table: "sys_invocation", AllowFollower: true, Partitions: []uint16{0, 3, 65535},
		Filters: []Equality{{Column: "id", Values: []Value{String("inv_1"), Null}}, {Column: "x", Values: []Value{}}}}
	got, err := DecodeScanRequest(r.Encode())
	if err != nil {
		t.Fatal(err)
	}
	// An empty value list stays a filter that matches nothing, not a missing filter.
	if got.Table != r.Table || !got.AllowFollower || !reflect.DeepEqual(got.Partitions, r.Partitions) || len(got.Filters) != 2 ||
		!reflect.DeepEqual(got.Filters[0], r.Filters[0]) || got.Filters[1].Column != "x" || len(got.Filters[1].Values) != 0 {
		t.Fatalf("got %+v", got)
	}
	if _, err := DecodeScanRequest(append(r.Encode(), 0)); err == nil {
		t.Error("trailing byte accepted")
	}
	if _, err := DecodeScanRequest([]byte{9}); err == nil {
		t.Error("unknown format accepted")
	}
}

// FuzzDecodeRemote: bytes from another node never crash the decoders, and whatever decodes
// survives a round trip (varints may arrive in a longer form than ours, so the check compares
// our own encodings).
func FuzzDecodeRemote(f *testing.F) {
	f.Add(encodeSampleResult(f, remoteSampleRows, []Refusal{{Partition: 1, Leader: 3}}))
	f.Add((&ScanRequest{Table: "state", Partitions: []uint16{1}, Filters: []Equality{{Column: "service_key", Values: []Value{String("k")}}}}).Encode())
	f.Add([]byte{1, 10, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		if res, err := DecodeScanResult(b, 10); err == nil {
			once := encodeSampleResult(t, res.Rows, res.Refused)
			again, err := DecodeScanResult(once, 10)
			if err != nil {
				t.Fatalf("our own encoding does not decode: %v", err)
			}
			if twice := encodeSampleResult(t, again.Rows, again.Refused); string(twice) != string(once) {
				t.Fatalf("result changes in a round trip: %x vs %x", twice, once)
			}
		}
		if r, err := DecodeScanRequest(b); err == nil {
			once := r.Encode()
			again, err := DecodeScanRequest(once)
			if err != nil {
				t.Fatalf("our own encoding does not decode: %v", err)
			}
			if twice := again.Encode(); string(twice) != string(once) {
				t.Fatalf("request changes in a round trip: %x vs %x", twice, once)
			}
		}
	})
}
