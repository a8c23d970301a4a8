package sosmeta

import (
	"fmt"
	"sort"

	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
)

// Code systems as the structured content names them ("urn:oid:" + OID).
// Source: the real Apotti documents of Warc0ck/SH-Kanta-validator ("asia ja
// rajoitukset testi S.xml", "Testiasiakirjat/Asiakkuusasiakirja_S.xml") and
// the patterns of the schemas.
const (
	SystemHetu        = "urn:oid:" + hl7.OIDHetu
	SystemServiceTask = "urn:oid:" + hl7.SystemSocialServiceTask
	// SystemServiceUnit is the SOTE organisation register (palveluyksikkö,
	// toimintayksikkö); the code is the unit's OID.
	SystemServiceUnit  = "urn:oid:" + hl7.SystemServiceUnit
	SystemGender       = "urn:oid:" + hl7.SystemGender
	SystemRegistration = "urn:oid:" + hl7.OIDRegistration
	// SystemRelationshipID is what the real Vantaa client-relationship
	// document names its relationship id's system (an OID as value).
	SystemRelationshipID = "urn:oid:1.2.246.1"
)

// Coding is a coded value: {"system": "urn:oid:…", "code", "display"}.
type Coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display"`
}

// Identifier is {"system", "value"}.
type Identifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value"`
}

// --- client record entries (asiakaskertomusmerkintä, 19001–19015) ---------

// EntryType is a client record entry's specific document type
// (specificDocumentType, code set 1.2.246.537.6.1506.201701) with the
// Sosmeta structure its content follows and the optional fields that
// structure has (each schema forbids fields it does not define).
type EntryType struct {
	Code                    string
	Display                 string
	ContentSpecificationID  string
	Root                    string // the top-level JSON key
	HasContactMode          bool   // tapahtuma.asiointitapa
	HasPlaceAndParticipants bool   // tapahtuma.paikka, tapahtuma.osallistujat
	HasAgreedMatters        bool   // sovitut_asiat
}

// entryTypes are the entry types with an embedded schema (kanta-domain.md
// 8.2 names these three; the other 19001–19015 need their schema first).
var entryTypes = map[string]EntryType{
	"19003": {"19003", "Merkintä ohjauksesta ja neuvonnasta", GuidanceAndCounselling, "merkinta_ohjauksesta_ja_neuvonnasta", true, false, false},
	"19005": {"19005", "Merkintä tapaamisesta tai yhteydenotosta", MeetingOrContact, "merkinta_tapaamisesta_tai_yhteydenotosta", true, true, true},
	"19013": {"19013", "Muu asiakaskertomusmerkintä", OtherClientRecordEntry, "muu_asiakaskertomusmerkinta", false, false, false},
}

// DefaultEntryType is the usual school welfare officer's entry: a meeting
// or contact.
const DefaultEntryType = "19005"

// EntryTypeOf returns the entry type of a specific document type code.
func EntryTypeOf(code string) (EntryType, bool) {
	t, ok := entryTypes[code]
	return t, ok
}

