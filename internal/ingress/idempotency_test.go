package ingress

import (
	"net/http"
	"testing"
)

func TestIdempotencyKeyHeader(t *testing.T) {
	cases := []struct {
		name    string
		header  http.Header
		key     string
		present bool
	}{
		{"absent", http.Header{}, "", false},
		{"empty", http.Header{"Idempotency-Key": {""}}, "", true},
		{"value", http.Header{"Idempotency-Key": {"k1"}}, "k1", true},
		{"repeated: the first counts", http.Header{"Idempotency-Key": {"", "k2"}}, "", true},
	}
	for _, c := range cases {
		key, ok := idempotencyKey(c.header)
		if key != c.key || ok != c.present {
			t.Errorf("%s: got %q %v, want %q %v", c.name, key, ok, c.key, c.present)
		}
	}
}
