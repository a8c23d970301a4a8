package fhir

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	models "github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
)

// Fixed FHIR systems (not Kanta codes, so not in the code table).
const (
	systemURI            = "urn:ietf:rfc:3986"
	systemHetu           = "urn:oid:" + hl7.OIDHetu
	systemRegistration   = "urn:oid:" + hl7.OIDRegistration
	systemV3Confidential = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
	systemDataOperation  = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
	systemParticipant    = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
)

// Options tunes Build.
type Options struct {
	// Codes overrides entries of the code table by name (see DefaultCodes).
	// Names without the "fhir." prefix belong to other builders and are
	// ignored; an unknown "fhir." name is an error.
	Codes map[string]string
}

// Build maps one entry revision and its policy decision to a FHIR document
// Bundle. The result is a pure function of its input: the same revision
// always gives byte-identical JSON (before signing), because every id and
// fullUrl is derived from the revision's document id.
//
// Versioning: Bundle.identifier is the revision's document id; the
// Composition's identifier is the set id shared by all versions, its version
// number is the R5 Composition.version cross-version extension, and a
// revision > 1 (an amendment or an entered-in-error invalidation) carries
// relatesTo "replaces" naming the previous version's document id.
func Build(e *documents.Entry, d documents.Decision, org documents.Organisation, o Options) (*Bundle, error) {
	if e == nil {
		return nil, errors.New("fhir: nil entry")
	}
	c, err := resolveCodes(o.Codes)
	if err != nil {
		return nil, err
	}
	switch d.Outcome {
	case documents.OutcomeSubmit, documents.OutcomeHold, documents.OutcomeInvalidate:
	default:
		return nil, fmt.Errorf("fhir: entry %s: decision %q makes no document", e.Key(), d.Outcome)
	}
	if org.OID == "" || org.DocumentRoot == "" {
		return nil, errors.New("fhir: organisation needs an OID and a document root")
	}
	if e.Service.OrganiserOID != "" && e.Service.OrganiserOID != org.OID {
		return nil, fmt.Errorf("fhir: entry %s: organiser %s is not organisation %s", e.Key(), e.Service.OrganiserOID, org.OID)
	}
	if e.Revision < 1 {
		return nil, fmt.Errorf("fhir: entry %s: revision must be >= 1", e.Key())
	}
	var status models.CompositionStatus
	switch {
	case e.Status == documents.StatusEnteredInError:
		if e.Revision < 2 {
			return nil, fmt.Errorf("fhir: entry %s: an entered-in-error version must have a revision > 1 to replace an earlier one", e.Key())
		}
		status = models.CompositionStatusEnteredInError
	case e.Status != documents.StatusFinal && e.Status != documents.StatusAmended:
		return nil, fmt.Errorf("fhir: entry %s: status %q makes no document", e.Key(), e.Status)
	case e.Revision == 1:
		status = models.CompositionStatusFinal
	default:
		status = models.CompositionStatusAmended
	}
	if d.Confidentiality == "" {
		return nil, fmt.Errorf("fhir: entry %s: decision has no confidentiality code", e.Key())
	}

	recordedAt := e.FinalizedAt
	if recordedAt.IsZero() && e.Status == documents.StatusEnteredInError {
		// entered-in-error lines may lack finalized_at; the encounter time
		// keeps the output deterministic (unlike the time of building).
		recordedAt = e.Encounter.Start
	}
	if recordedAt.IsZero() {
		return nil, fmt.Errorf("fhir: entry %s: finalized_at is missing", e.Key())
	}
	if e.Text.Title == "" {
		return nil, fmt.Errorf("fhir: entry %s: text.title is empty", e.Key())
	}
	for _, f := range []struct{ name, value string }{
		{"text.title", e.Text.Title},
		{"author.given", e.Author.Given}, {"author.family", e.Author.Family},
		{"client.given", e.Client.Given}, {"client.family", e.Client.Family},
		{"service.unit_name", e.Service.UnitName},
		{"restrictions.mykanta.reason_text", e.MyKanta.ReasonText},
		{"encounter.id", e.Encounter.ID},
	} {
		if err := checkXMLChars(f.name, f.value); err != nil {
			return nil, fmt.Errorf("fhir: entry %s: %w", e.Key(), err)
		}
	}
	div, err := narrativeDiv("text.narrative", e.Text.Narrative)
	if err != nil {
		return nil, fmt.Errorf("fhir: entry %s: %w", e.Key(), err)
	}
	hetu, err := documents.ParseHetu(e.Client.Hetu)
	if err != nil {
		return nil, fmt.Errorf("fhir: entry %s: client.hetu: %w", e.Key(), err)
	}

	docID := documents.DocumentID(org.DocumentRoot, e.ID, e.Revision)
	setID := documents.SetID(org.DocumentRoot, e.ID)
	ids := newResourceIDs(docID)

	var category, docType Coding
	var reasonSystem string
	switch d.Archive {
	case documents.ArchivePatient:
		category = coding(c[CodeHealthCategorySystem], c[CodeHealthCategory], "")
		docType = coding(c[CodeHealthTypeSystem], c[CodeHealthType], c[CodeHealthTypeDisplay])
		reasonSystem = c[CodeRestrictionReasonSystemHealth]
	case documents.ArchiveSocial:
		category = coding(c[CodeSocialCategorySystem], c[CodeSocialCategory], "")
		docType = coding(c[CodeSocialTypeSystem], c[CodeSocialType], c[CodeSocialTypeDisplay])
		reasonSystem = c[CodeRestrictionReasonSystemSocial]
	default:
		return nil, fmt.Errorf("fhir: entry %s: decision names no archive", e.Key())
	}

	security := []Coding{
		coding(c[CodeConfidentialitySystem], d.Confidentiality, ""),
		coding(systemV3Confidential, c[CodeCompositionConfidentiality], ""),
	}
	if d.Concealed {
		security = append(security, coding(c[CodeConcealedSystem], c[CodeConcealed], ""))
	}

	outsourced := e.Service.Outsourced()
	employer := ids.ref(kindOrganiser)
	if outsourced {
		employer = ids.ref(kindProvider)
	}

	comp := &Composition{OtherComposition: models.OtherComposition{
		Id:         str(ids.id(kindComposition)),
		Meta:       &Meta{Security: security},
		Language:   opt(e.Text.Language),
		Extension:  []Extension{{Url: c[CodeExtCompositionVersion], ValueString: str(strconv.Itoa(e.Revision))}},
		Identifier: identifier(systemURI, "urn:oid:"+setID),
		Status:     status,
		Type:       CodeableConcept{Coding: []Coding{docType}},
		Category:   []CodeableConcept{{Coding: []Coding{category}}},
		Subject:    ids.ref(kindPatient),
		Encounter:  ids.ref(kindEncounter),
		Date:       instant(recordedAt),
		Author:     []Reference{*ids.ref(kindPractitionerRole)},
		Title:      e.Text.Title,
		// v3-Confidentiality R: the national code (5/6) is in meta.security.
		Confidentiality: str(c[CodeCompositionConfidentiality]),
		Custodian:       ids.ref(kindOrganiser),
		Section: []CompositionSection{{
			Title: str(e.Text.Title),
			Text:  &Narrative{Status: models.NarrativeStatusAdditional, Div: div},
		}},
	}}
	if e.Revision > 1 {
		prev := e.Revision - 1
		if e.Amends != nil && e.Amends.Revision >= 1 && e.Amends.Revision < e.Revision {
			prev = e.Amends.Revision
		}
		comp.RelatesTo = []CompositionRelatesTo{{
			Code:             models.DocumentRelationshipTypeReplaces,
			TargetIdentifier: identifier(systemURI, "urn:oid:"+documents.DocumentID(org.DocumentRoot, e.ID, prev)),
		}}
	}

	gender := models.AdministrativeGenderFemale
	if hetu.Individual%2 == 1 {
		gender = models.AdministrativeGenderMale
	}
	birth := e.Client.BirthDate
	if birth.IsZero() {
		birth = hetu.BirthDate
	}
	patient := &Patient{
		Id:         str(ids.id(kindPatient)),
		Identifier: []Identifier{*identifier(systemHetu, e.Client.Hetu)},
		Name:       humanName(e.Client.Given, e.Client.Family),
		Gender:     &gender,
		BirthDate:  str(birth.String()),
	}

	practitioner := &Practitioner{
		Id:   str(ids.id(kindPractitioner)),
		Name: humanName(e.Author.Given, e.Author.Family),
	}
	if e.Author.RegistrationNumber != "" {
		practitioner.Identifier = []Identifier{*identifier(systemRegistration, e.Author.RegistrationNumber)}
	}
	role := &PractitionerRole{
		Id:           str(ids.id(kindPractitionerRole)),
		Practitioner: ids.ref(kindPractitioner),
		Organization: employer,
		Code:         []CodeableConcept{{Coding: []Coding{coding(c[CodeAuthorRoleSystem], string(e.Author.Role), "")}}},
	}

	organiser := &Organization{
		Id:         str(ids.id(kindOrganiser)),
		Identifier: []Identifier{*identifier(systemURI, "urn:oid:"+org.OID)},
		Name:       opt(org.Name),
	}
	unit := &Organization{
		Id:     str(ids.id(kindUnit)),
		Name:   opt(e.Service.UnitName),
		PartOf: employer,
	}
	if e.Service.UnitOID != "" {
		unit.Identifier = []Identifier{*identifier(systemURI, "urn:oid:"+e.Service.UnitOID)}
	}

	classKey := map[documents.EncounterType]string{
		documents.EncounterVisit:        CodeEncounterClassVisit,
		documents.EncounterPhone:        CodeEncounterClassPhone,
		documents.EncounterRemote:       CodeEncounterClassRemote,
		documents.EncounterConsultation: CodeEncounterClassConsultation,
		documents.EncounterRecordOnly:   CodeEncounterClassRecordOnly,
	}[e.Encounter.Type]
	if classKey == "" {
		return nil, fmt.Errorf("fhir: entry %s: encounter.type %q has no class", e.Key(), e.Encounter.Type)
	}
	encounter := &Encounter{
		Id:              str(ids.id(kindEncounter)),
		Status:          models.EncounterStatusFinished,
		Class:           coding(c[CodeEncounterClassSystem], c[classKey], ""),
		Subject:         ids.ref(kindPatient),
		ServiceProvider: ids.ref(kindUnit),
	}
	if e.Encounter.ID != "" {
		// An Apotti contact id is local to the organiser's system: it is
		// scoped by the organiser's OID.
		encounter.Identifier = []Identifier{*identifier("urn:oid:"+org.OID, e.Encounter.ID)}
	}
	if !e.Encounter.Start.IsZero() {
		encounter.Period = &Period{Start: str(instant(e.Encounter.Start))}
		if !e.Encounter.End.IsZero() {
			encounter.Period.End = str(instant(e.Encounter.End))
		}
	}

	activity := "CREATE"
	switch {
	case status == models.CompositionStatusEnteredInError:
		activity = "NULLIFY"
	case e.Revision > 1:
		activity = "UPDATE"
	}
	prov := &Provenance{
		Id:       str(ids.id(kindProvenance)),
		Target:   []Reference{*ids.ref(kindComposition)},
		Recorded: instant(recordedAt),
		Activity: &CodeableConcept{Coding: []Coding{coding(systemDataOperation, activity, "")}},
		Agent: []ProvenanceAgent{{
			Type: &CodeableConcept{Coding: []Coding{coding(systemParticipant, "author", "")}},
			Who:  *ids.ref(kindPractitionerRole),
		}},
	}
	if outsourced {
		prov.Agent[0].OnBehalfOf = ids.ref(kindOrganiser)
	}
	if d.Display == documents.DisplayDelayed {
		if d.ReleaseDate.IsZero() {
			return nil, fmt.Errorf("fhir: entry %s: delayed without a release date", e.Key())
		}
		prov.Extension = append(prov.Extension, Extension{Url: c[CodeExtReleaseDate], ValueDate: str(d.ReleaseDate.String())})
	}
	if restriction := guardianRestriction(d, c); restriction != nil {
		prov.Extension = append(prov.Extension, Extension{Url: c[CodeExtRestrictionParent], ValueCoding: restriction})
	}
	if (d.Display == documents.DisplayDelayed || d.Concealed) && e.MyKanta.ReasonCode != "" {
		prov.Reason = []CodeableConcept{{
			Coding: []Coding{coding(reasonSystem, e.MyKanta.ReasonCode, "")},
			Text:   opt(e.MyKanta.ReasonText),
		}}
	}

	b := &Bundle{OtherBundle: models.OtherBundle{
		Id:         str(documents.FHIRBundleID(org.DocumentRoot, e.ID, e.Revision)),
		Meta:       &Meta{Security: security},
		Identifier: identifier(systemURI, "urn:oid:"+docID),
		Type:       models.BundleTypeDocument,
		Timestamp:  str(instant(recordedAt)),
	}}
	add := func(k kind, r Resource) {
		b.Entry = append(b.Entry, BundleEntry{BundleEntry: models.BundleEntry{FullUrl: str(ids.fullURL(k))}, Resource: r})
	}
	add(kindComposition, comp)
	add(kindPatient, patient)
	add(kindPractitioner, practitioner)
	add(kindPractitionerRole, role)
	add(kindOrganiser, organiser)
	if outsourced {
		add(kindProvider, &Organization{
			Id:         str(ids.id(kindProvider)),
			Identifier: []Identifier{*identifier(systemURI, "urn:oid:"+e.Service.ProviderOID)},
		})
	}
	add(kindUnit, unit)
	add(kindEncounter, encounter)
	add(kindProvenance, prov)
	return b, nil
}

