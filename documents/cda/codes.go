package cda

import (
	"fmt"
	"sort"
	"strings"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
)

// Code is one coded value the builders emit: a code in a national code set.
// Confirmed says whether the value was seen in public specifications or real
// archive messages; unconfirmed values are our choice and can be overridden
// (Options.Codes) once Kela's or THL's answer is known.
type Code struct {
	Code       string
	System     string
	SystemName string
	Display    string
	Confirmed  bool
}

// Names of the code table. Every code the builders write comes from here, so
// a deployment can correct an unconfirmed value without a code change.
const (
	// Health care (patient data repository).
	CodeHealthRegister          = "health.register"        // ClinicalDocument/code
	CodeHealthConfidentiality   = "health.confidentiality" // fallback when the decision has none
	CodeHealthTemplateIDs       = "health.template_ids"    // space separated templateId roots
	CodeProfessionPsychologist  = "health.profession.psychologist"
	CodeHealthViewPsychology    = "health.view.psychology"     // tableOfContents/contentsCode, section code
	CodeHealthFileFormat        = "health.file_format"         // CDA R2
	CodeHealthDocumentType      = "health.document_type"       // documentType
	CodeHealthFunction          = "health.function"            // functionCode (task classification)
	CodeRecordStatusReady       = "record_status.ready"        // recordStatus 3, both profiles
	CodeHealthCustodianType     = "health.custodian_type"      // public organiser
	CodeHealthRetentionClass    = "health.retention_class"     // retentionPeriodClass
	CodeHealthViewingRestricted = "health.viewing_restriction" // sensitiveDocument: reason system only, code = entry reason code
	// Guardian disclosure of a minor's document, one name per policy basis
	// (documents.GuardianBasis): "health.guardian_disclosure.<basis>".
	CodeHealthGuardianNotCapable     = "health.guardian_disclosure.minor_not_capable"
	CodeHealthGuardianGranted        = "health.guardian_disclosure.consent_granted"
	CodeHealthGuardianRefused        = "health.guardian_disclosure.consent_refused"
	CodeHealthGuardianNotAssessed    = "health.guardian_disclosure.not_assessed"
	CodeHealthGuardianProfProhibited = "health.guardian_disclosure.professional_prohibited"
	// Invalidation as Kela's own builder writes it (documents.invalidation
	// kela): recordStatus 7 and a body of one "Muu merkintä" section under
	// an unspecified care process phase.
	CodeHealthInvalidatedStatus = "health.invalidation.record_status"
	CodeHealthInvalidationPhase = "health.invalidation.care_process_phase"
	CodeHealthInvalidationTitle = "health.invalidation.heading"
	CodeGender                  = "gender" // system only; value derived from the identity code

	// Social welfare (SHARK). No author profession code: the system we
	// had for it (1.2.246.537.6.1201) is something else; the job title is
	// free text in the structured content (kanta-domain.md 8.2).
	CodeSocialRegister             = "social.register"               // frame code and registryType
	CodeSocialConfidentiality      = "social.confidentiality"        // fallback when the decision has none
	CodeSocialDocumentType         = "social.document_type"          // ClinicalDocument/code of an entry: general client document type
	CodeSocialSpecificDocType      = "social.specific_document_type" // specificDocumentType of an entry whose encounter type is not mapped
	CodeSocialDocumentGroup        = "social.document_group"         // documentGroup of an entry (SP17)
	CodeSocialRelationshipGroup    = "social.document_group.relationship"
	CodeSocialFileFormat           = "social.file_format"            // XHTML 1.1
	CodeSocialStructuredFileFormat = "social.structured_file_format" // JSON
	CodeSocialServiceTask          = "social.service_task.school_social_work"
	CodeSocialRetentionClass       = "social.retention_class"
	CodeSocialSpecialContentNone   = "social.special_content.none"       // specialContent, no MyKanta restriction
	CodeSocialSpecialContentRestr  = "social.special_content.restricted" // specialContent, MyKanta restricted
	CodeSocialServiceProcess       = "social.service_process"            // serviceProcess/code of an entry
	CodeSocialRecordStatusRemoved  = "social.record_status.invalidated"  // recordStatus of an invalidating version (Options.Invalidation kela)
	CodeSocialGuardianAllowed      = "social.guardian_disclosure.allowed"
	CodeSocialGuardianDenied       = "social.guardian_disclosure.denied"
	CodeSocialInaccessibleBasis    = "social.inaccessible_argument" // system only, code = entry reason code
)

