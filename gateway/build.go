// Package gateway connects the pieces: export batches flow through the
// policy, document building and signing into the durable queue, and from
// there to Kanta. Data flows one way: adapter → documents → signing →
// queue → submit.
package gateway

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/cda"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/fhir"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
	"github.com/helsinki-student-welfare/kanta-gateway/signing"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// Builder turns a policy decision into signed deliveries: a CDA document
// in an HL7 V3 archive message, a FHIR document Bundle, or both, as the
// archive's route says.
type Builder struct {
	cfg     *config.Config
	orgs    map[string]organiser
	onBuilt func(archive documents.Archive, route string, signing time.Duration)
}

type organiser struct {
	org    documents.Organisation
	signer *signing.Signer
	ident  *signing.Identity
	trust  *ownTrust // organisations[].trust_roots; nil when not set
}

// BuiltDocument is one signed document of an entry revision, ready to
// queue, with the pieces `build` writes to disk.
type BuiltDocument struct {
	Delivery queue.Delivery
	CDA      []byte // signed CDA (route cda)
	Frame    []byte // the archive message carrying it (route cda)
	Bundle   []byte // signed FHIR Bundle JSON (route fhir)
}

// NewBuilder loads every organiser's signing identity and refuses to start
// with one that cannot sign now (expired, not yet valid, wrong OID).
func NewBuilder(cfg *config.Config, now time.Time) (*Builder, error) {
	b := &Builder{cfg: cfg, orgs: map[string]organiser{}}
	if err := checkCodeNames(cfg.Documents.Codes); err != nil {
		return nil, err
	}
	for i, o := range cfg.Organisations {
		var (
			id  *signing.Identity
			err error
		)
		switch {
		case o.PKCS12 != "":
			id, err = signing.LoadPKCS12(o.PKCS12, o.PKCS12Password)
		case o.CertPEM != "":
			id, err = signing.LoadPEM(o.CertPEM, o.KeyPEM)
		default:
			return nil, fmt.Errorf("organisations[%d] (%s): no signing identity configured (pkcs12 or cert_pem+key_pem)", i, o.OID)
		}
		if err != nil {
			return nil, fmt.Errorf("organisations[%d] (%s): %w", i, o.OID, err)
		}
		// A system certificate belongs to the register keeper the documents
		// name as custodian (custodian_oid, else oid).
		custodianOID, custodianName := o.Custodian()
		s, err := signing.NewSigner(id, custodianOID, o.SignatureType, now)
		if err != nil {
			return nil, fmt.Errorf("organisations[%d] (%s): %w", i, o.OID, err)
		}
		trust, err := loadOwnTrust(o.TrustRoots, id, now)
		if err != nil {
			return nil, fmt.Errorf("organisations[%d] (%s): %w", i, o.OID, err)
		}
		b.orgs[o.OID] = organiser{
			trust: trust,
			org: documents.Organisation{OID: o.OID, Name: o.Name, DocumentRoot: o.DocumentRoot,
				CustodianOID: custodianOID, CustodianName: custodianName},
			signer: s,
			ident:  id,
		}
	}
	return b, nil
}

// NewUnsignedBuilder builds every document a Builder does, from the same
// organisers, without signing it: `plan` decides with the ingestion's own
// build step (an entry whose document cannot be built is rejected there as
// in ingestion) without needing the signing keys.
func NewUnsignedBuilder(cfg *config.Config) (*Builder, error) {
	b := &Builder{cfg: cfg, orgs: map[string]organiser{}}
	if err := checkCodeNames(cfg.Documents.Codes); err != nil {
		return nil, err
	}
	for _, o := range cfg.Organisations {
		custodianOID, custodianName := o.Custodian()
		b.orgs[o.OID] = organiser{org: documents.Organisation{OID: o.OID, Name: o.Name, DocumentRoot: o.DocumentRoot,
			CustodianOID: custodianOID, CustodianName: custodianName}}
	}
	return b, nil
}

// errUnknownOrganiser refuses an entry of an organiser with no
// configuration: the entry's fault (quarantined naming the field).
var errUnknownOrganiser = &documents.FieldError{Field: "service.organiser_oid", Err: errors.New("organiser is not configured (no signing identity)")}

// Identities lists the signing identities by organiser OID (for the
// certificate-expiry metric).
func (b *Builder) Identities() map[string]*signing.Identity {
	out := make(map[string]*signing.Identity, len(b.orgs))
	for oid, o := range b.orgs {
		out[oid] = o.ident
	}
	return out
}