// guardianRestriction returns the RestrictionParent coding for a minor: the
// policy's guardian basis coded as on the CDA route (1 not capable and
// disclosed, 2 capable and allows, 3 capable and forbids, 4 capability
// unknown, not disclosed; a professional's prohibition has its own,
// configurable code). nil for an adult: a guardian has no access to
// restrict. The policy decides minority on the entry's day with
// policy.adult_age, so the two routes agree.
func guardianRestriction(d documents.Decision, c codes) *Coding {
	if d.Guardian == documents.GuardianNotApplicable {
		return nil
	}
	code := c[GuardianCodeName(d.Guardian)]
	x := coding(c[CodeGuardianSystem], code, guardianDisplay[code])
	return &x
}

func humanName(given, family string) []HumanName {
	n := HumanName{Family: opt(family), Given: strings.Fields(given)}
	if n.Family == nil && len(n.Given) == 0 {
		return nil
	}
	return []HumanName{n}
}

// coding makes a Coding; an empty display is left out.
func coding(system, code, display string) Coding {
	return Coding{System: str(system), Code: str(code), Display: opt(display)}
}

func identifier(system, value string) *Identifier {
	return &Identifier{System: str(system), Value: str(value)}
}

// instant formats a time as a FHIR instant/dateTime in the time's own zone.
func instant(t time.Time) string { return t.Format(time.RFC3339Nano) }

