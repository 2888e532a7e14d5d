package config

import (
	"fmt"
	"strconv"
	"strings"
)

// byteUnits are the suffixes a size may carry, as Restate writes sizes ("256 MiB", "1 GB").
var byteUnits = []struct {
	suffix string
	factor uint64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30},
	{"b", 1},
}

// parseByteSize reads a size: an integer number of bytes, or a number (with an optional
// fraction) followed by a unit, case-insensitive, with or without a space between.
func parseByteSize(text string) (uint64, error) {
	t := strings.ToLower(strings.TrimSpace(text))
	if t == "" {
		return 0, fmt.Errorf("empty size")
	}
	num, factor := t, uint64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			num, factor = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.factor
			break
		}
	}
	if n, err := strconv.ParseUint(num, 10, 64); err == nil {
		if factor != 1 && n > ^uint64(0)/factor {
			return 0, fmt.Errorf("%q is too large", text)
		}
		return n * factor, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || num == "" || strings.ContainsAny(num, "einx") {
		return 0, fmt.Errorf("%q is not a size (examples: 268435456, \"256 MiB\", \"1 GB\")", text)
	}
	v := f * float64(factor)
	if v >= 1<<64 {
		return 0, fmt.Errorf("%q is too large", text)
	}
	return uint64(v), nil
}

// formatByteSize renders n in the largest binary unit that divides it.
func formatByteSize(n uint64) string {
	for _, u := range []struct {
		name   string
		factor uint64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.factor && n%u.factor == 0 {
			return fmt.Sprintf("%d %s", n/u.factor, u.name)
		}
	}
	return strconv.FormatUint(n, 10)
}

// byteSizeField is a size in bytes, written as an integer or as text with a unit.
func byteSizeField(key string, ptr func(*Options) *uint64) *field {
	return &field{
		key: key,
		set: func(l *loader, in input) error {
			if s, ok := in.v.(string); ok {
				n, err := parseByteSize(s)
				if err != nil {
					return err
				}
				*ptr(l.opts) = n
				return nil
			}
			n, err := convertUint(in)
			if err != nil {
				return fmt.Errorf("expected a size, got %s", describe(in.v))
			}
			*ptr(l.opts) = n
			return nil
		},
		dump: func(o *Options) (string, bool) {
			n := *ptr(o)
			if s := formatByteSize(n); s != strconv.FormatUint(n, 10) {
				return tomlString(s), true
			}
			return strconv.FormatUint(n, 10), true
		},
	}
}
