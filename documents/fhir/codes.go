package fhir

import (
	"fmt"
	"sort"
	"strings"
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
	// the national view code set. UNCONFIRMED code.
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
	// Guardian restriction for minors (RestrictionParent, valueCoding), code
	// set 1.2.246.537.5.40202.201901: 3 = a competent minor forbids
	// disclosure. 4 for a professional's prohibition is UNCONFIRMED.
	CodeGuardianSystem     = "fhir.guardian_restriction.system"
	CodeGuardianRefused    = "fhir.guardian_restriction.refused"
	CodeGuardianProhibited = "fhir.guardian_restriction.prohibited"
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
	CodeHealthCategorySystem:          "urn:oid:1.2.246.537.5.40150.2009",
	CodeHealthCategory:                "2",
	CodeHealthTypeSystem:              "urn:oid:1.2.246.537.6.12.2002",
	CodeHealthType:                    "PSY",
	CodeHealthTypeDisplay:             "Psykologia",
	CodeSocialCategorySystem:          "urn:oid:1.2.246.537.6.1264.201701",
	CodeSocialCategory:                "1",
	CodeSocialTypeSystem:              "urn:oid:1.2.246.537.6.1506.201701",
	CodeSocialType:                    "76",
	CodeSocialTypeDisplay:             "Asiakaskertomus",
	CodeConfidentialitySystem:         "urn:oid:1.2.246.777.5.99902.2006",
	CodeCompositionConfidentiality:    "R",
	CodeConcealedSystem:               "http://terminology.hl7.org/CodeSystem/v3-ActCode",
	CodeConcealed:                     "NOPAT",
	CodeRestrictionReasonSystemHealth: "urn:oid:1.2.246.537.6.1288.201901",
	CodeRestrictionReasonSystemSocial: "urn:oid:1.2.246.537.6.1288.201901",
	CodeGuardianSystem:                "urn:oid:1.2.246.537.5.40202.201901",
	CodeGuardianRefused:               "3",
	CodeGuardianProhibited:            "4",
	CodeExtReleaseDate:                "https://hl7.fi/fhir/finnish-base-profiles/StructureDefinition/ReleaseDateForPatientViewing",
	CodeExtRestrictionParent:          "https://hl7.fi/fhir/finnish-base-profiles/StructureDefinition/RestrictionParent",
	CodeExtCompositionVersion:         "http://hl7.org/fhir/5.0/StructureDefinition/extension-Composition.version",
	CodeEncounterClassSystem:          "http://terminology.hl7.org/CodeSystem/v3-ActCode",
	CodeEncounterClassVisit:           "AMB",
	CodeEncounterClassPhone:           "VR",
	CodeEncounterClassRemote:          "VR",
	CodeEncounterClassConsultation:    "AMB",
	CodeEncounterClassRecordOnly:      "VR",
	CodeAuthorRoleSystem:              "https://github.com/helsinki-student-welfare/kanta-gateway/CodeSystem/author-role",
	CodeSignatureTypeSystem:           "urn:iso-astm:E1762-95:2013",
	CodeSignatureType:                 "1.2.840.10065.1.12.1.5",
	CodeSignatureTypeDisplay:          "Verification Signature",
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
// with the other builders: names of this table start with "fhir.", other
// names are left alone, and an unknown "fhir." name is refused so that a
// misspelt override cannot silently do nothing.
func resolveCodes(overrides map[string]string) (codes, error) {
	if len(overrides) == 0 {
		return codes(defaultCodes), nil
	}
	out := DefaultCodes()
	var unknown []string
	for name, v := range overrides {
		if !strings.HasPrefix(name, "fhir.") {
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
