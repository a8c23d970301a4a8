package adapter

import (
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// Limits of the export contract (apotti-export.md and its schema), in
// characters.
const (
	maxEntryIDRunes   = 128
	maxNarrativeBytes = 1 << 20 // "up to 1 MiB": counted in bytes, the stricter reading
	maxNameChars      = 200     // author and client names, author.title (contract)
	maxTitleChars     = 500     // text.title (contract)
)

// Bounds of fields the contract leaves without a maxLength. No field is
// unbounded: an id or code gets the contract's entry id bound, the unit
// name the name bound, and a free-text justification a generous bound.
const (
	maxIDChars       = 128  // encounter.id, client_relationship.id/case_id, registration_number, reason_code
	maxUnitNameChars = 200  // service.unit_name
	maxReasonChars   = 2000 // restrictions.mykanta.reason_text, amends.reason
)

// The wire structs mirror one export line. Every scalar is decoded into a
// plain string and checked by hand afterwards, so a wrong value is reported
// with its field path and without the value. Pointers mark optional objects
// and values whose absence matters (a narrative may be empty but not absent;
// a closing date may be null).
type wireEntry struct {
	EntryID            string            `json:"entry_id"`
	Revision           int               `json:"revision"`
	Status             string            `json:"status"`
	FinalizedAt        string            `json:"finalized_at"`
	Author             wireAuthor        `json:"author"`
	Client             wireClient        `json:"client"`
	Service            wireService       `json:"service"`
	Encounter          wireEncounter     `json:"encounter"`
	ClientRelationship *wireRelationship `json:"client_relationship"`
	Text               wireText          `json:"text"`
	Restrictions       wireRestrictions  `json:"restrictions"`
	Amends             *wireAmends       `json:"amends"`
}

type wireAuthor struct {
	Role               string `json:"role"`
	RegistrationNumber string `json:"registration_number"`
	Given              string `json:"given"`
	Family             string `json:"family"`
	Hetu               string `json:"hetu"`
	Title              string `json:"title"`
}

type wireClient struct {
	Hetu                string `json:"hetu"`
	Given               string `json:"given"`
	Family              string `json:"family"`
	BirthDate           string `json:"birth_date"`
	HomeMunicipality    string `json:"home_municipality"`
	SecurityProhibition bool   `json:"security_prohibition"`
}

type wireService struct {
	Kind         string `json:"kind"`
	UnitOID      string `json:"unit_oid"`
	UnitName     string `json:"unit_name"`
	OrganiserOID string `json:"organiser_oid"`
	ProviderOID  string `json:"provider_oid"`
}

type wireEncounter struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Start string `json:"start"`
	End   string `json:"end"`
}

type wireRelationship struct {
	ID     string  `json:"id"`
	Opened string  `json:"opened"`
	Closed *string `json:"closed"`
	CaseID string  `json:"case_id"`
}

type wireText struct {
	Title     string  `json:"title"`
	Narrative *string `json:"narrative"`
	Language  string  `json:"language"`
}

type wireRestrictions struct {
	MyKanta  wireMyKanta  `json:"mykanta"`
	Guardian wireGuardian `json:"guardian"`
}

type wireMyKanta struct {
	Display     string `json:"display"`
	ReleaseDate string `json:"release_date"`
	ReasonCode  string `json:"reason_code"`
	ReasonText  string `json:"reason_text"`
}

type wireGuardian struct {
	MinorConsent             string `json:"minor_consent"`
	MaturityAssessed         bool   `json:"maturity_assessed"`
	ProhibitedByProfessional bool   `json:"prohibited_by_professional"`
}

type wireAmends struct {
	Revision int    `json:"revision"`
	Reason   string `json:"reason"`
}

// parser turns one line into an Item; its wire struct is reused.
type parser struct {
	w wireEntry
	// now, when set, bounds finalized_at: more than maxAhead after now is
	// rejected (a clock or export error that would archive a false time).
	now      func() time.Time
	maxAhead time.Duration
}

