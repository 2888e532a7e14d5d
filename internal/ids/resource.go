package ids

import (
	"fmt"
	"time"
)

// Restate gives ULID-backed resources ids of the form
// "<resource>_1" + 22 base62 digits of the ULID (with the same byte order
// quirk as the invocation uuid).
const (
	deploymentResource = "dp"
	snapshotResource   = "snap"
)

// NewDeploymentID returns a fresh deployment id, e.g. "dp_14d2…".
func NewDeploymentID() string { return newULIDResourceID(deploymentResource, time.Now()) }

// ValidDeploymentID reports whether s is a well-formed deployment id.
func ValidDeploymentID(s string) bool {
	_, err := ParseDeploymentID(s)
	return err == nil
}

// ParseDeploymentID returns the ULID inside a deployment id.
func ParseDeploymentID(s string) ([16]byte, error) {
	return parseULIDResourceID(s, deploymentResource, "deployment id")
}

// NewSnapshotID returns a fresh partition snapshot id, e.g. "snap_1…".
func NewSnapshotID() string { return newULIDResourceID(snapshotResource, time.Now()) }

// ValidSnapshotID reports whether s is a well-formed snapshot id.
func ValidSnapshotID(s string) bool {
	_, err := parseULIDResourceID(s, snapshotResource, "snapshot id")
	return err == nil
}

func newULIDResourceID(resource string, now time.Time) string {
	hi, lo := encodeUUID(newULID(now))
	buf := make([]byte, 0, len(resource)+2+base62WidthU128)
	buf = append(buf, resource...)
	buf = append(buf, '_', '1')
	buf = appendBase62U128(buf, hi, lo)
	return string(buf)
}

func parseULIDResourceID(s, resource, what string) ([16]byte, error) {
	body, err := cutResourcePrefix(s, resource, what)
	if err != nil {
		return [16]byte{}, err
	}
	hi, lo, err := decodeBase62U128(body)
	if err != nil {
		return [16]byte{}, fmt.Errorf("invalid %s %q: %w", what, s, err)
	}
	return decodeUUID(hi, lo), nil
}