// defaultCodes is the single table of every code value. Confirmed=false marks
// our own choices (see DESIGN.md); they are overridable by name.
var defaultCodes = map[string]Code{
	CodeHealthRegister:        {"2", hl7.SystemHealthRegister, "KanTa-palvelut - Potilasasiakirjan rekisteritunnus 2009", "Julkinen terveydenhuolto", true},
	CodeHealthConfidentiality: {"5", hl7.SystemConfidentiality, "KanTa-palvelut - Asiakirjan luottamuksellisuus 2008", "Terveydenhuollon salassapidettävä", true},
	// The spec versions the real 2017 sample names; the current spec version
	// ids of a 2026 conformance test are not public.
	CodeHealthTemplateIDs: {"1.2.246.777.11.2015.29 1.2.246.777.11.2015.23 1.2.246.777.11.2015.10", "", "", "", false},
	// Profession codes are 3-digit (001 physician, 034 specialist: real
	// documents); the psychologist's code is not public. "000" is a
	// placeholder that names no profession, so that joint testing refuses it
	// rather than filing entries under a wrong profession.
	CodeProfessionPsychologist: {"000", hl7.SystemProfession, "Terhikki - Ammattioikeudet", "Psykologi", false},
	// View codes are numbers with the abbreviation as display name (102
	// "RTG"); the psychology view's number is not public: placeholder "000"
	// for the same reason.
	CodeHealthViewPsychology: {"000", hl7.SystemViews, "AR/YDIN - Näkymät", "PSY", false},
	CodeHealthFileFormat:     {"1", hl7.SystemFileFormat, "eArkisto - Asiakirjan tiedostomuoto 2008", "CDA R2", true},
	CodeHealthDocumentType:   {"1", hl7.SystemDocumentType, "eArkisto - Asiakirjatyyppi", "Kertomusteksti", true},
	CodeHealthFunction:       {"06.00", hl7.SystemHealthFunction, "STM - Terveydenhuollon tehtäväluokitus 2010", "Palveluprosessin hallinta", true},
	CodeRecordStatusReady:    {"3", hl7.SystemRecordStatus, "eArkisto - Asiakirjan valmistumisen tila 2008", "Arkistointivalmis", true},
	// The domain notes name 1.2.246.537.5.40172; real documents carry the
	// versioned OID 1.2.246.537.5.40172.2008, which we follow.
	CodeHealthCustodianType:  {"1", hl7.SystemCustodianType, "eArkisto - Rekisteripitäjän laji 2008", "Julkinen", true},
	CodeHealthRetentionClass: {"2", hl7.SystemHealthRetention, "eArkisto - Säilytysaikaluokka 2008", "12 v. potilaan kuolemasta tai 120 v. syntymästä", true},
	// Where a health care document says "not shown to the patient" is not
	// public: we use hl7fi:sensitiveDocument coded with the entry's reason
	// from the MyKanta restriction reasons of the social profile.
	CodeHealthViewingRestricted: {"", hl7.SystemViewingRestriction, "Kanta - Omakanta-näkyvyyden rajoittamisen peruste", "", false},
	// Code set and displays: FHIR FI base value set fi-base-restriction-parent-vs
	// (values 1-4); display names follow the code (guardianDisplay).
	CodeHealthGuardianNotCapable:  {"1", hl7.SystemHealthGuardian, guardianSystemName, "", true},
	CodeHealthGuardianGranted:     {"2", hl7.SystemHealthGuardian, guardianSystemName, "", true},
	CodeHealthGuardianRefused:     {"3", hl7.SystemHealthGuardian, guardianSystemName, "", true},
	CodeHealthGuardianNotAssessed: {"4", hl7.SystemHealthGuardian, guardianSystemName, "", true},
	// No code for "a professional forbids" was seen. 4 ("capability
	// unknown, not disclosed") says "not disclosed" without claiming that
	// the minor decided, as 3 would.
	CodeHealthGuardianProfProhibited: {"4", hl7.SystemHealthGuardian, guardianSystemName, "", false},
	// Kela's KantaCDA-API test configuration (testi_arkisto.properties):
	// MITATOINTI recordStatus 7 "Poistettu"; body codes 99 and 76. It pairs
	// 76 "Muu merkintä" with 1.2.246.537.6.13.2006 under the name
	// "AR/YDIN - Otsikot"; we follow it, unconfirmed.
	CodeHealthInvalidatedStatus: {"7", hl7.SystemRecordStatus, "eArkisto - Asiakirjan valmistumisen tila 2008", "Poistettu", true},
	CodeHealthInvalidationPhase: {"99", hl7.SystemCareProcessPhase, "AR/YDIN - Hoitoprosessin vaihe", "Määrittämätön hoitoprosessin vaihe", true},
	CodeHealthInvalidationTitle: {"76", hl7.SystemCareProcessPhase, "AR/YDIN - Otsikot", "Muu merkintä", false},
	CodeGender:                  {"", hl7.SystemGender, "AR/YDIN - Sukupuoli", "", true},

	// Social welfare rows: code systems, names and confirmed values as the
	// real Apotti documents carry them (Warc0ck/SH-Kanta-validator "asia ja
	// rajoitukset testi S.xml" and "Testiasiakirjat/Asiakkuusasiakirja_S.xml",
	// kanta-domain.md 8.2, 8.3).
	CodeSocialRegister:        {"1", hl7.SystemSocialRegister, "Sosiaalihuolto - Asiakirjan rekisteritunnus", "Sosiaalihuollon asiakasrekisteri", true},
	CodeSocialConfidentiality: {"6", hl7.SystemConfidentiality, "KanTa-palvelut - Asiakirjan luottamuksellisuus", "Sosiaalihuollon salassapidettävä", true},
	// 19 is very probably the general type of a client record entry
	// (Apotti pairs general 15 with specific 15007): medium confidence.
	CodeSocialDocumentType:         {"19", hl7.SystemSocialDocumentType, "Sosiaalihuolto - Asiakasasiakirjatyyppi", "Asiakaskertomusmerkintä", false},
	CodeSocialSpecificDocType:      {"19005", hl7.SystemSocialDocumentType, "Sosiaalihuolto - Asiakasasiakirjatyyppi", "Merkintä tapaamisesta tai yhteydenotosta", true},
	CodeSocialDocumentGroup:        {"5", hl7.SystemSocialDocumentGroup, "Sosiaalihuolto - Asiakirjaryhmä", "Toisen tai myöhemmän vaiheen asiakasasiakirja", true},
	CodeSocialRelationshipGroup:    {"1", hl7.SystemSocialDocumentGroup, "Sosiaalihuolto - Asiakirjaryhmä", "Asiakkuusasiakirja", true},
	CodeSocialFileFormat:           {"2", hl7.SystemSocialDisplayFormat, "Sosiaalihuolto - Asiakirjan näyttömuodon formaatti", "XHTML_1.1", true},
	CodeSocialStructuredFileFormat: {"5", hl7.SystemFileFormat, "eArkisto - Asiakirjan tiedostomuoto", "JSON", true},
	// School social work's service task code is not public (8.3).
	CodeSocialServiceTask:    {"13", hl7.SystemSocialServiceTask, "Sosiaalihuolto - Palvelutehtävä", "Opiskeluhuollon kuraattoripalvelut", false},
	CodeSocialRetentionClass: {"1", hl7.SystemSocialRetention, "Sosiaalihuolto - asiakirjan kokonaissäilytysaika", "Säilytetään pysyvästi", true},
	// K/E are confirmed values; what makes a document "special" is not
	// public. The plan with a MyKanta restriction says K, the relationship
	// document without one E: we map restricted → K, otherwise E.
	CodeSocialSpecialContentNone:  {"E", hl7.SystemYesNo, "AR/YDIN - Kyllä/EI/Ei tietoa", "Ei", false},
	CodeSocialSpecialContentRestr: {"K", hl7.SystemYesNo, "AR/YDIN - Kyllä/EI/Ei tietoa", "Kyllä", false},
	// Only 3 "Asiakkuuden suunnittelu" (a plan) is confirmed; an entry about
	// a meeting belongs to carrying out the services, whose code and name
	// are not public here: our choice, without a display name.
	CodeSocialServiceProcess: {"4", hl7.SystemSocialServiceProcess, "Sosiaalihuolto - Sosiaalihuollon palveluprosessi", "", false},
	// Kela's own builder invalidates a patient-archive document with
	// recordStatus 7; the social archive's way is not public.
	CodeSocialRecordStatusRemoved: {"7", hl7.SystemRecordStatus, "eArkisto - Asiakirjan valmistumisen tila", "Poistettu", false},
	CodeSocialGuardianAllowed:     {"1", hl7.SystemSocialGuardian, "Sosiaalihuolto - Alaikäisen asiakastietojen luovuttaminen huoltajille", "Alaikäisen asiakkaan asiakirja voidaan luovuttaa huoltajille ja muille tiedonsaantiin oikeutetuille, koska alaikäinen ei kiellä asiakirjan luovuttamista", true},
	CodeSocialGuardianDenied:      {"2", hl7.SystemSocialGuardian, "Sosiaalihuolto - Alaikäisen asiakastietojen luovuttaminen huoltajille", "Ei saa luovuttaa", false},
	CodeSocialInaccessibleBasis:   {"", hl7.SystemViewingRestriction, "Sosiaalihuolto - Perustelut asiakirjan näyttämisen rajaamiselle Omakannassa", "", true},
}

