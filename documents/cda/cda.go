// Package cda builds the CDA R2 documents (Finnish profile) the gateway
// archives in Kanta, and reads their header back.
//
// Two profiles exist: health care documents (psychologists, patient data
// repository) with hl7fi:localHeader and a structuredBody, and social welfare
// documents (school welfare officers, SHARK) with hl7fi:localSocialHeader and
// an XHTML nonXMLBody. Build never reads the clock: the same entry revision
// and decision always give byte-identical bytes, so a resend after a crash is
// the very document Kanta may already hold.
package cda

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/sosmeta"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7/hl7xml"
)

// Fixed values of the profile; its namespaces and OIDs are package hl7's.
const (
	// softwareSupport describes the producing system. The version is fixed
	// (not the build's) so rebuilding after an upgrade stays byte-identical.
	softwareModerator = "Helsingin kaupunki"
	softwareProduct   = "kanta-gateway"
	softwareVersion   = "1"

	// enteredInErrorMarker is written as hl7fi:description of an
	// invalidating version; Inspect reads it back.
	enteredInErrorMarker = "mitätöity"
)

// Options tune the builders.
type Options struct {
	// Codes overrides code values of the code table by name (see codes.go);
	// only the code changes, code system and names stay.
	Codes map[string]string
	// Invalidation is how an entered-in-error version is written:
	// InvalidationKela or InvalidationMarker; empty means the archive's
	// default (health care kela, social welfare marker: Kela's social
	// welfare codes for an invalidation are not public).
	Invalidation string
	// Social tunes the social welfare (SHARK) documents.
	Social SocialOptions
}

// SocialOptions are the social welfare choices the public material leaves
// open (kanta-domain.md 8.2). The zero value gives the documented defaults.
type SocialOptions struct {
	// EntryTypes maps an encounter type to the entry's specific document
	// type (one of sosmeta.EntryTypeCodes: 19003, 19005, 19013). Unmapped
	// types use the code table's social.specific_document_type (19005);
	// DefaultEntryTypes maps record-only entries to 19013.
	EntryTypes map[documents.EncounterType]string
	// Titles is the job title (tehtävänimike) per author role when the
	// entry has no author.title; DefaultTitles fills the gaps.
	Titles map[documents.Role]string
	// ReleaseDate is where a MyKanta delay date goes: SocialReleaseDateHeader
	// (default: hl7fi:releaseDateForPatientViewing after the coded reason)
	// or SocialReleaseDateOmit (no date element; the delay is then told
	// only by authorizationRestrictionArgument + inaccessibleArgument, as
	// in the real documents, which carry no date).
	ReleaseDate string
}

// Values of SocialOptions.ReleaseDate.
const (
	SocialReleaseDateHeader = "header"
	SocialReleaseDateOmit   = "omit"
)

// DefaultTitles are the job titles used when neither the entry nor the
// configuration gives one.
var DefaultTitles = map[documents.Role]string{
	documents.RoleSchoolWelfareOfficer: "koulukuraattori",
	documents.RolePsychologist:         "koulupsykologi",
}

// DefaultEntryTypes maps encounter types whose entries are not a meeting or
// contact; every other type is 19005.
var DefaultEntryTypes = map[documents.EncounterType]string{
	documents.EncounterRecordOnly: "19013",
}

// Validate checks the social options (configuration check).
func (s SocialOptions) Validate() error {
	for et, code := range s.EntryTypes {
		if _, ok := sosmeta.EntryTypeOf(code); !ok {
			return fmt.Errorf("entry type for encounter %q: %q has no Sosmeta structure here (known: %s)", et, code, strings.Join(sosmeta.EntryTypeCodes(), ", "))
		}
	}
	for role, title := range s.Titles {
		if strings.TrimSpace(title) == "" {
			return fmt.Errorf("title for role %q is empty", role)
		}
	}
	switch s.ReleaseDate {
	case "", SocialReleaseDateHeader, SocialReleaseDateOmit:
	default:
		return fmt.Errorf("release date %q is not %s or %s", s.ReleaseDate, SocialReleaseDateHeader, SocialReleaseDateOmit)
	}
	return nil
}

// Document is a built, not yet signed, CDA document.
type Document struct {
	Tree        *etree.Document
	ID, SetID   string
	Version     int // the entry revision
	BodyID      string
	Archive     documents.Archive
	Interaction string // the hl7.Interaction* value the frame must use
	Replaces    *Related
	// ServiceRequest is the social welfare service request the frame
	// carries (wire.MessageInput.SocialServiceRequest): "SP17" for a client
	// document, "SP1" for a client-relationship document; empty for health.
	ServiceRequest string
	// ContentSpecificationID and Structured are the social document's
	// Sosmeta structure and its (validated) JSON content; empty for health.
	ContentSpecificationID string
	Structured             []byte
}

