package adapter

// Bound is a length limit the adapter enforces on a field of an export
// line: a longer value rejects the entry naming the field and the bound.
type Bound struct {
	Field    string // JSON path in the line; "(line)" for a whole line
	Max      int
	Unit     string // "characters" (Unicode code points) or "bytes"
	Contract bool   // the export contract's own maxLength; false: ours, where the contract sets none
}

// Bounds lists every length limit the adapter enforces, in the order of
// README's table ("Length bounds of an export line"), which a test keeps
// equal to this list and this list to what the reader refuses.
func Bounds() []Bound {
	const chars, bytes = "characters", "bytes"
	return []Bound{
		{"entry_id", maxEntryIDRunes, chars, true},
		{"author.given", maxNameChars, chars, true},
		{"author.family", maxNameChars, chars, true},
		{"author.title", maxNameChars, chars, true},
		{"client.given", maxNameChars, chars, true},
		{"client.family", maxNameChars, chars, true},
		{"text.title", maxTitleChars, chars, true},
		{"text.narrative", maxNarrativeBytes, bytes, true},
		{"author.registration_number", maxIDChars, chars, false},
		{"service.unit_name", maxUnitNameChars, chars, false},
		{"encounter.id", maxIDChars, chars, false},
		{"client_relationship.id", maxIDChars, chars, false},
		{"client_relationship.case_id", maxIDChars, chars, false},
		{"restrictions.mykanta.reason_code", maxIDChars, chars, false},
		{"restrictions.mykanta.reason_text", maxReasonChars, chars, false},
		{"amends.reason", maxReasonChars, chars, false},
		{"(line)", DefaultMaxLineBytes, bytes, false},
	}
}
