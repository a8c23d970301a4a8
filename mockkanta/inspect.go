package mockkanta

import (
	"crypto/x509"
	"errors"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/cda"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7/hl7xml"
	"github.com/helsinki-student-welfare/kanta-gateway/signing"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// cdaInspector checks an HL7 V3 archive request carrying a signed CDA
// document, in the order Kanta would: frame, metadata copy, profile,
// signatures, signer fit, interaction fit, identity code. Version order and
// idempotency are the store's (they need the archive's state).
type cdaInspector struct {
	env     Environment
	roots   *x509.CertPool
	chains  *signing.ChainCache // of roots: the gateway signs with one certificate
	profile Profile
	schema  SchemaValidator // health care documents against CDA_Fi.xsd
	// now is the receipt time, skew how far a signature timestamp may lie
	// after it (Config.MaxSignatureSkew).
	now  func() time.Time
	skew time.Duration
}

func (c *cdaInspector) inspect(raw []byte) inspection {
	msg, err := wire.ParseMessage(raw)
	switch {
	case errors.Is(err, wire.ErrUnknownInteraction):
		return inspection{detail: wire.DetailUnknownInteraction}
	case errors.Is(err, wire.ErrMetadataMismatch), errors.Is(err, wire.ErrContentID):
		return inspection{detail: wire.DetailMetadataMismatch}
	case err != nil || msg == nil || len(msg.Document) == 0:
		return inspection{detail: wire.DetailMalformedFrame}
	}
	res := inspection{messageID: msg.MessageID}
	refuse := func(detail string) inspection { res.detail = detail; return res }

	switch msg.Interaction {
	case hl7.InteractionNewHealth, hl7.InteractionReplaceHealth, hl7.InteractionSocial:
	default:
		return refuse(wire.DetailUnknownInteraction)
	}
	if want := c.env.processingCode(); msg.ProcessingCode != want {
		return refuse(wire.DetailProcessingCode)
	}

	h, err := cda.InspectTree(msg.DocumentTree)
	if err != nil {
		if strings.Contains(err.Error(), "hl7fi:json") {
			return refuse(wire.DetailStructuredContentInvalid) // not base64
		}
		return refuse(wire.DetailProfileViolation)
	}
	if msg.DocumentID != h.DocumentID || msg.SetID != h.SetID || msg.Version != h.Version ||
		msg.Hetu != h.Hetu || (msg.ContentID != "" && msg.ContentID != h.DocumentID) {
		return refuse(wire.DetailMetadataMismatch)
	}
	if c.profile != ProfileMinimal {
		if err := cda.CheckProfileTree(msg.DocumentTree); err != nil {
			return refuse(wire.DetailProfileViolation)
		}
	}
	// A DTD is never handed to libxml2 (signature verification refuses it
	// below).
	if h.Archive == documents.ArchivePatient && !hasDirective(msg.DocumentTree) {
		if err := c.schema.ValidateCDA(msg.Document); err != nil {
			return refuse(wire.DetailSchemaViolation)
		}
	}
	// Versioning rules of the document itself (not of the archive's state).
	if h.Version < 1 || (h.Version == 1) != (h.Replaces == nil) ||
		(h.Version == 1 && h.SetID != h.DocumentID) ||
		(h.Replaces != nil && (h.Replaces.SetID != h.SetID || h.Replaces.Version != h.Version-1)) {
		return refuse(wire.DetailProfileViolation)
	}

	sigs, err := signing.VerifyTree(msg.DocumentTree, signing.VerifyOptions{Roots: c.roots, Chains: c.chains,
		ReceivedAt: c.now(), MaxFutureSkew: c.skew})
	if err != nil {
		return refuse(signatureDetail(err))
	}
	var facts documentFacts
	factsFor := map[string]documentFacts{} // by organiser OID asked about
	for _, s := range sigs {
		org := ""
		if s.SignatureType == signing.TypeSystem {
			org = s.SignerSerialNumber
		}
		f, ok := factsFor[org]
		if !ok {
			f = readFacts(msg.DocumentTree.Root(), org)
			factsFor[org] = f
		}
		facts = f
		if !signerFits(s, h, f) {
			return refuse(wire.DetailSignatureTypeMismatch)
		}
	}

	if !interactionFits(msg.Interaction, h) {
		return refuse(wire.DetailInteractionMismatch)
	}

	if detail := c.env.identityDetail(h.Hetu, facts.patientIDRoot); detail != "" {
		return refuse(detail)
	}
	if c.env == EnvironmentTest && cdaHasNonTestHetu(raw, msg.Document, msg.DocumentTree) {
		return refuse(wire.DetailIdentityInContent)
	}
	var request string
	if h.Archive == documents.ArchiveSocial {
		var detail string
		if request, detail = checkSocial(msg, h); detail != "" {
			return refuse(detail)
		}
	}

	d := &Document{
		ID:                 h.DocumentID,
		SetID:              h.SetID,
		Version:            h.Version,
		Archive:            h.Archive,
		Interaction:        msg.Interaction,
		Hetu:               h.Hetu,
		AuthorRole:         h.AuthorRole,
		ReleaseDate:        h.ReleaseDate,
		Concealed:          h.Concealed,
		GuardianDisclosure: h.GuardianDisclosure && minorOn(h.Hetu, h.EffectiveTime),
		Confidentiality:    h.Confidentiality,
		SignatureType:      sigs[0].SignatureType,
		EnteredInError:     h.EnteredInError,
		Format:             FormatCDA,
		Content:            msg.Document,
		ServiceRequest:     request,
		DocumentGroup:      h.DocumentGroup,
		Custodian:          custodianOf(msg.DocumentTree.Root()),
	}
	if h.Replaces != nil {
		d.ReplacesID, d.ReplacesVersion = h.Replaces.ID, h.Replaces.Version
	}
	res.doc = d
	return res
}

// identityDetail checks the client's id. A henkilötunnus (root 1.2.246.21)
// must be valid, and a test code exactly in the test environment. Any other
// root is an organisation's temporary patient identifier (as in Kanta's own
// test data): it carries no test/real marker, so the test environment takes
// it and production, where the gateway only ever sends henkilötunnus,
// refuses it.
func (env Environment) identityDetail(id, root string) string {
	if root != hl7.OIDHetu {
		if id == "" || env == EnvironmentProduction {
			return wire.DetailInvalidIdentity
		}
		return ""
	}
	info, err := documents.ParseHetu(id)
	switch {
	case err != nil:
		return wire.DetailInvalidIdentity
	case env == EnvironmentTest && !info.IsTestCode():
		return wire.DetailNotTestIdentity
	case env == EnvironmentProduction && info.IsTestCode():
		return wire.DetailTestIdentity
	}
	return ""
}

// signatureDetail maps a signing.Verify error to its detail code by the
// error's kind (signing.KindOf), never by its message.
func signatureDetail(err error) string {
	switch signing.KindOf(err) {
	case signing.ErrSignedInFuture:
		return wire.DetailSignedInFuture
	case signing.ErrSignerExpiredAtReceipt:
		return wire.DetailSignerExpiredAtReceipt
	case signing.ErrTLSCertificate:
		return wire.DetailSignerNotSigningCertificate
	case signing.ErrSignerNotTrusted:
		return wire.DetailSignerNotTrusted
	case signing.ErrSignerMismatch:
		return wire.DetailSignatureTypeMismatch
	case signing.ErrSignatureMissing:
		return wire.DetailSignatureMissing
	}
	return wire.DetailSignatureInvalid
}

// signerFits: a system signature (type 3) is made with the organisation's
// system certificate, whose subject serialNumber is the organisation's OID:
// the document's custodian (register keeper) or, for an outsourced service,
// the organiser named in outsourcingServiceCustomer. A professional's
// signature (type 1) uses the card whose serialNumber is the author's
// registration number.
func signerFits(s signing.SignatureInfo, h *cda.Header, facts documentFacts) bool {
	switch s.SignatureType {
	case signing.TypeSystem:
		return documents.ValidOID(s.SignerSerialNumber) && facts.organiserSeen
	case signing.TypeProfessional:
		return s.SignerSerialNumber != "" && s.SignerSerialNumber == h.AuthorRegistration
	}
	return false
}

// interactionFits: social welfare documents (any version) travel in
// RCMR_IN200002FI01; a health care document's first version in
// RCMR_IN100002FI01 and its replacements in RCMR_IN100016FI01.
func interactionFits(interaction string, h *cda.Header) bool {
	switch h.Archive {
	case documents.ArchiveSocial:
		return interaction == hl7.InteractionSocial
	case documents.ArchivePatient:
		if h.Version == 1 {
			return interaction == hl7.InteractionNewHealth
		}
		return interaction == hl7.InteractionReplaceHealth
	}
	return false
}

// documentFacts are what the checks need beyond cda.Header: the root of
// the client's id, and whether the document names a given organisation as
// custodian (register keeper) or outsourcingServiceCustomer (organiser).
type documentFacts struct {
	patientIDRoot string
	organiserSeen bool
}

// readFacts reads the facts from the document's tree (parsed once, with
// the frame).
func readFacts(root *etree.Element, organiser string) documentFacts {
	var f documentFacts
	for _, id := range hl7xml.ByLocalName(root, "recordTarget", "patientRole", "id") {
		if r := id.SelectAttrValue("root", ""); f.patientIDRoot == "" || r == hl7.OIDHetu {
			f.patientIDRoot = r
		}
	}
	if organiser == "" {
		return f
	}
	for _, p := range [][]string{
		{"custodian", "assignedCustodian", "representedCustodianOrganization", "id"},
		{"localHeader", "outsourcingServiceCustomer"},
		{"localSocialHeader", "outsourcingServiceCustomer"},
	} {
		for _, el := range hl7xml.ByLocalName(root, p...) {
			if el.SelectAttrValue("root", "") == organiser {
				f.organiserSeen = true
			}
		}
	}
	return f
}

// minorOn reports whether the client was under 18 on the document's date.
// Guardian disclosure only means something for a minor: whatever flag a
// format carries for an adult (the social CDA always carries a consent
// code, the FHIR Bundle restricts only minors), the archive records "no".
func minorOn(hetu string, at time.Time) bool {
	info, err := documents.ParseHetu(hetu)
	if err != nil || at.IsZero() {
		return true // not a henkilötunnus (temporary id): keep the document's own flag
	}
	return info.BirthDate.AgeOn(documents.DateOf(at.In(finland()))) < 18
}