// problem is a validation failure: the field's JSON path and a reason that
// never includes personal data.
type problem struct {
	field, reason string
}

func (p *parser) parse(line []byte, file string, lineNo int) Item {
	e, prob := p.decode(line)
	if prob == nil {
		return Item{File: file, Line: lineNo, Entry: e}
	}
	rej := &Rejection{
		File: file, Line: lineNo,
		Field: prob.field, Reason: prob.reason,
		Raw: append([]byte(nil), line...),
	}
	// The key is reported when it is itself well formed; it names the
	// entry in logs and carries no personal data.
	if id := p.w.EntryID; validEntryID(id) && printable(id) {
		rej.EntryID = id
		if p.w.Revision > 0 {
			rej.Revision = p.w.Revision
		}
	}
	return Item{File: file, Line: lineNo, Rejection: rej}
}

func (p *parser) decode(line []byte) (*documents.Entry, *problem) {
	p.w = wireEntry{}
	if i := invalidUTF8At(line); i >= 0 {
		return nil, &problem{"", "line is not valid UTF-8 (first bad byte at offset " + strconv.Itoa(i) + ")"}
	}
	if c := firstNonSpace(line); c != '{' {
		return nil, &problem{"", "line is not a JSON object"}
	}
	// encoding/json/v2 semantics: keys match case-sensitively, a key given
	// twice in one object is an error, unknown keys are ignored, and an
	// escaped lone surrogate is an error instead of a silent U+FFFD.
	if err := json.Unmarshal(line, &p.w); err != nil {
		var sy *jsontext.SyntacticError
		if errors.As(err, &sy) {
			// The decoder streams: what it read before a syntax error
			// (or the first copy of a duplicated entry_id) does not name
			// the entry reliably, so the rejection names none.
			p.w.EntryID = ""
		}
		return nil, jsonProblem(err, line)
	}
	e, prob := convert(&p.w)
	if prob != nil {
		return nil, prob
	}
	if p.now != nil && !e.FinalizedAt.IsZero() {
		if limit := p.now().Add(p.maxAhead); e.FinalizedAt.After(limit) {
			return nil, invalid("finalized_at", "is more than "+p.maxAhead.String()+" after the time of reading (a clock or export error)")
		}
	}
	return e, nil
}

func invalidUTF8At(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return c
		}
	}
	return 0
}

// jsonProblem describes a decoding error without quoting the input: the
// decoder's error texts may contain a character, a number or a key from it.
func jsonProblem(err error, line []byte) *problem {
	var se *json.SemanticError
	if errors.As(err, &se) {
		return &problem{fieldPath(se.JSONPointer), "has the wrong JSON type: got " + jsonKindName(se.JSONKind) + ", want " + jsonKind(se.GoType)}
	}
	var sy *jsontext.SyntacticError
	if errors.As(err, &sy) {
		switch {
		case errors.Is(sy.Err, jsontext.ErrDuplicateName):
			field := fieldPath(sy.JSONPointer)
			return &problem{field, "key appears twice in one object (which copy counts would be a guess)"}
		case loneSurrogateAt(line, sy.ByteOffset):
			return &problem{fieldPath(sy.JSONPointer), "holds an escaped lone UTF-16 surrogate (\\uD800-\\uDFFF without its pair); a decoder would silently turn it into U+FFFD"}
		case errors.Is(sy.Err, io.ErrUnexpectedEOF):
			return &problem{"", "truncated JSON: the line ends inside the object"}
		case strings.Contains(sy.Err.Error(), "after top-level value"):
			return &problem{"", "trailing data after the JSON object"}
		}
		return &problem{"", "not valid JSON (syntax error at byte " + strconv.FormatInt(sy.ByteOffset, 10) + ")"}
	}
	return &problem{"", "not valid JSON"}
}

