package clusterharness

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzIdentityPlainID feeds arbitrary node_id strings from a node's /health: a positive
// result must be the number right after the "N".
func FuzzIdentityPlainID(f *testing.F) {
	for _, s := range []string{"N1:1", "N42:7", "N3", "", "N", "N:1", "N-1:2", "N99999999999999999999:1", "x1:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, nodeID string) {
		id := Identity{NodeID: nodeID}.PlainID()
		if id < 0 {
			t.Fatalf("PlainID(%q) = %d", nodeID, id)
		}
		if id == 0 {
			return
		}
		digits, _, _ := strings.Cut(strings.TrimPrefix(nodeID, "N"), ":")
		if !strings.HasPrefix(nodeID, "N") || strings.TrimLeft(digits, "0") != strconv.Itoa(id) {
			t.Fatalf("PlainID(%q) = %d, not the number after N", nodeID, id)
		}
	})
}
