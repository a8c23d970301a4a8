// Package fhir builds, signs, verifies and inspects the FHIR R4 document
// Bundles that carry one entry revision on the FHIR route.
//
// # Model
//
// The resources are typed structs covering exactly the elements the gateway
// emits (Bundle, Composition, Patient, Practitioner, PractitionerRole,
// Organization, Encounter, Provenance). They encode to FHIR R4 JSON: empty
// values are omitted, every resource carries resourceType, choice types use
// their typed names (valueDate, valueCoding, ...). Encode with Marshal, which
// leaves markup unescaped ("<div", not "\u003cdiv"). Decoding is strict: an
// element the structs do not know is an error rather than silently dropped,
// so whatever decodes re-encodes to the same bytes. Resource types the
// package does not model decode into RawResource and are kept verbatim.
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
//   - Guardian: the HL7 Finland RestrictionParent extension (valueCoding,
//     1.2.246.537.5.40202.201901) on the Provenance exactly when the client
//     is a minor and the decision hides the entry from the guardian: 3 when
//     the minor has not consented, 4 when a professional prohibited it.
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
// # Signature (Sign, Verify, VerifyJSON)
//
// Bundle.signature holds a detached JWS (RS256, x5c chain and sigT signing
// time in the protected header) over the Bundle's canonical form: the JSON
// without Bundle.signature, serialized per RFC 8785 (JCS). See canonical.go.
package fhir
