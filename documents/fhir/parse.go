package fhir

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// parseTree parses one JSON value into the tree encoding/json makes with
// UseNumber (map[string]any, []any, string, json.Number, bool, nil), in one
// pass: encoding/json's Decoder scans the input twice and grows a copy of
// it, a fifth of the mock's time per Bundle. It accepts and refuses what
// encoding/json does (TestParseTreeAgreesWithEncodingJSON runs both over
// Bundles and many thousand edits of them): RFC 8259 grammar, invalid UTF-8
// and lone surrogates read as U+FFFD, the last of duplicate members wins,
// at most maxNesting levels, nothing but whitespace after the value.
func parseTree(raw []byte) (any, error) {
	p := treeParser{b: raw}
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(p.b) {
		return nil, p.fail("after top-level value")
	}
	return v, nil
}

// maxNesting is encoding/json's limit on nested arrays and objects.
const maxNesting = 10000

type treeParser struct {
	b []byte
	i int
}

var errJSONSyntax = errors.New("fhir: not JSON")

func (p *treeParser) fail(what string) error {
	return fmt.Errorf("%w: invalid character at offset %d %s", errJSONSyntax, p.i, what)
}

func (p *treeParser) skipSpace() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *treeParser) value(depth int) (any, error) {
	if p.i >= len(p.b) {
		return nil, p.fail("(unexpected end)")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, p.fail("looking for beginning of value")
}

func (p *treeParser) literal(word string) error {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return p.fail("in literal")
	}
	p.i += len(word)
	return nil
}

func (p *treeParser) object(depth int) (any, error) {
	if depth > maxNesting {
		return nil, p.fail("(exceeded max depth)")
	}
	p.i++ // {
	m := make(map[string]any)
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m, nil
	}
	for {
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.fail("looking for beginning of object key string")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.fail("after object key")
		}
		p.i++
		p.skipSpace()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		m[k] = v
		p.skipSpace()
		if p.i >= len(p.b) {
			return nil, p.fail("(unexpected end in object)")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			p.skipSpace()
		case '}':
			p.i++
			return m, nil
		default:
			return nil, p.fail("after object key:value pair")
		}
	}
}

func (p *treeParser) array(depth int) (any, error) {
	if depth > maxNesting {
		return nil, p.fail("(exceeded max depth)")
	}
	p.i++ // [
	a := []any{}
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		p.skipSpace()
		if p.i >= len(p.b) {
			return nil, p.fail("(unexpected end in array)")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			p.skipSpace()
		case ']':
			p.i++
			return a, nil
		default:
			return nil, p.fail("after array element")
		}
	}
}

func (p *treeParser) number() (any, error) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case digits() == 0:
		return nil, p.fail("in numeric literal")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, p.fail("after decimal point in numeric literal")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.fail("in exponent of numeric literal")
		}
	}
	return json.Number(p.b[start:p.i]), nil
}

// str reads a string at p.i (the opening quote), as encoding/json unquotes.
func (p *treeParser) str() (string, error) {
	p.i++ // "
	start := p.i
	// The common case: no escape, plain ASCII or valid UTF-8.
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := p.b[start:p.i]
			p.i++
			if utf8.Valid(s) {
				return string(s), nil
			}
			return unquoteSlow(s), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.fail("in string literal")
		}
		p.i++
	}
	// With escapes: find the end first (as the scanner does), then decode.
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return unquoteSlow(s), nil
		case c < 0x20:
			return "", p.fail("in string literal")
		case c == '\\':
			p.i++
			if p.i >= len(p.b) {
				return "", p.fail("(unexpected end in string escape)")
			}
			switch p.b[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				p.i++
				for k := 0; k < 4; k++ {
					if p.i >= len(p.b) || !isHex(p.b[p.i]) {
						return "", p.fail("in \\u hexadecimal character escape")
					}
					p.i++
				}
			default:
				return "", p.fail("in string escape code")
			}
		default:
			p.i++
		}
	}
	return "", p.fail("(unexpected end in string)")
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// unquoteSlow decodes the body of a string already checked by the scan in
// str, as encoding/json's unquote does: escapes, surrogate pairs, and
// U+FFFD for a lone surrogate or an invalid UTF-8 byte.
func unquoteSlow(s []byte) string {
	out := make([]byte, 0, len(s))
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			r++
			switch s[r] {
			case 'b':
				out, r = append(out, '\b'), r+1
			case 'f':
				out, r = append(out, '\f'), r+1
			case 'n':
				out, r = append(out, '\n'), r+1
			case 'r':
				out, r = append(out, '\r'), r+1
			case 't':
				out, r = append(out, '\t'), r+1
			case 'u':
				rr := hex4(s[r+1 : r+5])
				r += 5
				if utf16.IsSurrogate(rr) {
					if r+6 <= len(s) && s[r] == '\\' && s[r+1] == 'u' && isHex4(s[r+2:r+6]) {
						if dec := utf16.DecodeRune(rr, hex4(s[r+2:r+6])); dec != utf8.RuneError {
							out = utf8.AppendRune(out, dec)
							r += 6
							continue
						}
					}
					rr = utf8.RuneError
				}
				out = utf8.AppendRune(out, rr)
			default: // " \ /
				out, r = append(out, s[r]), r+1
			}
		case c < utf8.RuneSelf:
			out, r = append(out, c), r+1
		default:
			rr, size := utf8.DecodeRune(s[r:])
			if rr == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, s[r:r+size]...)
			}
			r += size
		}
	}
	return string(out)
}

func isHex4(b []byte) bool {
	return len(b) == 4 && isHex(b[0]) && isHex(b[1]) && isHex(b[2]) && isHex(b[3])
}

func hex4(b []byte) rune {
	n, _ := strconv.ParseUint(string(b), 16, 32)
	return rune(n)
}