// Social welfare service requests (1.2.246.537.6.1503.201601).
const (
	ServiceRequestClientDocument = "SP17"
	ServiceRequestRelationship   = "SP1"
)

// Related names another version of the same document.
type Related struct {
	ID, SetID string
	Version   int
}

// Header is what Inspect reads back from a (possibly signed) CDA document.
type Header struct {
	DocumentID, SetID  string
	Version            int
	Archive            documents.Archive
	Hetu               string
	BirthDate          documents.Date
	AuthorRegistration string
	AuthorRole         documents.Role
	ReleaseDate        documents.Date // zero when none
	Concealed          bool
	GuardianDisclosure bool // may the guardian of a minor see it
	Confidentiality    string
	EffectiveTime      time.Time
	Replaces           *Related
	EnteredInError     bool
	BodyID             string

	// Social welfare header facts (empty for health care documents).
	DocumentGroup          string // localSocialHeader/documentGroup@code
	SpecificDocumentType   string // localSocialHeader/specificDocumentType@code
	ContentSpecificationID string // localSocialHeader/contentSpecificationId
	ServiceTask            string // localSocialHeader/functionCode@code
	RelationshipID         string // localSocialHeader/encompassingClientRelationship@root
	Structured             []byte // nonXMLBody/hl7fi:json, decoded
}

// Bytes is the canonical serialization: XML declaration, UTF-8, no
// indentation (whitespace inside a signed body would be signed too).
func (d *Document) Bytes() ([]byte, error) {
	if d == nil || d.Tree == nil || d.Tree.Root() == nil {
		return nil, errors.New("cda: empty document")
	}
	return serialize(d.Tree)
}

func serialize(doc *etree.Document) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	buf.WriteByte('\n')
	// Write only the root: a declaration token in the tree (from parsing)
	// would otherwise be written twice.
	doc.Root().WriteTo(&buf, &doc.WriteSettings)
	return buf.Bytes(), nil
}

// Build turns one entry revision and the policy's decision into a CDA
// document of the decision's archive.
func Build(e *documents.Entry, d documents.Decision, org documents.Organisation, o Options) (*Document, error) {
	if e == nil {
		return nil, errors.New("cda: nil entry")
	}
	switch d.Outcome {
	case documents.OutcomeSubmit, documents.OutcomeHold, documents.OutcomeInvalidate:
	default:
		return nil, fmt.Errorf("cda: entry %s: decision %q is not one that is archived", e.Key(), d.Outcome)
	}
	codes, err := o.table()
	if err != nil {
		return nil, err
	}
	if err := checkInput(e, org); err != nil {
		return nil, fmt.Errorf("cda: entry %s: %w", e.Key(), err)
	}
	if err := o.Social.Validate(); err != nil {
		return nil, fmt.Errorf("cda: social options: %w", err)
	}
	switch o.Invalidation {
	case "", InvalidationKela, InvalidationMarker:
	default:
		return nil, fmt.Errorf("cda: unknown invalidation style %q (kela, marker)", o.Invalidation)
	}
	b := &builder{e: e, d: d, org: org, codes: codes, socialOpts: o.Social, invalidation: o.Invalidation}
	b.id = documents.DocumentID(org.DocumentRoot, e.ID, e.Revision)
	b.setID = documents.SetID(org.DocumentRoot, e.ID)
	b.enteredInError = e.Status == documents.StatusEnteredInError || d.Outcome == documents.OutcomeInvalidate
	if e.Revision > 1 {
		prev := e.Revision - 1
		if e.Amends != nil && e.Amends.Revision > 0 {
			prev = e.Amends.Revision
		}
		if prev >= e.Revision {
			return nil, fmt.Errorf("cda: entry %s: amends revision %d, which is not earlier", e.Key(), prev)
		}
		b.replaces = &Related{ID: documents.DocumentID(org.DocumentRoot, e.ID, prev), SetID: b.setID, Version: prev}
	} else if b.enteredInError {
		return nil, fmt.Errorf("cda: entry %s: entered-in-error needs an earlier revision to replace", e.Key())
	}
	if (d.Concealed || !d.ReleaseDate.IsZero()) && e.MyKanta.ReasonCode == "" {
		return nil, fmt.Errorf("cda: entry %s: a delayed or concealed entry needs restrictions.mykanta.reason_code", e.Key())
	}
	b.effective = e.FinalizedAt
	if b.effective.IsZero() {
		if !b.enteredInError {
			return nil, fmt.Errorf("cda: entry %s: finalized_at is required", e.Key())
		}
		// An invalidation line may lack finalized_at; the encounter is the
		// only instant in the entry, and the clock must not be read.
		b.effective = e.Encounter.Start
	}

	doc := &Document{ID: b.id, SetID: b.setID, Version: e.Revision, Archive: d.Archive, Replaces: b.replaces}
	switch d.Archive {
	case documents.ArchivePatient:
		doc.BodyID = "OID" + b.id + ".0"
		doc.Interaction = hl7.InteractionNewHealth
		if b.replaces != nil {
			doc.Interaction = hl7.InteractionReplaceHealth
		}
		doc.Tree, err = b.health(doc.BodyID)
	case documents.ArchiveSocial:
		doc.BodyID = "OID" + b.id
		doc.Interaction = hl7.InteractionSocial
		doc.ServiceRequest = ServiceRequestClientDocument
		doc.Tree, doc.ContentSpecificationID, doc.Structured, err = b.social(doc.BodyID)
	default:
		return nil, fmt.Errorf("cda: entry %s: unknown archive %q", e.Key(), d.Archive)
	}
	if err != nil {
		return nil, fmt.Errorf("cda: entry %s: %w", e.Key(), err)
	}
	return doc, nil
}

