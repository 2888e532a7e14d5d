// Package authn guards the admin and ingress APIs with bearer tokens.
//
// Tokens come from an inline list in the configuration and/or a token file with one token
// per line. The file is re-read when it changes (checked at most once a second, on the
// request path, so no goroutine has to be stopped), which lets operators rotate tokens
// without a restart: add the new token, move the clients over, remove the old one. A file
// that cannot be read when the server starts is an error; one that becomes unreadable or
// invalid later keeps the last good list, and the problem is logged.
//
// Tokens are compared in constant time over their SHA-256 digests, so neither the content
// nor the length of a valid token leaks through timing, and every configured token is
// compared on every request.
package authn

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MaxTokenFileSize bounds a token file; anything larger is a mistake (a wrong path).
const MaxTokenFileSize = 1 << 20

// redactedPlaceholder is what --dump-config prints for secrets; a dumped configuration fed
// back to the server must not make it a valid token.
const redactedPlaceholder = "[redacted]"

// ParseTokens reads a token file: one token per line; blank lines and lines whose first
// non-blank character is '#' are skipped; surrounding white space (and a UTF-8 byte order
// mark) is ignored. A token is printable ASCII without spaces, which is what fits after
// "Bearer " in an Authorization header. Errors name the line but never repeat its text,
// since it may be a secret. Duplicates are dropped.
func ParseTokens(data []byte) ([]string, error) {
	if len(data) > MaxTokenFileSize {
		return nil, fmt.Errorf("the file is larger than %d bytes", MaxTokenFileSize)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var tokens []string
	seen := map[string]bool{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if err := checkToken(line); err != nil {
			return nil, fmt.Errorf("line %d: %v", i+1, err)
		}
		if !seen[line] {
			seen[line] = true
			tokens = append(tokens, line)
		}
	}
	return tokens, nil
}

func checkToken(tok string) error {
	if tok == redactedPlaceholder {
		return errors.New(`"[redacted]" is the placeholder --dump-config prints, not a token`)
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case c == ' ' || c == '\t':
			return errors.New("a token cannot contain spaces (comments must be on their own line)")
		case c < 0x21 || c > 0x7e:
			return fmt.Errorf("a token must be printable ASCII; found byte 0x%02x at column %d", c, i+1)
		}
	}
	return nil
}

// Options configure a token set.
type Options struct {
	// Tokens are fixed tokens from the configuration.
	Tokens []string
	// File, if set, is a token file re-read when it changes.
	File string
	// Setting names the configuration key of File, for messages (e.g. "admin.auth-tokens-file").
	Setting string
	// InlineSetting names the configuration key of Tokens, for messages.
	InlineSetting string
	Logger        *slog.Logger
	// CheckInterval is how often the file's metadata is looked at; default 1s.
	CheckInterval time.Duration
	// now is the clock; tests replace it.
	now func() time.Time
}

// Tokens is the set of valid tokens of one API. It is safe for concurrent use.
type Tokens struct {
	opts    Options
	fixed   [][sha256.Size]byte
	current atomic.Pointer[[][sha256.Size]byte] // fixed plus the file's last good tokens

	lastCheck atomic.Int64 // unix nanos of the last look at the file
	reloadMu  sync.Mutex   // one reload at a time; others keep using current
	stat      os.FileInfo  // the file as last read (guarded by reloadMu)
	failing   bool         // the last reload failed (guarded by reloadMu); logs once per outage
}

// NewTokens loads the tokens. An unreadable or invalid token file, or a configuration that
// yields no token at all, is an error naming the file or setting.
func NewTokens(opts Options) (*Tokens, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = time.Second
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	t := &Tokens{opts: opts}
	for i, tok := range opts.Tokens {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			return nil, fmt.Errorf("%s: token %d is empty", opts.InlineSetting, i+1)
		}
		if err := checkToken(tok); err != nil {
			return nil, fmt.Errorf("%s: token %d: %v", opts.InlineSetting, i+1, err)
		}
		t.fixed = append(t.fixed, sha256.Sum256([]byte(tok)))
	}
	list := t.fixed
	if opts.File != "" {
		fileTokens, info, err := readTokenFile(opts.File)
		if err != nil {
			return nil, fmt.Errorf("%s: reading token file %s: %w", opts.Setting, opts.File, err)
		}
		if len(fileTokens) == 0 && len(t.fixed) == 0 {
			return nil, fmt.Errorf("%s: token file %s contains no token", opts.Setting, opts.File)
		}
		t.stat = info
		list = t.merge(fileTokens)
	}
	if len(list) == 0 {
		return nil, errors.New("no token configured")
	}
	t.current.Store(&list)
	t.lastCheck.Store(opts.now().UnixNano())
	return t, nil
}

func readTokenFile(path string) ([]string, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if info.IsDir() {
		return nil, nil, errors.New("it is a directory")
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxTokenFileSize+1))
	if err != nil {
		return nil, nil, err
	}
	tokens, err := ParseTokens(data)
	return tokens, info, err
}

func (t *Tokens) merge(fileTokens []string) [][sha256.Size]byte {
	list := append([][sha256.Size]byte(nil), t.fixed...)
	for _, tok := range fileTokens {
		list = append(list, sha256.Sum256([]byte(tok)))
	}
	return list
}

// Valid reports whether token is one of the current tokens.
func (t *Tokens) Valid(token string) bool {
	t.maybeReload()
	got := sha256.Sum256([]byte(token))
	ok := 0
	for _, want := range *t.current.Load() {
		ok |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return ok == 1 && token != ""
}

// Len is the number of valid tokens (for logs).
func (t *Tokens) Len() int {
	t.maybeReload()
	return len(*t.current.Load())
}

// maybeReload re-reads the file if it changed, at most once per CheckInterval. Requests
// that arrive during a reload use the previous list instead of waiting.
func (t *Tokens) maybeReload() {
	if t.opts.File == "" {
		return
	}
	now := t.opts.now().UnixNano()
	last := t.lastCheck.Load()
	if now-last < int64(t.opts.CheckInterval) || !t.lastCheck.CompareAndSwap(last, now) {
		return
	}
	if !t.reloadMu.TryLock() {
		return
	}
	defer t.reloadMu.Unlock()
	info, err := os.Stat(t.opts.File)
	if err == nil && t.stat != nil && os.SameFile(info, t.stat) && info.ModTime().Equal(t.stat.ModTime()) && info.Size() == t.stat.Size() {
		return
	}
	var tokens []string
	if err == nil {
		tokens, info, err = readTokenFile(t.opts.File)
	}
	if err == nil && len(tokens) == 0 && len(t.fixed) == 0 {
		err = errors.New("it contains no token")
	}
	if err != nil {
		if !t.failing {
			t.opts.Logger.Warn("cannot reload the token file; keeping the tokens read before",
				"setting", t.opts.Setting, "file", t.opts.File, "err", err)
		}
		t.failing = true
		return
	}
	list := t.merge(tokens)
	t.current.Store(&list)
	t.stat = info
	t.failing = false
	t.opts.Logger.Info("reloaded the token file", "setting", t.opts.Setting, "file", t.opts.File, "tokens", len(tokens))
}
