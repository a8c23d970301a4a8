// Package fhir builds, signs, verifies and inspects the FHIR R4 document
// Bundles that carry one entry revision on the FHIR route.
//
// # Model
//
// Resources and datatypes are samply's FHIR R4 models
// (github.com/samply/golang-fhir-models/fhir-models/fhir), as type aliases:
// optional elements are pointers, required codes are samply's enums. By
// hand, each for a defect a test shows (model.go, model_test.go):
// Composition, whose relatesTo has target[x] as one of two pointers
// (samply's writes both), and Bundle and BundleEntry, whose resources are
// decoded by resourceType (samply keeps raw JSON). Encode with Marshal,
// which leaves markup unescaped ("<div", not "\u003cdiv") and puts
// resourceType first. Decoding is strict: an element the types do not know
// is an error, and so is a missing element the types hold as a value or an
// empty array they would omit (samply alone would silently drop contained
// resources and _element extensions, and read a missing code as its enum's
// first value), so whatever decodes re-encodes to the same canonical form.
// Resource types the package does not model decode into RawResource and are
// kept verbatim.
//
// # Mapping (Build)
//
// One document Bundle per entry revision. Entries, in order: Composition,
// Patient, Practitioner, PractitionerRole, organiser Organization, provider
// Organization (outsourced service only), service unit Organization,
// Encounter, Provenance. Ids and fullUrls are name-based UUIDs (v5) of the
// revision's document id and the resource's kind: rebuilding gives
// byte-identical JSON.
//
//   - Bundle.id = documents.FHIRBundleID; Bundle.identifier = urn:oid:DocumentID
//     (system urn:ietf:rfc:3986); timestamp = finalized_at in its own offset.
//   - Versions: Composition.identifier = urn:oid:SetID (shared by all
//     versions); version number in the R5 Composition.version cross-version
//     extension; revision > 1 has relatesTo replaces + targetIdentifier =
//     the previous version's DocumentID. Status final (revision 1), amended
//     (revision > 1), entered-in-error (an invalidation, itself a new
//     version replacing the previous one; revision 1 cannot be one).
//   - Register: category = health care register 2 (1.2.246.537.5.40150.2009)
//     or social welfare register type 1 (1.2.246.537.6.1264.201701); type =
//     psychology view / social welfare client document type.
//   - Confidentiality: the national code (5/6, 1.2.246.777.5.99902.2006) and
//     v3-Confidentiality R are security labels on Bundle.meta and
//     Composition.meta; Composition.confidentiality = R.
//   - MyKanta: a delay is the HL7 Finland ReleaseDateForPatientViewing
//     extension (valueDate) on the Provenance; a concealment is the security
//     label v3-ActCode NOPAT on Bundle and Composition. The reason code and
//     text go to Provenance.reason.
//   - Guardian: the HL7 Finland RestrictionParent extension (valueCoding
//     with display, 1.2.246.537.5.40202.201901) on the Provenance of every
//     minor's document, from the decision's guardian basis as on the CDA
//     route (the FHIR FI value set): 1 not capable of deciding, disclosed;
//     2 capable, allows; 3 capable, forbids; 4 capability unknown, not
//     disclosed (also a professional's prohibition, configurable).
//   - Organisations carry urn:oid:<OID> as an urn:ietf:rfc:3986 identifier.
//     The author's PractitionerRole is at the organiser, or at the provider
//     for an outsourced service (the Provenance agent then acts on behalf
//     of the organiser); the unit is part of that organisation and is the
//     Encounter's serviceProvider; the custodian is always the organiser.
//   - Encounter: status finished, class AMB (visit, consultation) or VR
//     (phone, remote, record-only), identifier = Apotti's contact id under
//     system urn:oid:<organiser OID>.
//   - Narrative: one section whose div holds the text as <p> paragraphs
//     (blank lines) with <br/> line breaks, markup escaped; characters XML
//     cannot carry are refused with an InvalidCharError naming only the
//     field, offset and code point.
//
// Every code the domain notes do not confirm is in one table (codes.go,
// DefaultCodes) and can be overridden by name through Options.Codes.
//
// # Validation (Validate, ParseJSON, ValidateParsed)
//
// The official R4 JSON Schema, with its two oneOf lists over all 146
// resource types replaced by the schema's own resourceType discriminator:
// each resource is checked against its own definition (see validate.go).
// A receiver parses once (ParseJSON) and hands the value to ValidateParsed,
// UnmarshalParsed and VerifyParsed.
//
// # Signature (Sign, Verify, VerifyJSON, VerifyParsed)
//
// Bundle.signature holds a detached JWS (RS256, x5c chain and sigT signing
// time in the protected header) over the Bundle's canonical form: the JSON
// without Bundle.signature, serialized per RFC 8785 (JCS). See canonical.go.
package fhir