type builder struct {
	e              *documents.Entry
	d              documents.Decision
	org            documents.Organisation
	codes          map[string]Code
	socialOpts     SocialOptions
	id, setID      string
	replaces       *Related
	enteredInError bool
	invalidation   string // Options.Invalidation
	effective      time.Time
}

// newRoot starts a ClinicalDocument with the header elements both profiles
// share up to versionNumber.
func (b *builder) newRoot(templates string, code Code, title string, confidentiality Code) *etree.Element {
	root := etree.NewElement("ClinicalDocument")
	root.CreateAttr("xmlns", hl7.NamespaceV3)
	root.CreateAttr("xmlns:hl7fi", hl7.NamespaceFI)
	root.CreateElement("realmCode").CreateAttr("code", "FI")
	typeID := root.CreateElement("typeId")
	typeID.CreateAttr("root", hl7.OIDCDATypeID)
	typeID.CreateAttr("extension", hl7.CDATypeIDExtension)
	for _, t := range strings.Fields(templates) {
		root.CreateElement("templateId").CreateAttr("root", t)
	}
	hl7xml.II(root, "id", b.id, "")
	cv(root, "code", code)
	if title != "" {
		root.CreateElement("title").SetText(title)
	}
	root.CreateElement("effectiveTime").CreateAttr("value", ts(b.effective))
	if b.d.Confidentiality != "" {
		confidentiality.Code = b.d.Confidentiality
		confidentiality.Display = ""
		switch b.d.Confidentiality {
		case defaultCodes[CodeHealthConfidentiality].Code:
			confidentiality.Display = defaultCodes[CodeHealthConfidentiality].Display
		case defaultCodes[CodeSocialConfidentiality].Code:
			confidentiality.Display = defaultCodes[CodeSocialConfidentiality].Display
		}
	}
	cv(root, "confidentialityCode", confidentiality)
	root.CreateElement("languageCode").CreateAttr("code", b.language())
	hl7xml.II(root, "setId", b.setID, "")
	root.CreateElement("versionNumber").CreateAttr("value", strconv.Itoa(b.e.Revision))
	return root
}

func (b *builder) language() string {
	if l := b.e.Text.Language; l != "" {
		return l
	}
	return "fi"
}

// recordTarget: the client by identity code, with name, gender and birth date.
func (b *builder) recordTarget(root *etree.Element) {
	role := root.CreateElement("recordTarget").CreateElement("patientRole")
	hl7xml.II(role, "id", hl7.OIDHetu, b.e.Client.Hetu)
	patient := role.CreateElement("patient")
	personName(patient, b.e.Client.Given, b.e.Client.Family)
	if info, err := documents.ParseHetu(b.e.Client.Hetu); err == nil {
		g := b.codes[CodeGender]
		if info.Individual%2 == 1 {
			g.Code, g.Display = "1", "Mies"
		} else {
			g.Code, g.Display = "2", "Nainen"
		}
		cv(patient, "administrativeGenderCode", g)
	}
	patient.CreateElement("birthTime").CreateAttr("value", b.e.Client.BirthDate.Compact())
}

