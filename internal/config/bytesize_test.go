package config

import (
	"strings"
	"testing"
)

func TestParseByteSize(t *testing.T) {
	good := map[string]uint64{
		"0": 0, "1048576": 1 << 20, "256 MiB": 256 << 20, "256MiB": 256 << 20, "1 gib": 1 << 30,
		"1.5 GiB": 3 << 29, "2 GB": 2e9, "10kb": 10e3, "64 k": 64 << 10, "512 B": 512,
	}
	for text, want := range good {
		got, err := parseByteSize(text)
		if err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", text, got, err, want)
		}
	}
	for _, text := range []string{"", "MiB", "-1 MiB", "ten MiB", "1e3", "5 parsecs", "99999999999 TiB", "inf", "nan GiB"} {
		if n, err := parseByteSize(text); err == nil {
			t.Errorf("parseByteSize(%q) = %d, want an error", text, n)
		}
	}
}

func TestMinFreeDiskSpace(t *testing.T) {
	o, _ := mustLoad(t, nil, nil)
	if o.MinFreeDiskSpace != 128<<20 {
		t.Fatalf("default = %d", o.MinFreeDiskSpace)
	}
	for env, want := range map[string]uint64{
		"RESTATE_MIN_FREE_DISK_SPACE=1 GiB": 1 << 30,
		"RESTATE_MIN_FREE_DISK_SPACE=4096":  4096,
		"RESTATE_MIN_FREE_DISK_SPACE=0":     0,
	} {
		o, _ := mustLoad(t, nil, []string{env})
		if o.MinFreeDiskSpace != want {
			t.Errorf("%s: got %d, want %d", env, o.MinFreeDiskSpace, want)
		}
	}
	_, _, err := Load(nil, []string{"RESTATE_MIN_FREE_DISK_SPACE=lots"})
	if err == nil || !strings.Contains(err.Error(), "min-free-disk-space") {
		t.Fatalf("bad size: %v, want an error naming the key", err)
	}
	o, _ = mustLoad(t, []string{"--dump-config"}, []string{"RESTATE_MIN_FREE_DISK_SPACE=1 GiB"})
	out, err := o.DumpTOML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `min-free-disk-space = "1 GiB"`) {
		t.Fatalf("dump does not show the size:\n%s", out)
	}
}

func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"256 MiB", "1.5GB", "12", "-3", "1e9 k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseByteSize(s)
		if err != nil {
			return
		}
		// A size formatted back must read as the same size.
		if m, err := parseByteSize(formatByteSize(n)); err != nil || m != n {
			t.Fatalf("%q -> %d -> %q -> %d, %v", s, n, formatByteSize(n), m, err)
		}
	})
}
