package fhir

import (
	"fmt"
	"sort"
	"strings"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
)

// Code-table names (all start with "fhir."). Every code or URI below that the domain notes do not
// confirm is here, under a name, so that an operator can correct it through
// configuration (documents.codes / Options.Codes) without a code change.
// Confirmed values are here too, so the whole mapping reads in one place.
const (
	// Health care register (Composition.category). Confirmed: 1.2.246.537.5.40150.2009 code 2.
	CodeHealthCategorySystem = "fhir.health.category.system"
	CodeHealthCategory       = "fhir.health.category.code"
	// Health care document type (Composition.type): the psychology view of
	// the national view code set, whose codes are numbers with the
	// abbreviation as display (102 "RTG"). UNCONFIRMED code: the same
	// placeholder as the CDA route's health.view.psychology.
	CodeHealthTypeSystem  = "fhir.health.type.system"
	CodeHealthType        = "fhir.health.type.code"
	CodeHealthTypeDisplay = "fhir.health.type.display"
	// Social welfare register type (Composition.category). Confirmed: code 1.
	CodeSocialCategorySystem = "fhir.social.category.system"
	CodeSocialCategory       = "fhir.social.category.code"
	// Social welfare client document type (Composition.type). The code set is
	// confirmed; the code for a school social work entry is UNCONFIRMED.
	CodeSocialTypeSystem  = "fhir.social.type.system"
	CodeSocialType        = "fhir.social.type.code"
	CodeSocialTypeDisplay = "fhir.social.type.display"
	// National confidentiality code set (meta.security), value from the decision.
	CodeConfidentialitySystem = "fhir.confidentiality.system"
	// R4 Composition.confidentiality (v3-Confidentiality): R = restricted.
	CodeCompositionConfidentiality = "fhir.composition.confidentiality"
	// Concealment from the client in MyKanta (meta.security). Chosen: HL7 v3
	// ActCode NOPAT ("no disclosure to patient"). UNCONFIRMED for Kanta.
	CodeConcealedSystem = "fhir.concealed.system"
	CodeConcealed       = "fhir.concealed.code"
	// Reason for a delay or a concealment (Provenance.reason). Social welfare:
	// 1.2.246.537.6.1288.201901 (notes, section 4). Health care: UNCONFIRMED,
	// the same set is used.
	CodeRestrictionReasonSystemHealth = "fhir.restriction_reason.system.patient"
	CodeRestrictionReasonSystemSocial = "fhir.restriction_reason.system.social"
	// Guardian disclosure of a minor's document (RestrictionParent,
	// valueCoding), code set 1.2.246.537.5.40202.201901 (values 1-4 of the
	// FI base value set fi-base-restriction-parent-vs). The codes are the CDA
	// route's: the same names (health.guardian_disclosure.<basis>, see
	// GuardianCodeName) set both routes, so that a guardian sees the same on
	// either. The code for a professional's prohibition is UNCONFIRMED.
	CodeGuardianSystem = "fhir.guardian_restriction.system"
	// Extension canonicals (HL7 Finland base profiles).
	CodeExtReleaseDate       = "fhir.extension.release_date"
	CodeExtRestrictionParent = "fhir.extension.restriction_parent"
	// Composition version number: R5 Composition.version as an R4
	// cross-version extension (valueString).
	CodeExtCompositionVersion = "fhir.extension.composition_version"
	// Encounter.class per encounter type (v3 ActCode). visit AMB and
	// phone/remote VR follow the brief; consultation and record-only are
	// UNCONFIRMED choices.
	CodeEncounterClassSystem       = "fhir.encounter.class.system"
	CodeEncounterClassVisit        = "fhir.encounter.class.visit"
	CodeEncounterClassPhone        = "fhir.encounter.class.phone"
	CodeEncounterClassRemote       = "fhir.encounter.class.remote"
	CodeEncounterClassConsultation = "fhir.encounter.class.consultation"
	CodeEncounterClassRecordOnly   = "fhir.encounter.class.record_only"
	// Author's profession (PractitionerRole.code). No national code found for
	// the two student welfare professions: a gateway-local code system whose
	// codes are the export's author.role values. UNCONFIRMED.
	CodeAuthorRoleSystem = "fhir.author_role.system"
	// Signature type (Bundle.signature.type).
	CodeSignatureTypeSystem  = "fhir.signature.type.system"
	CodeSignatureType        = "fhir.signature.type.code"
	CodeSignatureTypeDisplay = "fhir.signature.type.display"
)