type kind string

const (
	kindComposition      kind = "Composition"
	kindPatient          kind = "Patient"
	kindPractitioner     kind = "Practitioner"
	kindPractitionerRole kind = "PractitionerRole"
	kindOrganiser        kind = "Organization/organiser"
	kindProvider         kind = "Organization/provider"
	kindUnit             kind = "Organization/unit"
	kindEncounter        kind = "Encounter"
	kindProvenance       kind = "Provenance"
)

// resourceIDs derives each resource's id as a name-based UUID (v5) of the
// document id and the resource's kind, so ids are stable across rebuilds and
// distinct across documents.
type resourceIDs struct {
	docID string
	cache map[kind]string
}

func newResourceIDs(docID string) *resourceIDs {
	return &resourceIDs{docID: docID, cache: make(map[kind]string, 9)}
}

func (r *resourceIDs) id(k kind) string {
	if s, ok := r.cache[k]; ok {
		return s
	}
	s := uuid.NewSHA1(uuid.NameSpaceOID, []byte(r.docID+"/"+string(k))).String()
	r.cache[k] = s
	return s
}

func (r *resourceIDs) fullURL(k kind) string { return "urn:uuid:" + r.id(k) }

func (r *resourceIDs) ref(k kind) *Reference { return &Reference{Reference: str(r.fullURL(k))} }