// loneSurrogateAt reports whether the decoder stopped at a \u escape of a
// UTF-16 surrogate half: such an escape is only valid as the first half of
// a pair, and the decoder has found it is not.
func loneSurrogateAt(line []byte, off int64) bool {
	if off < 0 || off+6 > int64(len(line)) {
		return false
	}
	esc := line[off : off+6]
	if esc[0] != '\\' || esc[1] != 'u' {
		return false
	}
	v, err := strconv.ParseUint(string(esc[2:]), 16, 16)
	return err == nil && v >= 0xD800 && v <= 0xDFFF
}

// contractKeys are the keys the contract defines. A JSON path is reported
// through them only: any other key (an unknown or misspelt one) may hold
// anything, a name or an identity code included, and is shown as "*".
var contractKeys = func() map[string]bool {
	keys := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			keys[name] = true
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[wireEntry]())
	return keys
}()

// fieldPath turns a JSON pointer ("/client/hetu") into the adapter's
// dotted field path ("client.hetu").
func fieldPath(ptr jsontext.Pointer) string {
	var b strings.Builder
	for tok := range ptr.Tokens() {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		if contractKeys[tok] {
			b.WriteString(tok)
		} else {
			b.WriteByte('*')
		}
	}
	return b.String()
}

func jsonKindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 'f', 't':
		return "boolean"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "another type"
}

func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.Bool:
		return "boolean"
	case reflect.Struct, reflect.Pointer:
		return "object"
	}
	return t.Kind().String()
}

func required(field string) *problem {
	return &problem{field, "is required (missing, null or empty)"}
}

func invalid(field, reason string) *problem { return &problem{field, reason} }

// enumProblem reports an unknown enumeration value without echoing it: a
// name or identity code typed into the wrong column must not reach a log.
func enumProblem(field, value, expected string) *problem {
	if value == "" {
		return required(field)
	}
	return &problem{field, "unknown value; expected " + expected}
}

// printable keeps control characters of a malformed entry id out of logs.
func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func tooLong(field string, max int) *problem {
	return &problem{field, "is longer than " + strconv.Itoa(max) + " characters"}
}

func checkLen(field, s string, max int) *problem {
	// len(s) <= max is a fast path: a character is at least one byte.
	if len(s) > max && utf8.RuneCountInString(s) > max {
		return tooLong(field, max)
	}
	return nil
}

func notPrintable(field string) *problem {
	return &problem{field, "holds a control, format or separator character (terminal escapes, bidi overrides and line breaks are refused in ids)"}
}

// checkID bounds an id or code and refuses characters that are not
// printable: ids are shown in logs, `queue ls` and `audit`, where a control
// character or an escape sequence would reach the operator's terminal raw.
func checkID(field, s string) *problem {
	if prob := checkLen(field, s, maxIDChars); prob != nil {
		return prob
	}
	if !printable(s) {
		return notPrintable(field)
	}
	return nil
}

func validEntryID(s string) bool {
	return s != "" && len(s) <= 4*maxEntryIDRunes && utf8.RuneCountInString(s) <= maxEntryIDRunes
}

func validMunicipality(s string) bool {
	return len(s) == 3 && isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func parseTimestamp(field, s string) (time.Time, *problem) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, invalid(field, "is not an RFC 3339 timestamp")
	}
	return t, nil
}

func parseDate(field, s string) (documents.Date, *problem) {
	d, err := documents.ParseDate(s)
	if err != nil {
		return documents.Date{}, invalid(field, "is not a YYYY-MM-DD calendar date")
	}
	return d, nil
}