// Build makes the signed documents of one entry revision. at is the
// signature time; it is fixed in the documents, so the queued bytes are
// what every retry resends.
func (b *Builder) Build(e *documents.Entry, d documents.Decision, at time.Time) ([]BuiltDocument, error) {
	o, ok := b.orgs[e.Service.OrganiserOID]
	if !ok {
		return nil, errUnknownOrganiser
	}
	route := b.cfg.Documents.Route[d.Archive]
	if route == "" {
		route = "cda"
	}
	base := queue.Delivery{
		SetID:    documents.SetID(o.org.DocumentRoot, e.ID),
		Version:  e.Revision,
		EntryID:  e.ID,
		Revision: e.Revision,
		Archive:  d.Archive,
		Role:     d.Role,
		Register: d.Register,
	}
	base.NotBefore = d.NotBefore
	if rule := b.cfg.Policy.Roles[d.Role]; !rule.GoLive.IsZero() {
		base.HeldUntilGoLive = d.NotBefore.Equal(rule.GoLive.Start(b.cfg.Location()))
	}
	var out []BuiltDocument
	if route == "cda" || route == "both" {
		cdaBase := base
		if len(b.relationshipDocuments(e, d)) > 0 {
			// Never before the relationship's document (kanta-domain.md 8.2).
			cdaBase.After = documents.RelationshipSetID(o.org.DocumentRoot, e.ClientRelationship.ID)
			cdaBase.AfterWhat = "client relationship document"
		}
		bd, err := b.buildCDA(e, d, o, at, cdaBase)
		if err != nil {
			return nil, err
		}
		out = append(out, bd)
	}
	if route == "fhir" || route == "both" {
		bd, err := b.buildFHIR(e, d, o, at, base)
		if err != nil {
			return nil, err
		}
		out = append(out, bd)
	}
	return out, nil
}

func (b *Builder) buildCDA(e *documents.Entry, d documents.Decision, o organiser, at time.Time, base queue.Delivery) (BuiltDocument, error) {
	doc, err := cda.Build(e, d, o.org, b.cdaOptions(d.Archive))
	if err != nil {
		return BuiltDocument{}, err
	}
	signed, frame, err := b.signAndFrame(doc, o, d.Archive, documents.MessageID(o.org.DocumentRoot, e.ID, e.Revision), e.Author, at)
	if err != nil {
		return BuiltDocument{}, err
	}
	dl := base
	dl.DocumentID, dl.Route, dl.Interaction, dl.Payload = doc.ID, "cda", doc.Interaction, frame
	return BuiltDocument{Delivery: dl, CDA: signed, Frame: frame}, nil
}

// signAndFrame signs a built CDA document and wraps it in its archive
// message, for entries and client relationship documents alike.
func (b *Builder) signAndFrame(doc *cda.Document, o organiser, archive documents.Archive, messageID string, author documents.Author, at time.Time) (signed, frame []byte, err error) {
	start := time.Now()
	if o.signer != nil { // nil: an unsigned builder (plan)
		if err := o.signer.Sign(doc.Tree, doc.BodyID, at); err != nil {
			return nil, nil, fmt.Errorf("signing: %w", err)
		}
	}
	signDur := time.Since(start)
	if signed, err = doc.Bytes(); err != nil {
		return nil, nil, err
	}
	if err := o.trust.check(signed, doc.BodyID); err != nil {
		return nil, nil, err
	}
	processing := "D"
	if b.cfg.Environment == documents.EnvironmentProduction {
		processing = "P"
	}
	in := wire.MessageInput{
		Document:       signed,
		DocumentTree:   doc.Tree, // signed serialises this very tree: no second parse
		Interaction:    doc.Interaction,
		MessageID:      messageID,
		CreationTime:   at,
		ProcessingCode: processing,
		SenderOID:      b.cfg.Kanta.SenderFor(archive),
		ReceiverOID:    b.cfg.Kanta.ReceiverOID,
		// The frame names the professional by identity code, which the CDA
		// does not carry (kanta-domain.md 8.1). Never logged: FrameAuthor
		// prints without it.
		Author: wire.FrameAuthor{
			Hetu:               author.Hetu,
			RegistrationNumber: author.RegistrationNumber,
			Given:              author.Given,
			Family:             author.Family,
		},
		// SP17 for a client document; SP1 for a relationship document.
		SocialServiceRequest: doc.ServiceRequest,
	}
	if doc.Interaction == hl7.InteractionReplaceHealth {
		in.CorrectionReason = b.code("frame.correction_reason", "1")
	}
	if frame, err = wire.BuildMessage(in); err != nil {
		return nil, nil, err
	}
	if b.onBuilt != nil {
		b.onBuilt(archive, "cda", signDur)
	}
	return signed, frame, nil
}

// relationshipDocuments are the client relationship document versions an
// entry's decision calls for: those of a social welfare entry of a client
// relationship, sent as CDA. The FHIR route has no client relationship
// document (no public profile shows one), so a FHIR-only route has none.
func (b *Builder) relationshipDocuments(e *documents.Entry, d documents.Decision) []documents.RelationshipDocument {
	if d.Archive != documents.ArchiveSocial {
		return nil
	}
	switch d.Outcome {
	case documents.OutcomeSubmit, documents.OutcomeHold, documents.OutcomeInvalidate:
	default:
		return nil
	}
	if route := b.cfg.Documents.Route[d.Archive]; route != "" && route != "cda" && route != "both" {
		return nil
	}
	return documents.RelationshipDocuments(e)
}

