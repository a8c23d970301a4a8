// Package documents holds the gateway's domain model (record entries and
// their decisions), the policy engine, and the builders of what Kanta
// receives (CDA R2 documents, FHIR Bundles).
package documents

import (
	"strconv"
	"time"
)

// Status of an entry revision in Apotti.
type Status string

const (
	StatusFinal          Status = "final"
	StatusAmended        Status = "amended"
	StatusDraft          Status = "draft"
	StatusEnteredInError Status = "entered-in-error"
)

// Role is the author's profession. It decides register and archive.
type Role string

const (
	RolePsychologist         Role = "psychologist"
	RoleSchoolWelfareOfficer Role = "school_welfare_officer"
)

// ServiceKind is the student welfare service the entry belongs to.
type ServiceKind string

const (
	ServiceSchoolPsychology ServiceKind = "school_psychology"
	ServiceSchoolSocialWork ServiceKind = "school_social_work"
)

// EncounterType is the kind of contact.
type EncounterType string

const (
	EncounterVisit        EncounterType = "visit"
	EncounterPhone        EncounterType = "phone"
	EncounterRemote       EncounterType = "remote"
	EncounterConsultation EncounterType = "consultation"
	EncounterRecordOnly   EncounterType = "record-only"
)

// Display is what the client sees of an entry in MyKanta.
type Display string

const (
	DisplayVisible Display = "visible"
	DisplayDelayed Display = "delayed"
	DisplayHidden  Display = "hidden"
)

// Consent is a minor's consent to showing an entry to the guardian.
type Consent string

const (
	ConsentGranted     Consent = "granted"
	ConsentRefused     Consent = "refused"
	ConsentNotAssessed Consent = "not_assessed"
)

// Entry is one validated revision of a record entry, as the adapter hands it
// over. Every field has been checked against the export contract.
type Entry struct {
	ID          string
	Revision    int
	Status      Status
	FinalizedAt time.Time // zero for drafts and entered-in-error lines without it

	Author             Author
	Client             Client
	Service            Service
	Encounter          Encounter
	ClientRelationship *ClientRelationship // required for school social work
	Text               Text
	MyKanta            MyKanta
	Guardian           Guardian
	Amends             *Amends // required when Revision > 1
}

// Key names the entry revision: it identifies one version everywhere
// (ledger, queue, logs). It holds no personal data.
func (e *Entry) Key() string { return e.ID + "#" + strconv.Itoa(e.Revision) }

type Author struct {
	Role               Role
	RegistrationNumber string
	Given, Family      string
	// Hetu is the professional's personal identity code (optional): real
	// Kanta frames name the author by it (kanta-domain.md 8.1).
	Hetu string
	// Title is the job title as recorded (tehtävänimike); empty when the
	// export gives none (configuration then gives one per role).
	Title string
}

type Client struct {
	Hetu             string
	Given, Family    string
	BirthDate        Date
	HomeMunicipality string
	// SecurityProhibition is the population register's non-disclosure for
	// personal safety (turvakielto).
	SecurityProhibition bool
}

type Service struct {
	Kind         ServiceKind
	UnitOID      string
	UnitName     string
	OrganiserOID string
	ProviderOID  string // empty when the organiser provides the service itself
}

// Outsourced reports whether a provider other than the organiser recorded
// the entry (in the organiser's register).
func (s Service) Outsourced() bool { return s.ProviderOID != "" && s.ProviderOID != s.OrganiserOID }

type Encounter struct {
	ID    string
	Type  EncounterType
	Start time.Time
	End   time.Time // zero when not given
}

type ClientRelationship struct {
	ID     string
	Opened Date
	Closed *Date
	CaseID string // the social welfare case (asia), when the export knows it
}

type Text struct {
	Title     string
	Narrative string
	Language  string // fi, sv, en
}

type MyKanta struct {
	Display     Display
	ReleaseDate Date // set when Display is delayed
	ReasonCode  string
	ReasonText  string
}

type Guardian struct {
	MinorConsent             Consent
	MaturityAssessed         bool
	ProhibitedByProfessional bool
}

type Amends struct {
	Revision int
	Reason   string
}
