package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Canonical form of a Bundle for signing (what the detached JWS signs):
//
//   - the Bundle's JSON with the top-level "signature" member removed;
//   - serialized as in RFC 8785 (JSON Canonicalization Scheme): no
//     whitespace, object members sorted by their names' UTF-16 code units,
//     strings escaped minimally (only '"', '\\' and U+0000-U+001F, the latter
//     as \b \t \n \f \r or \u00xx), all other characters as raw UTF-8,
//     numbers in their shortest ECMAScript form.
//
// It depends only on the JSON data model, not on how the sender formatted or
// ordered the JSON, so a receiver can recompute it from what it parsed.
// Differs from FHIR's own canonicalization (http://hl7.org/fhir/canonicalization/json),
// which orders members as the specification does; JCS is simpler to
// reproduce with generic JSON tools.
func canonicalWithoutSignature(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("fhir: canonical form: %w", err)
	}
	if dec.More() {
		return nil, errors.New("fhir: canonical form: trailing data after JSON value")
	}
	return canonicalValueWithoutSignature(v, len(raw))
}

// canonicalJSON is the canonical form of any JSON text, signature included.
func canonicalJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("fhir: canonical form: %w", err)
	}
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if err := writeCanonical(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// canonicalValueWithoutSignature is the canonical form of a parsed Bundle
// (numbers as json.Number); v is not changed.
func canonicalValueWithoutSignature(v any, sizeHint int) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(sizeHint)
	if err := writeCanonicalBundle(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeCanonicalBundle(buf *bytes.Buffer, v any) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return errors.New("fhir: canonical form: not a JSON object")
	}
	return writeCanonicalObject(buf, obj, "signature")
}

// canonicalBuffers are reused by verification, which only hashes the
// canonical form: growing a fresh buffer to 13 KB for every Bundle was a
// twentieth of the mock's allocation.
var canonicalBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func writeCanonical(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		if x {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case string:
		writeCanonicalString(buf, x)
	case json.Number:
		s, err := canonicalNumber(x)
		if err != nil {
			return err
		}
		buf.WriteString(s)
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeCanonical(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		return writeCanonicalObject(buf, x, "")
	default:
		return fmt.Errorf("fhir: canonical form: unexpected %T", v)
	}
	return nil
}

// writeCanonicalObject writes an object with its members sorted, leaving
// out the member named skip ("" skips none).
func writeCanonicalObject(buf *bytes.Buffer, x map[string]any, skip string) error {
	var small [16]string // FHIR objects have few members: no allocation for the keys
	keys := small[:0]
	for k := range x {
		if skip == "" || k != skip {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compareUTF16)
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeCanonicalString(buf, k)
		buf.WriteByte(':')
		if err := writeCanonical(buf, x[k]); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

func writeCanonicalString(buf *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	buf.WriteByte('"')
	if utf8.ValidString(s) {
		// Valid UTF-8 (a parser's strings always are) is copied as it is,
		// in runs between the bytes that need an escape.
		start := 0
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= 0x20 && c != '"' && c != '\\' {
				continue
			}
			buf.WriteString(s[start:i])
			start = i + 1
			switch c {
			case '"':
				buf.WriteString(`\"`)
			case '\\':
				buf.WriteString(`\\`)
			case '\b':
				buf.WriteString(`\b`)
			case '\t':
				buf.WriteString(`\t`)
			case '\n':
				buf.WriteString(`\n`)
			case '\f':
				buf.WriteString(`\f`)
			case '\r':
				buf.WriteString(`\r`)
			default:
				buf.WriteString(`\u00`)
				buf.WriteByte(hex[c>>4])
				buf.WriteByte(hex[c&0xF])
			}
		}
		buf.WriteString(s[start:])
		buf.WriteByte('"')
		return
	}
	writeCanonicalStringByRune(buf, s)
}

// writeCanonicalStringByRune is writeCanonicalString after the opening
// quote, rune by rune: for invalid UTF-8, and the reference the fast path
// is tested against.
func writeCanonicalStringByRune(buf *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			buf.WriteRune(r) // invalid UTF-8 becomes U+FFFD, as a JSON parser would read it
			i += size
			continue
		}
		switch {
		case c == '"':
			buf.WriteString(`\"`)
		case c == '\\':
			buf.WriteString(`\\`)
		case c == '\b':
			buf.WriteString(`\b`)
		case c == '\t':
			buf.WriteString(`\t`)
		case c == '\n':
			buf.WriteString(`\n`)
		case c == '\f':
			buf.WriteString(`\f`)
		case c == '\r':
			buf.WriteString(`\r`)
		case c < 0x20:
			buf.WriteString(`\u00`)
			buf.WriteByte(hex[c>>4])
			buf.WriteByte(hex[c&0xF])
		default:
			buf.WriteByte(c)
		}
		i++
	}
	buf.WriteByte('"')
}

// compareUTF16 orders strings by UTF-16 code units, as RFC 8785 requires.
func compareUTF16(a, b string) int {
	if isASCII(a) && isASCII(b) {
		return strings.Compare(a, b)
	}
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			return int(ua[i]) - int(ub[i])
		}
	}
	return len(ua) - len(ub)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// canonicalNumber formats a number as ECMAScript's Number.prototype.toString
// does (RFC 8785 section 3.2.2.3). FHIR Bundles of the gateway carry none;
// this is here so that the canonical form is defined for every input.
func canonicalNumber(n json.Number) (string, error) {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", fmt.Errorf("fhir: canonical form: number out of range")
	}
	if f == 0 {
		return "0", nil
	}
	abs := math.Abs(f)
	if abs >= 1e-6 && abs < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // e.g. 1e+21, 1.5e-07
	mant, exp, _ := strings.Cut(s, "e")
	sign := exp[0]
	exp = strings.TrimLeft(exp[1:], "0")
	return mant + "e" + string(sign) + exp, nil
}