// defaultCodes is the code table.
var defaultCodes = map[string]string{
	CodeHealthCategorySystem:          "urn:oid:" + hl7.SystemHealthRegister,
	CodeHealthCategory:                "2",
	CodeHealthTypeSystem:              "urn:oid:" + hl7.SystemViews,
	CodeHealthType:                    "000", // the CDA route's health.view.psychology placeholder
	CodeHealthTypeDisplay:             "PSY",
	CodeSocialCategorySystem:          "urn:oid:" + hl7.SystemSocialRegister,
	CodeSocialCategory:                "1",
	CodeSocialTypeSystem:              "urn:oid:" + hl7.SystemSocialDocumentType,
	CodeSocialType:                    "76",
	CodeSocialTypeDisplay:             "Asiakaskertomus",
	CodeConfidentialitySystem:         "urn:oid:" + hl7.SystemConfidentiality,
	CodeCompositionConfidentiality:    "R",
	CodeConcealedSystem:               "http://terminology.hl7.org/CodeSystem/v3-ActCode",
	CodeConcealed:                     "NOPAT",
	CodeRestrictionReasonSystemHealth: "urn:oid:" + hl7.SystemViewingRestriction,
	CodeRestrictionReasonSystemSocial: "urn:oid:" + hl7.SystemViewingRestriction,
	CodeGuardianSystem:                "urn:oid:" + hl7.SystemHealthGuardian,
	// Same defaults as the CDA table (a test pins the equality).
	GuardianCodeName(documents.GuardianMinorNotCapable):          "1",
	GuardianCodeName(documents.GuardianConsentGranted):           "2",
	GuardianCodeName(documents.GuardianConsentRefused):           "3",
	GuardianCodeName(documents.GuardianNotAssessed):              "4",
	GuardianCodeName(documents.GuardianProhibitedByProfessional): "4",
	CodeExtReleaseDate:             "https://hl7.fi/fhir/finnish-base-profiles/StructureDefinition/ReleaseDateForPatientViewing",
	CodeExtRestrictionParent:       "https://hl7.fi/fhir/finnish-base-profiles/StructureDefinition/RestrictionParent",
	CodeExtCompositionVersion:      "http://hl7.org/fhir/5.0/StructureDefinition/extension-Composition.version",
	CodeEncounterClassSystem:       "http://terminology.hl7.org/CodeSystem/v3-ActCode",
	CodeEncounterClassVisit:        "AMB",
	CodeEncounterClassPhone:        "VR",
	CodeEncounterClassRemote:       "VR",
	CodeEncounterClassConsultation: "AMB",
	CodeEncounterClassRecordOnly:   "VR",
	CodeAuthorRoleSystem:           "https://github.com/helsinki-student-welfare/kanta-gateway/CodeSystem/author-role",
	CodeSignatureTypeSystem:        "urn:iso-astm:E1762-95:2013",
	CodeSignatureType:              "1.2.840.10065.1.12.1.5",
	CodeSignatureTypeDisplay:       "Verification Signature",
}

// GuardianCodeName is the code name of a guardian basis (shared with the
// CDA builder).
func GuardianCodeName(g documents.GuardianBasis) string {
	return "health.guardian_disclosure." + string(g)
}

// guardianDisplay is the display of each code of the guardian code set
// (RestrictionParent requires valueCoding.display, and it must name the
// code): fi-base-restriction-parent-vs.
var guardianDisplay = map[string]string{
	"1": "Ei päätöskykyinen alaikäinen, tiedot luovutetaan huoltajille",
	"2": "Päätöskykyinen alaikäinen, sallii tietojensa luovuttamisen huoltajille",
	"3": "Päätöskykyinen alaikäinen, kieltää tietojensa luovuttamisen huoltajille",
	"4": "Alaikäisen päätöskyky ei tiedossa, tietoja ei luovuteta huoltajille",
}

// Unconfirmed lists the names of this table whose value is our choice, not
// seen in public material.
func Unconfirmed() []string {
	return []string{
		CodeHealthType, CodeSocialType, CodeConcealedSystem, CodeConcealed,
		CodeRestrictionReasonSystemHealth, CodeEncounterClassConsultation,
		CodeEncounterClassRecordOnly, CodeAuthorRoleSystem, CodeExtCompositionVersion,
		GuardianCodeName(documents.GuardianProhibitedByProfessional),
	}
}

// DefaultCodes returns a copy of the code table.
func DefaultCodes() map[string]string {
	out := make(map[string]string, len(defaultCodes))
	for k, v := range defaultCodes {
		out[k] = v
	}
	return out
}

// codes is the effective table: defaults with overrides applied.
type codes map[string]string

// resolveCodes applies overrides. The configuration's code map is shared
// with the other builders: names of this table start with "fhir." (or are
// the guardian names it shares with the CDA builder), other names are left
// alone, and an unknown "fhir." name is refused so that a misspelt override
// cannot silently do nothing.
func resolveCodes(overrides map[string]string) (codes, error) {
	if len(overrides) == 0 {
		return codes(defaultCodes), nil
	}
	out := DefaultCodes()
	var unknown []string
	for name, v := range overrides {
		_, shared := defaultCodes[name]
		if !strings.HasPrefix(name, "fhir.") && !shared {
			continue
		}
		if _, ok := defaultCodes[name]; !ok {
			unknown = append(unknown, name)
			continue
		}
		if v == "" {
			return nil, fmt.Errorf("fhir: code %q overridden with an empty value", name)
		}
		out[name] = v
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("fhir: unknown code names %s", strings.Join(unknown, ", "))
	}
	return codes(out), nil
}
