package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestQueryEngineOptions(t *testing.T) {
	o, _ := mustLoad(t, nil, nil)
	if q := o.Admin.QueryEngine; q.MemorySize != 256<<20 || q.QueryTimeout != time.Minute {
		t.Fatalf("defaults = %+v", q)
	}
	o, warnings := mustLoad(t, nil, []string{
		"RESTATE_ADMIN__QUERY_ENGINE__MEMORY_SIZE=64 MiB",
		"RESTATE_ADMIN__QUERY_ENGINE__QUERY_TIMEOUT=10s",
	})
	if q := o.Admin.QueryEngine; q.MemorySize != 64<<20 || q.QueryTimeout != 10*time.Second {
		t.Fatalf("from env = %+v", q)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}

	// A Restate configuration file's [admin.query-engine] table: memory-size applies, the
	// DataFusion-only keys warn, a typo fails.
	dir := t.TempDir()
	file := filepath.Join(dir, "restate.toml")
	write := func(body string) {
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("[admin.query-engine]\nmemory-size = \"1.0 GiB\"\ntmp-dir = \"/tmp/x\"\nquery-parallelism = 4\n")
	o, warnings = mustLoad(t, []string{"--config-file", file}, nil)
	if o.Admin.QueryEngine.MemorySize != 1<<30 {
		t.Errorf("memory-size from file = %d", o.Admin.QueryEngine.MemorySize)
	}
	if w := strings.Join(warnings, "\n"); !strings.Contains(w, "admin.query-engine.tmp-dir") || !strings.Contains(w, "admin.query-engine.query-parallelism") {
		t.Errorf("warnings = %v", warnings)
	}
	write("[admin.query-engine]\nmemory-sise = \"1 GiB\"\n")
	if _, _, err := Load([]string{"--config-file", file}, nil); err == nil || !strings.Contains(err.Error(), "admin.query-engine.memory-sise") {
		t.Errorf("typo: %v", err)
	}

	for env, want := range map[string]string{
		"RESTATE_ADMIN__QUERY_ENGINE__MEMORY_SIZE=0":        "must be at least 1 MiB",
		"RESTATE_ADMIN__QUERY_ENGINE__MEMORY_SIZE=lots":     "not a size",
		"RESTATE_ADMIN__QUERY_ENGINE__QUERY_TIMEOUT=0s":     "must not be zero",
		"RESTATE_ADMIN__QUERY_ENGINE__QUERY_TIMEOUT=sooner": "admin.query-engine.query-timeout",
	} {
		if _, _, err := Load(nil, []string{env}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", env, err, want)
		}
	}

	o, _ = mustLoad(t, []string{"--dump-config"}, nil)
	out, err := o.DumpTOML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "[admin.query-engine]\nmemory-size = \"256 MiB\"\nquery-timeout = \"1m\"") {
		t.Errorf("dump lacks the query engine table:\n%s", out)
	}
}