// author: the professional by registration number, profession, name and the
// service unit they work in.
func (b *builder) author(root *etree.Element, profession Code) {
	author := root.CreateElement("author")
	author.CreateElement("time").CreateAttr("value", ts(b.effective))
	aa := author.CreateElement("assignedAuthor")
	hl7xml.II(aa, "id", hl7.OIDRegistration, b.e.Author.RegistrationNumber)
	cv(aa, "code", profession)
	personName(aa.CreateElement("assignedPerson"), b.e.Author.Given, b.e.Author.Family)
	org := aa.CreateElement("representedOrganization")
	hl7xml.II(org, "id", b.e.Service.UnitOID, "")
	org.CreateElement("name").SetText(b.e.Service.UnitName)
}

// custodian: the organiser, keeper of the register.
func (b *builder) custodian(root *etree.Element) {
	org := root.CreateElement("custodian").CreateElement("assignedCustodian").CreateElement("representedCustodianOrganization")
	oid, name := b.org.Custodian()
	hl7xml.II(org, "id", oid, "")
	if name != "" {
		org.CreateElement("name").SetText(name)
	}
}

// relatedDocument RPLC names the version this one replaces.
func (b *builder) relatedDocument(root *etree.Element) {
	if b.replaces == nil {
		return
	}
	rel := root.CreateElement("relatedDocument")
	rel.CreateAttr("typeCode", "RPLC")
	parent := rel.CreateElement("parentDocument")
	hl7xml.II(parent, "id", b.replaces.ID, "")
	hl7xml.II(parent, "setId", b.replaces.SetID, "")
	parent.CreateElement("versionNumber").CreateAttr("value", strconv.Itoa(b.replaces.Version))
}

// consent writes authorization/consent with the given code.
func consent(root *etree.Element, code Code) {
	c := root.CreateElement("authorization").CreateElement("consent")
	cv(c, "code", code)
	c.CreateElement("statusCode").CreateAttr("code", "completed")
}

func (b *builder) encounterTime(parent *etree.Element, tag string) {
	t := parent.CreateElement(tag)
	t.CreateElement("low").CreateAttr("value", ts(b.e.Encounter.Start))
	if !b.e.Encounter.End.IsZero() {
		t.CreateElement("high").CreateAttr("value", ts(b.e.Encounter.End))
	}
}

func (b *builder) responsibleParty(enc *etree.Element) {
	ae := enc.CreateElement("responsibleParty").CreateElement("assignedEntity")
	ae.CreateElement("id").CreateAttr("nullFlavor", "NA")
	org := ae.CreateElement("representedOrganization")
	hl7xml.II(org, "id", b.org.OID, "")
	if b.org.Name != "" {
		org.CreateElement("name").SetText(b.org.Name)
	}
}

// outsourcing names the organiser when a private provider recorded the entry
// in the organiser's register.
func (b *builder) outsourcing(h *etree.Element) {
	if !b.e.Service.Outsourced() {
		return
	}
	hl7xml.II(h, "hl7fi:outsourcingServiceCustomer", b.e.Service.OrganiserOID, "")
	if b.org.Name != "" && b.org.OID == b.e.Service.OrganiserOID {
		h.CreateElement("hl7fi:outsourcingServiceCustomerName").SetText(b.org.Name)
	}
}

func softwareSupport(h *etree.Element) {
	s := h.CreateElement("hl7fi:softwareSupport")
	s.CreateAttr("moderator", softwareModerator)
	s.CreateAttr("product", softwareProduct)
	s.CreateAttr("version", softwareVersion)
}

// --- small element helpers -------------------------------------------------

// cv writes a coded value of the code table.
func cv(parent *etree.Element, tag string, c Code) *etree.Element {
	return hl7xml.CD(parent, tag, c.Code, c.System, c.SystemName, c.Display)
}

func personName(parent *etree.Element, given, family string) {
	n := parent.CreateElement("name")
	for _, g := range strings.Fields(given) {
		n.CreateElement("given").SetText(g)
	}
	n.CreateElement("family").SetText(family)
}

// ts formats an instant as an HL7 TS in UTC with an explicit offset, so the
// value does not depend on the machine's zone.
func ts(t time.Time) string { return t.UTC().Format("20060102150405") + "+0000" }

func tsDate(d documents.Date) string { return d.Compact() }