// RelationshipDocumentIDs are the document ids of the relationship
// document versions an entry's decision calls for (see
// relationshipDocuments), unbuilt; nil when its organiser is unknown.
func (b *Builder) RelationshipDocumentIDs(e *documents.Entry, d documents.Decision) []string {
	o, ok := b.orgs[e.Service.OrganiserOID]
	if !ok {
		return nil
	}
	var ids []string
	for _, r := range b.relationshipDocuments(e, d) {
		ids = append(ids, documents.RelationshipDocumentID(o.org.DocumentRoot, r.Relationship.ID, r.Version))
	}
	return ids
}

// BuildRelationship makes the signed client relationship document version
// r, built from entry e (its client, service and author) and queued with
// e's revision, held like e. Several entries call for it; the queue
// inserts it once (queue.Delivery.Shared).
func (b *Builder) BuildRelationship(r documents.RelationshipDocument, e *documents.Entry, d documents.Decision, at time.Time) (BuiltDocument, error) {
	o, ok := b.orgs[e.Service.OrganiserOID]
	if !ok {
		return BuiltDocument{}, errUnknownOrganiser
	}
	doc, err := cda.BuildRelationship(r, o.org, b.cdaOptions(documents.ArchiveSocial))
	if err != nil {
		return BuiltDocument{}, err
	}
	// The frame's author is the responsible worker, as in the real SP1 frame.
	signed, frame, err := b.signAndFrame(doc, o, documents.ArchiveSocial,
		documents.RelationshipMessageID(o.org.DocumentRoot, r.Relationship.ID, r.Version), r.Worker, at)
	if err != nil {
		return BuiltDocument{}, err
	}
	dl := queue.Delivery{
		DocumentID: doc.ID, SetID: doc.SetID, Version: r.Version,
		EntryID: e.ID, Revision: e.Revision,
		Archive: d.Archive, Role: d.Role, Register: d.Register,
		Route: "cda", Interaction: doc.Interaction, Payload: frame,
		NotBefore: d.NotBefore,
		Shared:    true,
	}
	if rule := b.cfg.Policy.Roles[d.Role]; !rule.GoLive.IsZero() {
		dl.HeldUntilGoLive = d.NotBefore.Equal(rule.GoLive.Start(b.cfg.Location()))
	}
	return BuiltDocument{Delivery: dl, CDA: signed, Frame: frame}, nil
}

func (b *Builder) buildFHIR(e *documents.Entry, d documents.Decision, o organiser, at time.Time, base queue.Delivery) (BuiltDocument, error) {
	bundle, err := fhir.Build(e, d, o.org, fhir.Options{Codes: b.cfg.Documents.Codes})
	if err != nil {
		return BuiltDocument{}, err
	}
	start := time.Now()
	if o.ident != nil { // nil: an unsigned builder (plan)
		chain := append([]*x509.Certificate{o.ident.Cert}, o.ident.Chain...)
		if err := fhir.Sign(bundle, o.ident.Key, chain, at, o.org.OID); err != nil {
			return BuiltDocument{}, fmt.Errorf("signing bundle: %w", err)
		}
	}
	signDur := time.Since(start)
	raw, err := fhir.Marshal(bundle)
	if err != nil {
		return BuiltDocument{}, err
	}
	dl := base
	// The FHIR copy is its own delivery (own id) of the same set and version.
	dl.DocumentID = documents.FHIRBundleID(o.org.DocumentRoot, e.ID, e.Revision)
	dl.Route, dl.Interaction, dl.Payload = "fhir", "fhir-bundle", raw
	if b.onBuilt != nil {
		b.onBuilt(d.Archive, "fhir", signDur)
	}
	return BuiltDocument{Delivery: dl, Bundle: raw}, nil
}

// cdaOptions are the CDA builders' options from the configuration.
func (b *Builder) cdaOptions(archive documents.Archive) cda.Options {
	s := b.cfg.Documents.Social
	return cda.Options{
		Codes:        b.cfg.Documents.Codes,
		Invalidation: b.cfg.Documents.Invalidation[archive],
		Social:       cda.SocialOptions{EntryTypes: s.EntryTypes, Titles: s.Titles, ReleaseDate: s.ReleaseDate},
	}
}

func (b *Builder) code(name, def string) string {
	if v, ok := b.cfg.Documents.Codes[name]; ok && v != "" {
		return v
	}
	if v, ok := frameCodes[name]; ok {
		return v
	}
	return def
}

// checkCodeNames refuses a code override no builder knows, at start-up
// rather than at the first entry.
func checkCodeNames(codes map[string]string) error {
	_, err := CodeTable(codes)
	return err
}
