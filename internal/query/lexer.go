package query

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokenKind uint8

const (
	tokEOF    tokenKind = iota
	tokIdent            // unquoted identifier or keyword, lower-cased
	tokQuoted           // "quoted identifier", case kept
	tokString           // 'string literal'
	tokNumber
	tokOp // punctuation and operators
)

type token struct {
	kind tokenKind
	text string // identifiers lower-cased; string literals unescaped
	raw  string // the source text, for error messages
	pos  int    // byte offset in the query
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of query"
	case tokString:
		return "string '" + t.text + "'"
	}
	return "'" + t.raw + "'"
}

// SyntaxError is a query the parser cannot read.
type SyntaxError struct {
	Pos     int // 1-based character position
	Line    int
	Column  int
	Message string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("syntax error at position %d (line %d, column %d): %s", e.Pos, e.Line, e.Column, e.Message)
}

func syntaxErrorAt(src string, offset int, format string, args ...any) *SyntaxError {
	if offset > len(src) {
		offset = len(src)
	}
	prefix := src[:offset]
	line := strings.Count(prefix, "\n") + 1
	col := utf8.RuneCountInString(prefix[strings.LastIndexByte(prefix, '\n')+1:]) + 1
	return &SyntaxError{Pos: utf8.RuneCountInString(prefix) + 1, Line: line, Column: col, Message: fmt.Sprintf(format, args...)}
}

// lex splits a query into tokens.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && strings.HasPrefix(src[i:], "--"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, syntaxErrorAt(src, i, "unterminated comment")
			}
			i += end + 4
		case c == '\'':
			text, n, ok := readQuoted(src[i:], '\'')
			if !ok {
				return nil, syntaxErrorAt(src, i, "unterminated string literal")
			}
			toks = append(toks, token{kind: tokString, text: text, raw: src[i : i+n], pos: i})
			i += n
		case c == '"':
			text, n, ok := readQuoted(src[i:], '"')
			if !ok {
				return nil, syntaxErrorAt(src, i, "unterminated quoted identifier")
			}
			if text == "" {
				return nil, syntaxErrorAt(src, i, "empty quoted identifier")
			}
			toks = append(toks, token{kind: tokQuoted, text: text, raw: src[i : i+n], pos: i})
			i += n
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			n := scanNumber(src[i:])
			toks = append(toks, token{kind: tokNumber, text: src[i : i+n], raw: src[i : i+n], pos: i})
			i += n
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf:
			start := i
			for i < len(src) {
				r, size := utf8.DecodeRuneInString(src[i:])
				if r == '_' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r) {
					i += size
					continue
				}
				break
			}
			if i == start {
				return nil, syntaxErrorAt(src, i, "unexpected character %q", src[i:i+1])
			}
			word := src[start:i]
			toks = append(toks, token{kind: tokIdent, text: strings.ToLower(word), raw: word, pos: start})
		default:
			op := ""
			for _, candidate := range []string{"<=", ">=", "<>", "!=", "==", "||", "::", "=", "<", ">", "+", "-", "*", "/", "%", "(", ")", ",", ".", ";"} {
				if strings.HasPrefix(src[i:], candidate) {
					op = candidate
					break
				}
			}
			if op == "" {
				r, _ := utf8.DecodeRuneInString(src[i:])
				return nil, syntaxErrorAt(src, i, "unexpected character %q", r)
			}
			toks = append(toks, token{kind: tokOp, text: op, raw: op, pos: i})
			i += len(op)
		}
	}
	toks = append(toks, token{kind: tokEOF, pos: len(src)})
	return toks, nil
}

// readQuoted reads a quote-delimited token where a doubled quote stands for one.
func readQuoted(s string, q byte) (text string, n int, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != q {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == q {
			b.WriteByte(q)
			i++
			continue
		}
		return b.String(), i + 1, true
	}
	return "", 0, false
}

func scanNumber(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && s[j] >= '0' && s[j] <= '9' {
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			i = j
		}
	}
	return i
}