// EntryTypeCodes lists the supported specific document type codes, sorted.
func EntryTypeCodes() []string {
	out := make([]string, 0, len(entryTypes))
	for c := range entryTypes {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Person is a client of an entry (asiakas).
type Person struct {
	Family string      `json:"sukunimi"`
	Given  string      `json:"etunimet"`
	Hetu   *Identifier `json:"henkilotunnus,omitempty"`
}

// Period is an interval of instants (ajanjakso), RFC 3339 with offset.
type Period struct {
	Start string `json:"alkamishetki,omitempty"`
	End   string `json:"paattymishetki,omitempty"`
}

// Event is the meeting or contact (tapahtuma).
type Event struct {
	Period       *Period  `json:"ajanjakso,omitempty"`
	ContactModes []Coding `json:"asiointitapa,omitempty"`
	Place        string   `json:"paikka,omitempty"`
	Participants string   `json:"osallistujat,omitempty"`
	Description  string   `json:"kuvaus,omitempty"`
}

// RecordEntry is the entry proper (asiakaskertomusmerkinta).
type RecordEntry struct {
	ServiceTask    Coding   `json:"palvelutehtava"`
	SocialServices []Coding `json:"sosiaalipalvelu,omitempty"`
	Event          *Event   `json:"tapahtuma,omitempty"`
}

// EntryAuthor is the professional who wrote the entry (laatija).
type EntryAuthor struct {
	Family string  `json:"sukunimi"`
	Given  string  `json:"etunimet"`
	Title  string  `json:"tehtavanimike,omitempty"` // free text, e.g. "koulukuraattori"
	Unit   *Coding `json:"palveluyksikko,omitempty"`
}

// ClientRecordEntry is the structured content of a client record entry.
type ClientRecordEntry struct {
	Clients       []Person    `json:"asiakas"`
	Entry         RecordEntry `json:"asiakaskertomusmerkinta"`
	AgreedMatters string      `json:"sovitut_asiat,omitempty"`
	Date          string      `json:"paivamaara,omitempty"` // YYYY-MM-DD
	Author        EntryAuthor `json:"laatija"`
}

// Marshal encodes the content under the type's root key and validates it
// against the type's schema.
func (t EntryType) Marshal(c ClientRecordEntry) ([]byte, error) {
	if t.Root == "" {
		return nil, fmt.Errorf("sosmeta: unknown entry type")
	}
	raw, err := marshal(t.Root, c)
	if err != nil {
		return nil, err
	}
	if err := Validate(t.ContentSpecificationID, raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// --- client-relationship document (asiakkuusasiakirja, 1505.1) -------------

// RelationshipClient is the client of a relationship (asiakas).
type RelationshipClient struct {
	Family    string      `json:"sukunimi"`
	Given     string      `json:"etunimet"`
	Hetu      *Identifier `json:"henkilotunnus,omitempty"`
	BirthDate string      `json:"syntymaaika,omitempty"` // YYYY-MM-DD
	Gender    *Coding     `json:"sukupuoli,omitempty"`
	// SecurityProhibition (turvakielto) is required by the schema: never
	// omitted, false included.
	SecurityProhibition bool `json:"turvakielto"`
}

// RelationshipPeriod is sosiaalihuollon_asiakkuus: when the relationship
// opened and, once it has, closed.
type RelationshipPeriod struct {
	Opened string `json:"asiakkuuden_alkamispvm"`
	Closed string `json:"asiakkuuden_paattymispvm,omitempty"`
}

// ResponsibleWorker is palveluista_vastaava_tyontekija.
type ResponsibleWorker struct {
	Family       string      `json:"sukunimi"`
	Given        string      `json:"etunimet"`
	Unit         *Coding     `json:"palveluyksikko,omitempty"`
	Registration *Identifier `json:"rekisterointitunnus,omitempty"`
}

// RelationshipUnit is a service unit of the organiser in which the
// relationship runs (palvelunjarjestajan_palveluyksikko).
type RelationshipUnit struct {
	Name   Coding `json:"palveluyksikon_nimi"`
	Opened string `json:"asiakkuuden_alkamispvm"`
	Closed string `json:"asiakkuuden_paattymispvm,omitempty"`
}

// RelationshipServiceTask is sosiaalihuollon_palvelutehtava.
type RelationshipServiceTask struct {
	ServiceTask Coding             `json:"palvelutehtava"`
	Units       []RelationshipUnit `json:"palvelunjarjestajan_palveluyksikko,omitempty"`
}

// ClientRelationshipContent is the structured content of the
// client-relationship document.
type ClientRelationshipContent struct {
	ID                 *Identifier               `json:"asiakkuuden_yksilointitunnus,omitempty"`
	Client             RelationshipClient        `json:"asiakas"`
	Relationship       *RelationshipPeriod       `json:"sosiaalihuollon_asiakkuus,omitempty"`
	OrganiserUnit      *Coding                   `json:"palvelunjarjestajan_toimintayksikko,omitempty"`
	ResponsibleWorkers []ResponsibleWorker       `json:"palveluista_vastaava_tyontekija,omitempty"`
	ServiceTasks       []RelationshipServiceTask `json:"sosiaalihuollon_palvelutehtava,omitempty"`
}

// MarshalClientRelationship encodes the content under "asiakkuusasiakirja"
// and validates it against the 1505.1 schema.
func MarshalClientRelationship(c ClientRelationshipContent) ([]byte, error) {
	raw, err := marshal("asiakkuusasiakirja", c)
	if err != nil {
		return nil, err
	}
	if err := Validate(ClientRelationship, raw); err != nil {
		return nil, err
	}
	return raw, nil
}
