package server

import (
	"encoding/json"
	"net/http"
	"strings"
)

// spaceErr reports why new work is refused, or nil.
type spaceErr interface{ Err() error }

// refuseWritesWhenDiskLow answers requests that would add work with 503 while the disk is
// nearly full; reads pass. The caller's own error shape is kept: ingress errors carry a code
// and source, admin errors a restate_code.
func refuseWritesWhenDiskLow(h http.Handler, guard spaceErr, isRead func(*http.Request) bool, shape func(msg string) any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isRead(r) {
			h.ServeHTTP(w, r)
			return
		}
		if err := guard.Err(); err != nil {
			w.Header().Set("content-type", "application/json")
			w.Header().Set("retry-after", "5")
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(shape(err.Error()))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ingressRead: attaching to and reading the output of invocations change nothing.
func ingressRead(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodHead
}

// adminRead: listing and SQL queries change nothing; everything else may write metadata or
// records (registrations, invocation operations, state edits).
func adminRead(r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	return r.Method == http.MethodPost && strings.TrimSuffix(r.URL.Path, "/") == "/query"
}

func ingressErrorShape(msg string) any {
	return map[string]any{"code": http.StatusServiceUnavailable, "message": msg, "source": "ingress"}
}

func adminErrorShape(msg string) any {
	return map[string]any{"message": msg, "restate_code": nil}
}
