package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Bytes travels as a JSON array of numbers, the way the suite's Kotlin client encodes a
// ByteArray: one signed byte (-128..127) per element. Decoding also takes 128..255 so that
// unsigned encoders interoperate.
type Bytes []byte

// MarshalJSON writes the bytes as signed numbers.
func (b Bytes) MarshalJSON() ([]byte, error) {
	if b == nil {
		return []byte("[]"), nil
	}
	var out bytes.Buffer
	out.WriteByte('[')
	for i, v := range b {
		if i > 0 {
			out.WriteByte(',')
		}
		out.WriteString(strconv.Itoa(int(int8(v))))
	}
	out.WriteByte(']')
	return out.Bytes(), nil
}

// UnmarshalJSON reads an array of integers in -128..255; null gives nil.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	var nums []int64
	if err := json.Unmarshal(data, &nums); err != nil {
		return fmt.Errorf("byte array must be a JSON array of numbers: %w", err)
	}
	if nums == nil {
		*b = nil
		return nil
	}
	out := make([]byte, len(nums))
	for i, n := range nums {
		if n < -128 || n > 255 {
			return fmt.Errorf("byte array element %d is %d, want an integer in -128..255", i, n)
		}
		out[i] = byte(n)
	}
	*b = out
	return nil
}
