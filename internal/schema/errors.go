package schema

import (
	"errors"
	"fmt"
	"strings"
)

// ErrorKind classifies schema errors so the admin API can pick a status code.
type ErrorKind int

const (
	// KindInvalid: the request or the discovered manifest is not acceptable (HTTP 400).
	KindInvalid ErrorKind = iota + 1
	// KindNotFound: the deployment or service does not exist (HTTP 404).
	KindNotFound
	// KindConflict: the change clashes with what is registered (HTTP 409).
	KindConflict
	// KindNotImplemented: the operation is not supported (HTTP 501).
	KindNotImplemented
)

// Restate error codes used by schema errors.
const (
	CodeReservedName       = "META0005"
	CodeIncompatibleChange = "META0006"
	CodeBadUpdate          = "META0016"
	CodeAmbiguousEndpoint  = "META0017"
)

// Error is a schema rule violation. Messages follow Restate's wording.
type Error struct {
	Kind ErrorKind
	// Code is the Restate error code, or "".
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// AsError returns the *Error inside err, if any.
func AsError(err error) (*Error, bool) {
	var se *Error
	ok := errors.As(err, &se)
	return se, ok
}

func invalidf(code, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Code: code, Message: fmt.Sprintf(format, args...)}
}

func notFoundf(format string, args ...any) *Error {
	return &Error{Kind: KindNotFound, Message: "not found in the schema registry: " + fmt.Sprintf(format, args...)}
}

// debugList renders names the way Restate prints a Vec<String>: ["a", "b"].
func debugList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
