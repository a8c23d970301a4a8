package documents

// ValidOID reports whether s is a dotted-decimal OID, as
// ^[0-2](\.(0|[1-9][0-9]*))+$ says, checked by hand: it runs for every
// entry line, so no regexp and no allocation.
func ValidOID(s string) bool {
	if len(s) < 3 || s[0] < '0' || s[0] > '2' {
		return false
	}
	for i := 1; i < len(s); {
		if s[i] != '.' {
			return false
		}
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start || (s[start] == '0' && i-start > 1) {
			return false
		}
	}
	return true
}

// IsXMLChar reports whether r may appear in an XML 1.0 document (the Char
// production): the builders refuse entry text holding anything else.
func IsXMLChar(r rune) bool {
	switch {
	case r == 0x9 || r == 0xA || r == 0xD:
		return true
	case r >= 0x20 && r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// FieldError is a document builder's refusal of one input field's value:
// the gateway quarantines the entry naming Field (its JSON path).
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }
