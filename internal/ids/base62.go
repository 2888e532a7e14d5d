package ids

import (
	"fmt"
	"math/bits"
)

// Restate's base62 alphabet: digits, then lowercase, then uppercase.
const base62Alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// Fixed widths of the base62 encodings: ceil(bits / 6) characters.
const (
	base62WidthU64  = 11
	base62WidthU128 = 22
)

var base62Values = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base62Alphabet); i++ {
		t[base62Alphabet[i]] = int8(i)
	}
	return t
}()

// appendBase62U64 appends v as exactly 11 base62 digits, left-padded with '0'.
func appendBase62U64(dst []byte, v uint64) []byte {
	var buf [base62WidthU64]byte
	for i := len(buf) - 1; i >= 0; i-- {
		buf[i] = base62Alphabet[v%62]
		v /= 62
	}
	return append(dst, buf[:]...)
}

// appendBase62U128 appends the 128-bit value hi:lo as exactly 22 base62
// digits, left-padded with '0'.
func appendBase62U128(dst []byte, hi, lo uint64) []byte {
	var buf [base62WidthU128]byte
	for i := len(buf) - 1; i >= 0; i-- {
		var r uint64
		hi, r = hi/62, hi%62
		lo, r = bits.Div64(r, lo, 62)
		buf[i] = base62Alphabet[r]
	}
	return append(dst, buf[:]...)
}

func base62Digit(c byte, pos int) (uint64, error) {
	d := base62Values[c]
	if d < 0 {
		return 0, fmt.Errorf("invalid base62 character %q at offset %d", c, pos)
	}
	return uint64(d), nil
}

// decodeBase62U64 decodes exactly 11 base62 digits.
func decodeBase62U64(s string) (uint64, error) {
	if len(s) != base62WidthU64 {
		return 0, fmt.Errorf("base62 field has %d characters, want %d", len(s), base62WidthU64)
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		d, err := base62Digit(s[i], i)
		if err != nil {
			return 0, err
		}
		hi, lo := bits.Mul64(v, 62)
		lo, carry := bits.Add64(lo, d, 0)
		if hi != 0 || carry != 0 {
			return 0, fmt.Errorf("base62 field %q overflows 64 bits", s)
		}
		v = lo
	}
	return v, nil
}

// decodeBase62U128 decodes exactly 22 base62 digits into hi:lo.
func decodeBase62U128(s string) (hi, lo uint64, err error) {
	if len(s) != base62WidthU128 {
		return 0, 0, fmt.Errorf("base62 field has %d characters, want %d", len(s), base62WidthU128)
	}
	for i := 0; i < len(s); i++ {
		d, err := base62Digit(s[i], i)
		if err != nil {
			return 0, 0, err
		}
		// (hi:lo)*62 + d, failing on overflow past 128 bits.
		hiOver, hiMul := bits.Mul64(hi, 62)
		loHi, loMul := bits.Mul64(lo, 62)
		newLo, carry := bits.Add64(loMul, d, 0)
		newHi, carry2 := bits.Add64(hiMul, loHi+carry, 0)
		if hiOver != 0 || carry2 != 0 {
			return 0, 0, fmt.Errorf("base62 field %q overflows 128 bits", s)
		}
		hi, lo = newHi, newLo
	}
	return hi, lo, nil
}
