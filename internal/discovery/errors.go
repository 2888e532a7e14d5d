package discovery

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind classifies why a discovery failed.
type Kind int

const (
	// KindUnreachable: the request did not get an HTTP response (refused, timed out, TLS, ...).
	KindUnreachable Kind = iota + 1
	// KindHTTP11Only: an h2c request reached a server that only speaks HTTP/1.1.
	KindHTTP11Only
	// KindBadStatus: the deployment answered with a non-2xx status.
	KindBadStatus
	// KindBadResponse: the answer is not a Restate endpoint manifest (content type, size, ...).
	KindBadResponse
	// KindDecode: the body is not a valid manifest.
	KindDecode
	// KindUnsupportedProtocol: the deployment's service protocol range does not overlap ours.
	KindUnsupportedProtocol
	// KindBidiNotSupported: the deployment wants bidirectional streaming over a transport
	// that cannot carry it.
	KindBidiNotSupported
)

// Restate error codes attached to discovery failures (docs.restate.dev/references/errors).
const (
	CodeDiscoveryFailed     = "META0003"
	CodeUnsupportedProtocol = "META0012"
	CodeBadResponse         = "META0013"
	CodeHTTP11Only          = "META0014"
	CodeBidiNotSupported    = "META0015"
)

// Error is returned by Client.Discover and ParseManifest. Its message follows Restate's wording
// where Restate has one; RestateCode gives the code the admin API reports with it.
type Error struct {
	Kind Kind
	// URL is the discover URL that was requested (empty for ParseManifest errors).
	URL string
	// StatusCode is set for KindBadStatus.
	StatusCode int
	Err        error
	msg        string
}

func (e *Error) Error() string {
	if e.URL != "" && e.Kind != KindBadStatus && e.Kind != KindUnreachable && e.Kind != KindHTTP11Only {
		return fmt.Sprintf("%s (discovering %s)", e.msg, e.URL)
	}
	return e.msg
}

func (e *Error) Unwrap() error { return e.Err }

// RestateCode is the Restate error code for this failure, or "" when Restate reports none.
func (e *Error) RestateCode() string {
	switch e.Kind {
	case KindUnreachable, KindBadStatus:
		return CodeDiscoveryFailed
	case KindHTTP11Only:
		return CodeHTTP11Only
	case KindBadResponse:
		return CodeBadResponse
	case KindUnsupportedProtocol:
		return CodeUnsupportedProtocol
	case KindBidiNotSupported:
		return CodeBidiNotSupported
	}
	return ""
}

// AsError returns the *Error inside err, if any.
func AsError(err error) (*Error, bool) {
	var de *Error
	ok := errors.As(err, &de)
	return de, ok
}

func badResponse(msg string) *Error {
	return &Error{Kind: KindBadResponse, msg: "received a bad response from the SDK: " + msg}
}

// snippetLimit bounds how much of a deployment's answer ends up in an error message. The
// message is shown to whoever registers the deployment and logged, so it carries a short,
// one-line excerpt only: enough to recognise an HTML error page or a proxy's complaint, not
// enough to relay a whole internal page through the admin API.
const snippetLimit = 256

// snippet is a sanitized, bounded excerpt of a response body: invalid UTF-8 and control
// characters become spaces, runs of white space one space, and a long body is cut at a rune
// boundary with the number of bytes left out.
func snippet(body []byte) string {
	var b strings.Builder
	space := false
	n := 0
	for i := 0; i < len(body); {
		r, size := utf8.DecodeRune(body[i:])
		if (r == utf8.RuneError && size == 1) || unicode.IsControl(r) || unicode.IsSpace(r) ||
			!unicode.IsPrint(r) {
			r = ' '
		}
		if r == ' ' {
			if space || b.Len() == 0 {
				i += size
				continue
			}
			space = true
		} else {
			space = false
		}
		if n+size > snippetLimit {
			out := strings.TrimRight(b.String(), " ")
			return fmt.Sprintf("%s... (%d more bytes)", out, len(body)-i)
		}
		b.WriteRune(r)
		n += size
		i += size
	}
	return strings.TrimRight(b.String(), " ")
}
