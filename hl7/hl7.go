// Package hl7 is the one home of the HL7 V3 and Kanta constants the gateway
// and the mock share: the XML namespaces of the Finnish CDA profile, the
// interaction and trigger event ids of the archive requests, the roots of
// the identifiers, and the OIDs of the national code systems. It imports
// nothing, so every package that writes or reads a Kanta message (CDA
// builders, the frame, signing, FHIR, the mock, configuration) names a value
// from here instead of spelling it again.
//
// The values follow the real public Kanta messages (kanta-domain.md 8.1 to
// 8.3); the conformance tests of documents/cda and wire pin them against the
// literal text of those messages. Display names and code values stay with
// the code tables that choose them (documents/cda codes.go, documents/fhir
// codes.go): a deployment can override those, never a code system.
package hl7

// XML namespaces.
const (
	// NamespaceV3 is HL7 V3's: the CDA document and the archive frames.
	NamespaceV3 = "urn:hl7-org:v3"
	// NamespaceFI is HL7 Finland's, of the local headers (the builders
	// bind it to the prefix hl7fi; readers match it whatever the prefix).
	NamespaceFI = "urn:hl7finland"
)

// Interactions of the archive requests and their answers.
const (
	InteractionNewHealth     = "RCMR_IN100002FI01" // new health care document
	InteractionReplaceHealth = "RCMR_IN100016FI01" // replacing (corrected) health care document
	InteractionSocial        = "RCMR_IN200002FI01" // social welfare document (new or replacing)
	// InteractionAck is HL7's accept acknowledgement.
	InteractionAck = "MCCI_IN000002UV01"
)

// Trigger events (controlActProcess/code) of the archive requests.
const (
	TriggerNewHealth     = "RCMR_TE000102UV01"
	TriggerReplaceHealth = "RCMR_TE000910UV01"
	// The social frames name the new-document trigger; whether a replacing
	// social document names another one is not public.
	TriggerSocial = "RCMR_TE000102UV01"
)

// Roots of identifiers (II/@root) and HL7's own identifier systems.
const (
	OIDHetu         = "1.2.246.21"            // henkilötunnus, the personal identity code
	OIDRegistration = "1.2.246.537.26"        // Valvira / JulkiTerhikki registration number of a professional
	OIDKantaDevice  = "1.2.246.556.18007.2"   // Kanta's device: receiver of requests, sender of acknowledgements
	OIDCDATypeID    = "2.16.840.1.113883.1.3" // ClinicalDocument/typeId (HL7 CDA R2)
	// CDATypeIDExtension is the typeId extension of a CDA R2 document.
	CDATypeIDExtension = "POCD_HD000040"
	OIDInteractionID   = "2.16.840.1.113883.1.6"  // interactionId/@root
	OIDTriggerEvent    = "2.16.840.1.113883.1.18" // controlActProcess/code/@codeSystem
)

// Profiles (templateId, profileId) of the health care frames: both real
// health frames name the two after interactionId; the first is also the
// frame's clinicalDocument/templateId.
const (
	ProfileHealthFrame     = "1.2.246.777.11.2015.5"
	ProfileHealthFrame2008 = "1.2.246.777.11.2008.10"
)

// Code systems of health care documents (patient data repository) and
// their frames.
const (
	SystemHealthRegister     = "1.2.246.537.5.40150.2009" // KanTa-palvelut - Potilasasiakirjan rekisteritunnus
	SystemProfession         = "1.2.246.537.6.140.2008"   // Terhikki - Ammattioikeudet
	SystemViews              = "1.2.246.537.6.12.2002"    // AR/YDIN - Näkymät
	SystemHealthFunction     = "1.2.246.537.6.300.2010"   // STM - Terveydenhuollon tehtäväluokitus
	SystemCustodianType      = "1.2.246.537.5.40172.2008" // eArkisto - Rekisteripitäjän laji
	SystemHealthRetention    = "1.2.246.537.5.40158.2008" // eArkisto - Säilytysaikaluokka
	SystemDocumentType       = "1.2.246.537.5.5001.2011"  // eArkisto - Asiakirjatyyppi
	SystemGender             = "1.2.246.537.5.1.1997"     // AR/YDIN - Sukupuoli
	SystemHealthGuardian     = "1.2.246.537.5.40202.201901"
	SystemHealthRequest      = "1.2.246.537.5.40157.2008"  // eArkisto - Arkistosanomien palvelupyynnöt (PP1)
	SystemCorrectionReason   = "1.2.246.537.5.40178.2008"  // eArkisto - Asiakirjan korvauksen syy
	SystemCareProcessPhase   = "1.2.246.537.6.13.2006"     // AR/YDIN - Hoitoprosessin vaihe (Kela's invalidation body also codes its heading here)
	SystemViewingRestriction = "1.2.246.537.6.1288.201901" // Perustelut asiakirjan näyttämisen rajaamiselle Omakannassa (both archives)
)

// Code systems of both archives.
const (
	SystemConfidentiality = "1.2.246.777.5.99902.2006" // KanTa-palvelut - Asiakirjan luottamuksellisuus
	SystemFileFormat      = "1.2.246.537.5.40179.2008" // eArkisto - Asiakirjan tiedostomuoto
	SystemRecordStatus    = "1.2.246.537.5.40154.2008" // eArkisto - Asiakirjan valmistumisen tila
	SystemCompletion      = "1.2.246.537.5.40115.2006" // KanTa-palvelut - Dokumentin valmiusaste
	SystemStorage         = "1.2.246.537.5.40116.2006" // KanTa-palvelut - Dokumentin arkistointikoodi
	SystemSignatureType   = "1.2.246.537.5.40127.2006" // signatureDescription/@code
	SystemYesNo           = "1.2.246.537.6.112.2007"   // AR/YDIN - Kyllä/Ei/Ei tietoa
	SystemServiceUnit     = "1.2.246.537.6.202.2008"   // THL - SOTE-organisaatiorekisteri: a service unit by its OID
)

// Code systems of social welfare documents (SHARK) and their frames.
const (
	SystemSocialRegister       = "1.2.246.537.6.1264.201701" // Sosiaalihuolto - Asiakirjan rekisteritunnus
	SystemSocialDocumentType   = "1.2.246.537.6.1506.201701" // Sosiaalihuolto - Asiakasasiakirjatyyppi
	SystemSocialDocumentGroup  = "1.2.246.537.6.1505.201601" // Sosiaalihuolto - Asiakirjaryhmä
	SystemSocialDisplayFormat  = "1.2.246.537.6.1502.201601" // Sosiaalihuolto - Asiakirjan näyttömuodon formaatti
	SystemSocialServiceTask    = "1.2.246.537.6.1221.201601" // Sosiaalihuolto - Palvelutehtävä
	SystemSocialRetention      = "1.2.246.537.6.1258.201601" // Sosiaalihuolto - asiakirjan kokonaissäilytysaika
	SystemSocialServiceProcess = "1.2.246.537.6.1277.201701" // Sosiaalihuolto - Sosiaalihuollon palveluprosessi
	SystemSocialGuardian       = "1.2.246.537.6.1286.201901" // Sosiaalihuolto - Alaikäisen asiakastietojen luovuttaminen huoltajille
	SystemSocialRequest        = "1.2.246.537.6.1503.201601" // Sosiaalihuolto - Arkistosanomien palvelupyynnöt (SP1, SP17)
	SystemSocialArchiveUse     = "1.2.246.537.6.1289.201901" // Sosiaalihuolto - Asiakastiedon arkiston käyttötilanne
)