// convert checks every field of the wire entry against the contract and
// builds the domain entry. The first problem found is reported.
func convert(w *wireEntry) (*documents.Entry, *problem) {
	e := &documents.Entry{}
	var prob *problem

	// Identity of the revision.
	switch {
	case w.EntryID == "":
		return nil, required("entry_id")
	case !validEntryID(w.EntryID):
		return nil, invalid("entry_id", "is longer than 128 characters")
	case !printable(w.EntryID):
		return nil, notPrintable("entry_id")
	}
	e.ID = w.EntryID
	if w.Revision < 1 {
		return nil, invalid("revision", "is required: an integer >= 1")
	}
	e.Revision = w.Revision

	switch s := documents.Status(w.Status); s {
	case documents.StatusFinal, documents.StatusAmended, documents.StatusDraft, documents.StatusEnteredInError:
		e.Status = s
	default:
		return nil, enumProblem("status", w.Status, "final, amended, draft or entered-in-error")
	}
	if e.Status == documents.StatusAmended && e.Revision < 2 {
		return nil, invalid("status", "amended requires revision > 1")
	}
	if w.FinalizedAt != "" {
		if e.FinalizedAt, prob = parseTimestamp("finalized_at", w.FinalizedAt); prob != nil {
			return nil, prob
		}
	} else if e.Status == documents.StatusFinal || e.Status == documents.StatusAmended {
		return nil, invalid("finalized_at", "is required when status is "+w.Status)
	}

	// Author.
	a := &w.Author
	if *a == (wireAuthor{}) {
		return nil, required("author")
	}
	switch r := documents.Role(a.Role); r {
	case documents.RolePsychologist, documents.RoleSchoolWelfareOfficer:
		e.Author.Role = r
	default:
		return nil, enumProblem("author.role", a.Role, "psychologist or school_welfare_officer (no other profession is mapped to a register)")
	}
	switch {
	case a.RegistrationNumber == "":
		return nil, required("author.registration_number")
	case a.Given == "":
		return nil, required("author.given")
	case a.Family == "":
		return nil, required("author.family")
	}
	if prob := checkID("author.registration_number", a.RegistrationNumber); prob != nil {
		return nil, prob
	}
	if prob := checkLen("author.given", a.Given, maxNameChars); prob != nil {
		return nil, prob
	}
	if prob := checkLen("author.family", a.Family, maxNameChars); prob != nil {
		return nil, prob
	}
	e.Author.RegistrationNumber, e.Author.Given, e.Author.Family = a.RegistrationNumber, a.Given, a.Family
	if a.Hetu != "" {
		if _, err := documents.ParseHetu(a.Hetu); err != nil {
			return nil, invalid("author.hetu", err.Error())
		}
		e.Author.Hetu = a.Hetu
	}
	if prob := checkLen("author.title", a.Title, maxNameChars); prob != nil {
		return nil, prob
	}
	e.Author.Title = a.Title

	// Client.
	c := &w.Client
	if *c == (wireClient{}) {
		return nil, required("client")
	}
	if c.Hetu == "" {
		return nil, required("client.hetu")
	}
	info, err := documents.ParseHetu(c.Hetu)
	if err != nil {
		// The documents errors describe the defect without the code.
		return nil, invalid("client.hetu", err.Error())
	}
	switch {
	case c.Given == "":
		return nil, required("client.given")
	case c.Family == "":
		return nil, required("client.family")
	case c.BirthDate == "":
		return nil, required("client.birth_date")
	}
	if prob := checkLen("client.given", c.Given, maxNameChars); prob != nil {
		return nil, prob
	}
	if prob := checkLen("client.family", c.Family, maxNameChars); prob != nil {
		return nil, prob
	}
	if e.Client.BirthDate, prob = parseDate("client.birth_date", c.BirthDate); prob != nil {
		return nil, prob
	}
	if e.Client.BirthDate != info.BirthDate {
		return nil, invalid("client.birth_date", "does not agree with the date part of client.hetu")
	}
	if c.HomeMunicipality != "" && !validMunicipality(c.HomeMunicipality) {
		return nil, invalid("client.home_municipality", "is not a 3-digit municipality code")
	}
	e.Client.Hetu, e.Client.Given, e.Client.Family, e.Client.HomeMunicipality = c.Hetu, c.Given, c.Family, c.HomeMunicipality
	e.Client.SecurityProhibition = c.SecurityProhibition

	// Service.
	s := &w.Service
	if *s == (wireService{}) {
		return nil, required("service")
	}
	switch k := documents.ServiceKind(s.Kind); k {
	case documents.ServiceSchoolPsychology, documents.ServiceSchoolSocialWork:
		e.Service.Kind = k
	default:
		return nil, enumProblem("service.kind", s.Kind, "school_psychology or school_social_work")
	}
	switch {
	case s.UnitOID == "":
		return nil, required("service.unit_oid")
	case !documents.ValidOID(s.UnitOID):
		return nil, invalid("service.unit_oid", "is not a dotted-decimal OID")
	case s.UnitName == "":
		return nil, required("service.unit_name")
	case utf8.RuneCountInString(s.UnitName) > maxUnitNameChars:
		return nil, tooLong("service.unit_name", maxUnitNameChars)
	case s.OrganiserOID == "":
		return nil, required("service.organiser_oid")
	case !documents.ValidOID(s.OrganiserOID):
		return nil, invalid("service.organiser_oid", "is not a dotted-decimal OID")
	case s.ProviderOID != "" && !documents.ValidOID(s.ProviderOID):
		return nil, invalid("service.provider_oid", "is not a dotted-decimal OID")
	}
	e.Service.UnitOID, e.Service.UnitName, e.Service.OrganiserOID, e.Service.ProviderOID = s.UnitOID, s.UnitName, s.OrganiserOID, s.ProviderOID

	// Encounter.
	en := &w.Encounter
	if *en == (wireEncounter{}) {
		return nil, required("encounter")
	}
	if en.ID == "" {
		return nil, required("encounter.id")
	}
	if prob := checkID("encounter.id", en.ID); prob != nil {
		return nil, prob
	}
	e.Encounter.ID = en.ID
	switch t := documents.EncounterType(en.Type); t {
	case documents.EncounterVisit, documents.EncounterPhone, documents.EncounterRemote,
		documents.EncounterConsultation, documents.EncounterRecordOnly:
		e.Encounter.Type = t
	default:
		return nil, enumProblem("encounter.type", en.Type, "visit, phone, remote, consultation or record-only")
	}
	if en.Start == "" {
		return nil, required("encounter.start")
	}
	if e.Encounter.Start, prob = parseTimestamp("encounter.start", en.Start); prob != nil {
		return nil, prob
	}
	if en.End != "" {
		if e.Encounter.End, prob = parseTimestamp("encounter.end", en.End); prob != nil {
			return nil, prob
		}
		if e.Encounter.End.Before(e.Encounter.Start) {
			return nil, invalid("encounter.end", "is before encounter.start")
		}
	}

	// Client relationship: required for a school welfare officer's social
	// work entry, checked whenever present. Social work recorded under
	// another role is left to the policy, whose rejection names the real
	// defect (registers are never mixed).
	if cr := w.ClientRelationship; cr != nil {
		rel := &documents.ClientRelationship{ID: cr.ID, CaseID: cr.CaseID}
		if cr.ID == "" {
			return nil, required("client_relationship.id")
		}
		if prob := checkID("client_relationship.id", cr.ID); prob != nil {
			return nil, prob
		}
		if cr.CaseID != "" {
			if prob := checkID("client_relationship.case_id", cr.CaseID); prob != nil {
				return nil, prob
			}
		}
		if cr.Opened == "" {
			return nil, required("client_relationship.opened")
		}
		if rel.Opened, prob = parseDate("client_relationship.opened", cr.Opened); prob != nil {
			return nil, prob
		}
		if cr.Closed != nil {
			closed, prob := parseDate("client_relationship.closed", *cr.Closed)
			if prob != nil {
				return nil, prob
			}
			if closed.Before(rel.Opened) {
				return nil, invalid("client_relationship.closed", "is before client_relationship.opened")
			}
			rel.Closed = &closed
		}
		e.ClientRelationship = rel
	} else if e.Service.Kind == documents.ServiceSchoolSocialWork && e.Author.Role == documents.RoleSchoolWelfareOfficer {
		return nil, invalid("client_relationship", "is required for school_social_work")
	}

	// Text.
	t := &w.Text
	if *t == (wireText{}) {
		return nil, required("text")
	}
	switch {
	case t.Title == "":
		return nil, required("text.title")
	case utf8.RuneCountInString(t.Title) > maxTitleChars:
		return nil, tooLong("text.title", maxTitleChars)
	case t.Narrative == nil:
		return nil, invalid("text.narrative", "is required (missing or null)")
	case len(*t.Narrative) > maxNarrativeBytes:
		return nil, invalid("text.narrative", "is longer than 1 MiB")
	}
	switch t.Language {
	case "fi", "sv", "en":
	default:
		return nil, enumProblem("text.language", t.Language, "fi, sv or en")
	}
	e.Text = documents.Text{Title: t.Title, Narrative: *t.Narrative, Language: t.Language}

	// Restrictions. A delayed or hidden entry without a reason code is the
	// policy's to reject (with its own reason class), not the adapter's.
	mk := &w.Restrictions.MyKanta
	switch d := documents.Display(mk.Display); d {
	case "":
		e.MyKanta.Display = documents.DisplayVisible
	case documents.DisplayVisible, documents.DisplayDelayed, documents.DisplayHidden:
		e.MyKanta.Display = d
	default:
		return nil, enumProblem("restrictions.mykanta.display", mk.Display, "visible, delayed or hidden")
	}
	if mk.ReleaseDate != "" {
		release, prob := parseDate("restrictions.mykanta.release_date", mk.ReleaseDate)
		if prob != nil {
			return nil, prob
		}
		// The release date means something only for a delayed entry.
		if e.MyKanta.Display == documents.DisplayDelayed {
			e.MyKanta.ReleaseDate = release
		}
	} else if e.MyKanta.Display == documents.DisplayDelayed {
		return nil, invalid("restrictions.mykanta.release_date", "is required when display is delayed")
	}
	if mk.ReasonCode != "" {
		if prob := checkID("restrictions.mykanta.reason_code", mk.ReasonCode); prob != nil {
			return nil, prob
		}
	}
	if prob := checkLen("restrictions.mykanta.reason_text", mk.ReasonText, maxReasonChars); prob != nil {
		return nil, prob
	}
	e.MyKanta.ReasonCode, e.MyKanta.ReasonText = mk.ReasonCode, mk.ReasonText

	g := &w.Restrictions.Guardian
	switch c := documents.Consent(g.MinorConsent); c {
	case "":
		e.Guardian.MinorConsent = documents.ConsentNotAssessed
	case documents.ConsentGranted, documents.ConsentRefused, documents.ConsentNotAssessed:
		e.Guardian.MinorConsent = c
	default:
		return nil, enumProblem("restrictions.guardian.minor_consent", g.MinorConsent, "granted, refused or not_assessed")
	}
	e.Guardian.MaturityAssessed, e.Guardian.ProhibitedByProfessional = g.MaturityAssessed, g.ProhibitedByProfessional

	// Amendment: a revision after the first names the revision it replaces,
	// which must be the one just before it (revisions count up by one).
	if am := w.Amends; am != nil {
		switch {
		case e.Revision == 1:
			return nil, invalid("amends", "must be absent for revision 1")
		case am.Revision < 1:
			return nil, invalid("amends.revision", "is required: an integer >= 1")
		case am.Revision != e.Revision-1:
			return nil, invalid("amends.revision", "must be revision - 1 ("+strconv.Itoa(e.Revision-1)+")")
		case am.Reason == "":
			return nil, required("amends.reason")
		case utf8.RuneCountInString(am.Reason) > maxReasonChars:
			return nil, tooLong("amends.reason", maxReasonChars)
		}
		e.Amends = &documents.Amends{Revision: am.Revision, Reason: am.Reason}
	} else if e.Revision > 1 {
		return nil, invalid("amends", "is required when revision > 1")
	}
	return e, nil
}