// The health care guardian disclosure code set (THL - Alaikäisen
// potilastietojen luovuttaminen huoltajille).
const (
	guardianSystemName = "THL - Alaikäisen potilastietojen luovuttaminen huoltajille"
)

// guardianDisplay is the display name of each code of the guardian
// disclosure code set (fi-base-restriction-parent-vs), so that a row's
// display follows its code when the code is overridden.
var guardianDisplay = map[string]string{
	"1": "Ei päätöskykyinen alaikäinen, tiedot luovutetaan huoltajille",
	"2": "Päätöskykyinen alaikäinen, sallii tietojensa luovuttamisen huoltajille",
	"3": "Päätöskykyinen alaikäinen, kieltää tietojensa luovuttamisen huoltajille",
	"4": "Alaikäisen päätöskyky ei tiedossa, tietoja ei luovuteta huoltajille",
}

// GuardianCodeName is the code name of a guardian basis of a minor.
func GuardianCodeName(g documents.GuardianBasis) string {
	return "health.guardian_disclosure." + string(g)
}

// Codes returns the effective code table (defaults with overrides), sorted
// by name, for documentation and dry runs.
func Codes(o Options) ([]NamedCode, error) {
	t, err := o.table()
	if err != nil {
		return nil, err
	}
	out := make([]NamedCode, 0, len(t))
	for name, c := range t {
		out = append(out, NamedCode{Name: name, Code: c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// NamedCode is a code table row.
type NamedCode struct {
	Name string
	Code
}

// table applies Options.Codes to the defaults. An unknown name is an error so
// a typo in configuration cannot silently leave a default in place.
func (o Options) table() (map[string]Code, error) {
	t := make(map[string]Code, len(defaultCodes))
	for k, v := range defaultCodes {
		t[k] = v
	}
	for name, code := range o.Codes {
		c, ok := t[name]
		if !ok {
			if strings.HasPrefix(name, "health.") || strings.HasPrefix(name, "social.") {
				return nil, fmt.Errorf("cda: unknown code name %q in options", name)
			}
			continue // another builder's code (fhir.*, frame.*): the configuration map is shared
		}
		if code == "" {
			return nil, fmt.Errorf("cda: empty override for code %q", name)
		}
		c.Code = code
		t[name] = c
	}
	for name, c := range t {
		if c.System == hl7.SystemHealthGuardian {
			c.Display = guardianDisplay[c.Code]
			t[name] = c
		}
	}
	return t, nil
}
