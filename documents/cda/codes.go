package cda

import (
	"fmt"
	"sort"
	"strings"
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
	CodeHealthGuardianByMinor   = "health.guardian_restriction.minor_refused"
	CodeHealthGuardianByProf    = "health.guardian_restriction.professional"
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
	CodeSocialRecordStatusRemoved  = "social.record_status.invalidated"  // recordStatus of an invalidating version (SocialInvalidationRecordStatus)
	CodeSocialGuardianAllowed      = "social.guardian_disclosure.allowed"
	CodeSocialGuardianDenied       = "social.guardian_disclosure.denied"
	CodeSocialInaccessibleBasis    = "social.inaccessible_argument" // system only, code = entry reason code
)

// defaultCodes is the single table of every code value. Confirmed=false marks
// our own choices (see DESIGN.md); they are overridable by name.
var defaultCodes = map[string]Code{
	CodeHealthRegister:        {"2", "1.2.246.537.5.40150.2009", "KanTa-palvelut - Potilasasiakirjan rekisteritunnus 2009", "Julkinen terveydenhuolto", true},
	CodeHealthConfidentiality: {"5", "1.2.246.777.5.99902.2006", "KanTa-palvelut - Asiakirjan luottamuksellisuus 2008", "Terveydenhuollon salassapidettävä", true},
	// The spec versions the real 2017 sample names; the current spec version
	// ids of a 2026 conformance test are not public.
	CodeHealthTemplateIDs:      {"1.2.246.777.11.2015.29 1.2.246.777.11.2015.23 1.2.246.777.11.2015.10", "", "", "", false},
	CodeProfessionPsychologist: {"44", "1.2.246.537.6.140.2008", "Terhikki - Ammattioikeudet", "Psykologi", false},
	CodeHealthViewPsychology:   {"PSY", "1.2.246.537.6.12.2002", "AR/YDIN - Näkymät", "Psykologia", false},
	CodeHealthFileFormat:       {"1", "1.2.246.537.5.40179.2008", "eArkisto - Asiakirjan tiedostomuoto 2008", "CDA R2", true},
	CodeHealthDocumentType:     {"1", "1.2.246.537.5.5001.2011", "eArkisto - Asiakirjatyyppi", "Potilaskertomus", false},
	CodeHealthFunction:         {"06.00", "1.2.246.537.6.300.2010", "STM - Terveydenhuollon tehtäväluokitus 2010", "Palveluprosessin hallinta", true},
	CodeRecordStatusReady:      {"3", "1.2.246.537.5.40154.2008", "eArkisto - Asiakirjan valmistumisen tila 2008", "Arkistointivalmis", true},
	// The domain notes name 1.2.246.537.5.40172; real documents carry the
	// versioned OID 1.2.246.537.5.40172.2008, which we follow.
	CodeHealthCustodianType:  {"1", "1.2.246.537.5.40172.2008", "eArkisto - Rekisteripitäjän laji 2008", "Julkinen", true},
	CodeHealthRetentionClass: {"2", "1.2.246.537.5.40158.2008", "eArkisto - Säilytysaikaluokka 2008", "12 v. potilaan kuolemasta tai 120 v. syntymästä", true},
	// Where a health care document says "not shown to the patient" is not
	// public: we use hl7fi:sensitiveDocument coded with the entry's reason
	// from the MyKanta restriction reasons of the social profile.
	CodeHealthViewingRestricted: {"", "1.2.246.537.6.1288.201901", "Kanta - Omakanta-näkyvyyden rajoittamisen peruste", "", false},
	CodeHealthGuardianByMinor:   {"1", "1.2.246.537.5.40202.201901", "Alaikäisen tietojen luovuttaminen huoltajalle", "Alaikäinen on kieltänyt tietojen luovuttamisen huoltajalle", false},
	CodeHealthGuardianByProf:    {"2", "1.2.246.537.5.40202.201901", "Alaikäisen tietojen luovuttaminen huoltajalle", "Ammattihenkilö on kieltänyt tietojen luovuttamisen huoltajalle", false},
	CodeGender:                  {"", "1.2.246.537.5.1.1997", "AR/YDIN - Sukupuoli", "", true},

	// Social welfare rows: code systems, names and confirmed values as the
	// real Apotti documents carry them (Warc0ck/SH-Kanta-validator "asia ja
	// rajoitukset testi S.xml" and "Testiasiakirjat/Asiakkuusasiakirja_S.xml",
	// kanta-domain.md 8.2, 8.3).
	CodeSocialRegister:        {"1", "1.2.246.537.6.1264.201701", "Sosiaalihuolto - Asiakirjan rekisteritunnus", "Sosiaalihuollon asiakasrekisteri", true},
	CodeSocialConfidentiality: {"6", "1.2.246.777.5.99902.2006", "KanTa-palvelut - Asiakirjan luottamuksellisuus", "Sosiaalihuollon salassapidettävä", true},
	// 19 is very probably the general type of a client record entry
	// (Apotti pairs general 15 with specific 15007): medium confidence.
	CodeSocialDocumentType:         {"19", "1.2.246.537.6.1506.201701", "Sosiaalihuolto - Asiakasasiakirjatyyppi", "Asiakaskertomusmerkintä", false},
	CodeSocialSpecificDocType:      {"19005", "1.2.246.537.6.1506.201701", "Sosiaalihuolto - Asiakasasiakirjatyyppi", "Merkintä tapaamisesta tai yhteydenotosta", true},
	CodeSocialDocumentGroup:        {"5", "1.2.246.537.6.1505.201601", "Sosiaalihuolto - Asiakirjaryhmä", "Toisen tai myöhemmän vaiheen asiakasasiakirja", true},
	CodeSocialRelationshipGroup:    {"1", "1.2.246.537.6.1505.201601", "Sosiaalihuolto - Asiakirjaryhmä", "Asiakkuusasiakirja", true},
	CodeSocialFileFormat:           {"2", "1.2.246.537.6.1502.201601", "Sosiaalihuolto - Asiakirjan näyttömuodon formaatti", "XHTML_1.1", true},
	CodeSocialStructuredFileFormat: {"5", "1.2.246.537.5.40179.2008", "eArkisto - Asiakirjan tiedostomuoto", "JSON", true},
	// School social work's service task code is not public (8.3).
	CodeSocialServiceTask:    {"13", "1.2.246.537.6.1221.201601", "Sosiaalihuolto - Palvelutehtävä", "Opiskeluhuollon kuraattoripalvelut", false},
	CodeSocialRetentionClass: {"1", "1.2.246.537.6.1258.201601", "Sosiaalihuolto - asiakirjan kokonaissäilytysaika", "Säilytetään pysyvästi", true},
	// K/E are confirmed values; what makes a document "special" is not
	// public. The plan with a MyKanta restriction says K, the relationship
	// document without one E: we map restricted → K, otherwise E.
	CodeSocialSpecialContentNone:  {"E", "1.2.246.537.6.112.2007", "AR/YDIN - Kyllä/EI/Ei tietoa", "Ei", false},
	CodeSocialSpecialContentRestr: {"K", "1.2.246.537.6.112.2007", "AR/YDIN - Kyllä/EI/Ei tietoa", "Kyllä", false},
	// Only 3 "Asiakkuuden suunnittelu" (a plan) is confirmed; an entry about
	// a meeting belongs to carrying out the services, whose code and name
	// are not public here: our choice, without a display name.
	CodeSocialServiceProcess: {"4", "1.2.246.537.6.1277.201701", "Sosiaalihuolto - Sosiaalihuollon palveluprosessi", "", false},
	// Kela's own builder invalidates a patient-archive document with
	// recordStatus 7; the social archive's way is not public.
	CodeSocialRecordStatusRemoved: {"7", "1.2.246.537.5.40154.2008", "eArkisto - Asiakirjan valmistumisen tila", "Poistettu", false},
	CodeSocialGuardianAllowed:     {"1", "1.2.246.537.6.1286.201901", "Sosiaalihuolto - Alaikäisen asiakastietojen luovuttaminen huoltajille", "Alaikäisen asiakkaan asiakirja voidaan luovuttaa huoltajille ja muille tiedonsaantiin oikeutetuille, koska alaikäinen ei kiellä asiakirjan luovuttamista", true},
	CodeSocialGuardianDenied:      {"2", "1.2.246.537.6.1286.201901", "Sosiaalihuolto - Alaikäisen asiakastietojen luovuttaminen huoltajille", "Ei saa luovuttaa", false},
	CodeSocialInaccessibleBasis:   {"", "1.2.246.537.6.1288.201901", "Sosiaalihuolto - Perustelut asiakirjan näyttämisen rajaamiselle Omakannassa", "", true},
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
		if !strings.HasPrefix(name, "health.") && !strings.HasPrefix(name, "social.") {
			continue // another builder's code (fhir.*, frame.*): the configuration map is shared
		}
		c, ok := t[name]
		if !ok {
			return nil, fmt.Errorf("cda: unknown code name %q in options", name)
		}
		if code == "" {
			return nil, fmt.Errorf("cda: empty override for code %q", name)
		}
		c.Code = code
		t[name] = c
	}
	return t, nil
}
