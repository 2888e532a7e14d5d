package wire

import (
	"fmt"
	"strconv"
	"strings"
)

// Protocol versions this package speaks. V5 introduced the command and
// notification journal; V6 added StartMessage.random_seed and failure
// metadata; V7 added Future trees, AwaitingOn, run acks, error behavior and
// scopes.
const (
	MinProtocolVersion = 5
	MaxProtocolVersion = 7
)

// NegotiateVersion picks the protocol version for a deployment whose
// manifest advertises [minVersion, maxVersion]: the highest version both
// sides support.
func NegotiateVersion(minVersion, maxVersion int) (int, error) {
	if minVersion > maxVersion {
		return 0, fmt.Errorf("wire: deployment protocol version range [%d, %d] is empty", minVersion, maxVersion)
	}
	if maxVersion < MinProtocolVersion || minVersion > MaxProtocolVersion {
		return 0, fmt.Errorf("wire: deployment supports service protocol versions [%d, %d], server supports [%d, %d]",
			minVersion, maxVersion, MinProtocolVersion, MaxProtocolVersion)
	}
	return min(maxVersion, MaxProtocolVersion), nil
}

const (
	invocationContentTypePrefix = "application/vnd.restate.invocation.v"
	manifestContentTypePrefix   = "application/vnd.restate.endpointmanifest.v"
	manifestContentTypeSuffix   = "+json"
)

// InvocationContentType returns the content type of the invocation stream
// for protocol version v, e.g. "application/vnd.restate.invocation.v5".
func InvocationContentType(v int) string {
	return invocationContentTypePrefix + strconv.Itoa(v)
}

// ParseInvocationContentType returns the version of an invocation content
// type. Parameters (";…") and surrounding spaces are ignored; the caller
// decides which versions it accepts.
func ParseInvocationContentType(s string) (int, error) {
	return parseVersioned(s, invocationContentTypePrefix, "", "invocation")
}

// ManifestContentType returns the content type of the discovery manifest
// version v, e.g. "application/vnd.restate.endpointmanifest.v3+json".
func ManifestContentType(v int) string {
	return manifestContentTypePrefix + strconv.Itoa(v) + manifestContentTypeSuffix
}

// ParseManifestContentType returns the version of a manifest content type.
func ParseManifestContentType(s string) (int, error) {
	return parseVersioned(s, manifestContentTypePrefix, manifestContentTypeSuffix, "endpoint manifest")
}

func parseVersioned(s, prefix, suffix, what string) (int, error) {
	mediaType := s
	if i := strings.IndexByte(mediaType, ';'); i >= 0 {
		mediaType = mediaType[:i]
	}
	mediaType = strings.TrimSpace(mediaType)
	rest, ok := cutPrefixFold(mediaType, prefix)
	if ok {
		rest, ok = cutSuffixFold(rest, suffix)
	}
	if !ok {
		return 0, fmt.Errorf("wire: %q is not a %s content type (%sN%s)", s, what, prefix, suffix)
	}
	v, err := strconv.Atoi(rest)
	if err != nil || v <= 0 || rest[0] == '+' {
		return 0, fmt.Errorf("wire: %q has an invalid %s version %q", s, what, rest)
	}
	return v, nil
}

// Media types are case-insensitive.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

func cutSuffixFold(s, suffix string) (string, bool) {
	if len(s) < len(suffix) || !strings.EqualFold(s[len(s)-len(suffix):], suffix) {
		return s, false
	}
	return s[:len(s)-len(suffix)], true
}

// Error codes used in ErrorMessage and Failure. Besides HTTP status codes,
// the protocol defines the 57x codes.
const (
	CodeBadRequest           = 400
	CodeNotFound             = 404
	CodeConflict             = 409 // also aborted, killed, canceled
	CodeGone                 = 410
	CodeUnsupportedMediaType = 415
	CodeNotReady             = 470 // "response not ready yet" (get output)
	CodeInternal             = 500
	CodeJournalMismatch      = 570
	CodeProtocolViolation    = 571
	// CodeAwaitingTwoAsyncResults is legacy: awaiting two results at once.
	CodeAwaitingTwoAsyncResults = 572
	CodeUnsupportedFeature      = 573
	// CodeClosed and CodeSuspended stay inside SDKs; they never reach the server.
	CodeClosed    = 598
	CodeSuspended = 599
)
