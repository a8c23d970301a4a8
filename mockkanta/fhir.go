package mockkanta

import (
	"crypto/x509"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	models "github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/fhir"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/signing"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// DetailCodeSystem is the system of the detail code (wire.DetailCodes) in
// OperationOutcome.issue.details.coding. The table is ours, not Kanta's.
const DetailCodeSystem = "urn:kanta-gateway:ack-detail"

// OperationOutcome is the FHIR route's answer body, on success and failure.
type OperationOutcome struct {
	ResourceType string         `json:"resourceType"` // "OperationOutcome"
	Issue        []OutcomeIssue `json:"issue"`
}

// OutcomeIssue is one OperationOutcome.issue. Diagnostics name rules and
// JSON pointers, never values (they may hold identity codes or entry text).
type OutcomeIssue struct {
	Severity    string                `json:"severity"` // information, error
	Code        string                `json:"code"`     // FHIR issue-type
	Details     *fhir.CodeableConcept `json:"details,omitempty"`
	Diagnostics string                `json:"diagnostics,omitempty"`
}

// Detail returns the detail code of the outcome's first issue ("" if none).
func (o OperationOutcome) Detail() string {
	for _, is := range o.Issue {
		if is.Details != nil {
			for _, c := range is.Details.Coding {
				if strOf(c.System) == DetailCodeSystem {
					return strOf(c.Code)
				}
			}
		}
	}
	return ""
}

// fhirAnswer is how the FHIR route answers a detail code: the HTTP status
// and the FHIR issue-type. The gateway's classifier reads only the status:
// 201 accepted, 200 duplicate, 408/429/5xx retry, any other 4xx permanent.
// So every AE detail (may succeed later) must be a 5xx or 429.
var fhirAnswer = map[string]struct {
	status int
	issue  string
}{
	wire.DetailAccepted:           {http.StatusCreated, "informational"},
	wire.DetailDuplicate:          {http.StatusOK, "informational"},
	wire.DetailServiceUnavailable: {http.StatusServiceUnavailable, "transient"},
	wire.DetailRateLimited:        {http.StatusTooManyRequests, "throttled"},
	wire.DetailInternalError:      {http.StatusInternalServerError, "exception"},
	// An earlier version may still be on its way: retryable, not 409.
	wire.DetailVersionOutOfOrder:           {http.StatusServiceUnavailable, "transient"},
	wire.DetailMalformedFrame:              {http.StatusBadRequest, "structure"},
	wire.DetailProfileViolation:            {http.StatusUnprocessableEntity, "invalid"},
	wire.DetailSignatureMissing:            {http.StatusUnprocessableEntity, "security"},
	wire.DetailSignatureInvalid:            {http.StatusUnprocessableEntity, "security"},
	wire.DetailSignerNotTrusted:            {http.StatusUnprocessableEntity, "security"},
	wire.DetailSignatureTypeMismatch:       {http.StatusUnprocessableEntity, "security"},
	wire.DetailSignedInFuture:              {http.StatusUnprocessableEntity, "security"},
	wire.DetailSignerExpiredAtReceipt:      {http.StatusUnprocessableEntity, "security"},
	wire.DetailSignerNotSigningCertificate: {http.StatusUnprocessableEntity, "security"},
	wire.DetailVersionConflict:             {http.StatusConflict, "conflict"},
	wire.DetailSetInvalidated:              {http.StatusConflict, "business-rule"},
	wire.DetailInvalidIdentity:             {http.StatusUnprocessableEntity, "value"},
	wire.DetailNotTestIdentity:             {http.StatusUnprocessableEntity, "business-rule"},
	wire.DetailTestIdentity:                {http.StatusUnprocessableEntity, "business-rule"},
	wire.DetailIdentityInContent:           {http.StatusUnprocessableEntity, "business-rule"},
}

// outOfOrderRetryAfter is the Retry-After (seconds) of a version that
// arrived before its predecessor.
const outOfOrderRetryAfter = 2

// fhirInspection is the outcome of checking one Bundle: a document for the
// store, or a refusal. status and issue override fhirAnswer (schema
// errors are 400 "structure" though their detail is PROFILE_VIOLATION).
type fhirInspection struct {
	doc         *Document
	detail      string
	status      int
	issue       string
	diagnostics []string
}

// fhirInspector checks a FHIR R4 document Bundle in the order Kanta would:
// JSON Schema, document profile, signature, signer fit, identity code.
// Version order and idempotency are the store's, shared with the CDA route.
type fhirInspector struct {
	env   Environment
	roots *x509.CertPool
	// chains remembers the signers' chains verified to roots.
	chains *fhir.ChainCache
	now    func() time.Time // receipt time
	skew   time.Duration    // how far a signing time may lie after it
}

func newFHIRInspector(cfg Config, roots *x509.CertPool) *fhirInspector {
	return &fhirInspector{env: cfg.Environment, roots: roots, chains: fhir.NewChainCache(),
		now: cfg.Clock.Now, skew: cfg.MaxSignatureSkew}
}

// System URIs the profile requires (documents/fhir writes them).
const (
	systemURI          = "urn:ietf:rfc:3986"
	systemHetu         = "urn:oid:" + hl7.OIDHetu
	systemRegistration = "urn:oid:" + hl7.OIDRegistration
)

func refuseFHIR(detail string, diagnostics ...string) fhirInspection {
	return fhirInspection{detail: detail, diagnostics: diagnostics}
}

func (f *fhirInspector) inspect(raw []byte) fhirInspection {
	// Parsed once: the schema, the signature's canonical form and the
	// identity scan all read this value.
	parsed, err := fhir.ParseJSON(raw)
	top, isObject := parsed.(map[string]any)
	if err != nil || !isObject {
		return fhirInspection{detail: wire.DetailMalformedFrame, issue: "structure",
			diagnostics: []string{"body is not a JSON object"}}
	}
	if top["resourceType"] != "Bundle" {
		return fhirInspection{detail: wire.DetailMalformedFrame, issue: "structure",
			diagnostics: []string{"/resourceType: a Bundle is required"}}
	}
	if err := fhir.ValidateParsed(parsed); err != nil {
		var se *fhir.SchemaError
		if errors.As(err, &se) {
			// Problems are "JSON pointer: keyword", never values.
			return fhirInspection{detail: wire.DetailProfileViolation, status: http.StatusBadRequest,
				issue: "structure", diagnostics: se.Problems}
		}
		return fhirInspection{detail: wire.DetailMalformedFrame, issue: "structure",
			diagnostics: []string{"body is not FHIR R4 JSON"}}
	}
	b, err := fhir.UnmarshalParsed(raw, parsed)
	if err != nil {
		// Valid R4, but with elements the document profile does not have.
		return fhirInspection{detail: wire.DetailProfileViolation, issue: "not-supported",
			diagnostics: []string{"Bundle holds elements or resources outside the document profile"}}
	}

	if b.Type != models.BundleTypeDocument {
		return refuseFHIR(wire.DetailProfileViolation, "/type: a document Bundle is required")
	}
	if strOf(b.Id) == "" {
		return fhirInspection{detail: wire.DetailProfileViolation, issue: "required", diagnostics: []string{"/id: the Bundle needs an id"}}
	}
	if b.Identifier == nil || strOf(b.Identifier.System) != systemURI || !strings.HasPrefix(strOf(b.Identifier.Value), "urn:oid:") ||
		!documents.ValidOID(strings.TrimPrefix(strOf(b.Identifier.Value), "urn:oid:")) {
		return refuseFHIR(wire.DetailProfileViolation, "/identifier: the document id must be urn:oid:<OID> under "+systemURI)
	}
	comp, ok := firstComposition(b)
	if !ok {
		return refuseFHIR(wire.DetailProfileViolation, "/entry/0/resource: the first entry must be the Composition")
	}
	sum, err := fhir.Inspect(b)
	if err != nil {
		// Inspect's messages name elements and codes, not personal data.
		return refuseFHIR(wire.DetailProfileViolation, err.Error())
	}
	if msg := versionProblem(sum); msg != "" {
		return refuseFHIR(wire.DetailProfileViolation, msg)
	}
	if sum.AuthorRole != documents.RolePsychologist && sum.AuthorRole != documents.RoleSchoolWelfareOfficer {
		return refuseFHIR(wire.DetailProfileViolation, "Composition.author: PractitionerRole.code names no known author role")
	}
	if sum.Confidentiality == "" {
		return refuseFHIR(wire.DetailProfileViolation, "Composition.meta.security: the national confidentiality code is missing")
	}
	byURL := make(map[string]fhir.Resource, len(b.Entry))
	for _, e := range b.Entry {
		byURL[strOf(e.FullUrl)] = e.Resource
	}
	if !authorRegistered(comp, byURL) {
		return refuseFHIR(wire.DetailProfileViolation, "Practitioner: the author needs an identifier under "+systemRegistration)
	}
	custodian := custodianOID(comp, byURL)
	if custodian == "" {
		return refuseFHIR(wire.DetailProfileViolation, "Composition.custodian: an Organization with a urn:oid: identifier is required")
	}
	if sum.Hetu == "" {
		return refuseFHIR(wire.DetailInvalidIdentity, "Composition.subject: the Patient needs an identifier under "+systemHetu)
	}

	if b.Signature == nil {
		return refuseFHIR(wire.DetailSignatureMissing, "/signature: the Bundle is not signed")
	}
	leaf, err := fhir.VerifyParsedWith(parsed, b, fhir.VerifyOptions{Roots: f.roots, Chains: f.chains,
		ReceivedAt: f.now(), MaxFutureSkew: f.skew})
	if err != nil {
		return refuseFHIR(fhirSignatureDetail(err), "/signature: "+detailText(fhirSignatureDetail(err)))
	}
	// A system signature: the certificate of the organisation keeping the
	// register, whose subject serialNumber is its OID.
	if leaf.Subject.SerialNumber != custodian {
		return refuseFHIR(wire.DetailSignatureTypeMismatch,
			"/signature: the signer certificate's serialNumber must be the custodian organisation's OID")
	}
	if detail := f.env.identityDetail(sum.Hetu, hl7.OIDHetu); detail != "" {
		return refuseFHIR(detail, "Patient.identifier: "+detailText(detail))
	}
	if f.env == EnvironmentTest && jsonHasNonTestHetu(parsed) {
		return refuseFHIR(wire.DetailIdentityInContent, detailText(wire.DetailIdentityInContent))
	}

	d := &Document{
		ID:                 strOf(b.Id),
		DocumentID:         sum.DocumentID,
		SetID:              sum.SetID,
		Version:            sum.Version,
		Archive:            sum.Archive,
		Hetu:               sum.Hetu,
		AuthorRole:         sum.AuthorRole,
		ReleaseDate:        sum.ReleaseDate,
		Concealed:          sum.Concealed,
		GuardianDisclosure: sum.GuardianDisclosed && minorOn(sum.Hetu, bundleTime(b)),
		Confidentiality:    sum.Confidentiality,
		SignatureType:      signing.TypeSystem,
		EnteredInError:     sum.Status == "entered-in-error",
		Format:             FormatFHIR,
		Content:            raw,
	}
	if sum.Replaces != "" {
		d.ReplacesID, d.ReplacesVersion = sum.Replaces, sum.Version-1
	}
	return fhirInspection{doc: d}
}

func firstComposition(b *fhir.Bundle) (*fhir.Composition, bool) {
	if len(b.Entry) == 0 {
		return nil, false
	}
	c, ok := b.Entry[0].Resource.(*fhir.Composition)
	return c, ok
}

// versionProblem checks the versioning rules of the document itself (the
// archive's state is the store's): version 1 is final, starts its set and
// replaces nothing; a later version is amended or entered-in-error and
// replaces another document of the set.
func versionProblem(s fhir.Summary) string {
	switch {
	case !documents.ValidOID(s.SetID):
		return "Composition.identifier: the set id must be urn:oid:<OID>"
	case s.Version < 1:
		return "Composition.extension: the version extension is missing"
	case s.Version == 1 && (s.Replaces != "" || s.SetID != s.DocumentID || s.Status != "final"):
		return "version 1 must be final, replace nothing and have the set id as its document id"
	case s.Version > 1 && (s.Replaces == "" || s.Replaces == s.DocumentID ||
		(s.Status != "amended" && s.Status != "entered-in-error")):
		return "a version after 1 must be amended or entered-in-error and replace an earlier version (relatesTo replaces)"
	}
	return ""
}

// authorRegistered: the author's PractitionerRole names a Practitioner with
// a registration number (Valvira / Suosikki, urn:oid:1.2.246.537.26).
func authorRegistered(comp *fhir.Composition, byURL map[string]fhir.Resource) bool {
	if len(comp.Author) == 0 {
		return false
	}
	role, ok := byURL[strOf(comp.Author[0].Reference)].(*fhir.PractitionerRole)
	if !ok || role.Practitioner == nil {
		return false
	}
	p, ok := byURL[strOf(role.Practitioner.Reference)].(*fhir.Practitioner)
	if !ok {
		return false
	}
	for _, id := range p.Identifier {
		if strOf(id.System) == systemRegistration && strOf(id.Value) != "" {
			return true
		}
	}
	return false
}

// custodianOID is the OID of the Composition's custodian Organization.
func custodianOID(comp *fhir.Composition, byURL map[string]fhir.Resource) string {
	if comp.Custodian == nil {
		return ""
	}
	org, ok := byURL[strOf(comp.Custodian.Reference)].(*fhir.Organization)
	if !ok {
		return ""
	}
	for _, id := range org.Identifier {
		if oid := strings.TrimPrefix(strOf(id.Value), "urn:oid:"); strOf(id.System) == systemURI && oid != strOf(id.Value) && documents.ValidOID(oid) {
			return oid
		}
	}
	return ""
}

// fhirSignatureDetail classifies a fhir.VerifyParsedWith error: the
// receipt-time and certificate-kind checks (as the CDA route's), a chain
// that does not lead to a trusted root (x509's errors, wrapped), or
// anything else about the signature.
func fhirSignatureDetail(err error) string {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.Is(err, fhir.ErrSignedInFuture):
		return wire.DetailSignedInFuture
	case errors.Is(err, fhir.ErrSignerExpiredAtReceipt):
		return wire.DetailSignerExpiredAtReceipt
	case errors.Is(err, fhir.ErrTLSCertificate):
		return wire.DetailSignerNotSigningCertificate
	case errors.As(err, &unknown) || errors.As(err, &invalid):
		return wire.DetailSignerNotTrusted
	}
	return wire.DetailSignatureInvalid
}

// fhirMediaType reports whether a request body type is one the route takes.
func fhirMediaType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/fhir+json" || mt == "application/json")
}

// handleFHIRBundle is the FHIR archive interface: the same faults as the
// archive interface, then the checks, then the same store.
func (s *Server) handleFHIRBundle(w http.ResponseWriter, r *http.Request) {
	plan := s.faults.plan(s.now())
	if s.answerFault(w, r, plan, func(status int, detail string) {
		s.stats.count(FormatFHIR, detail)
		s.writeOutcome(w, status, "", detail)
	}) {
		return
	}
	if !fhirMediaType(r.Header.Get("Content-Type")) {
		s.stats.count(FormatFHIR, wire.DetailMalformedFrame)
		s.writeOutcome(w, http.StatusUnsupportedMediaType, "not-supported", wire.DetailMalformedFrame,
			"Content-Type must be application/fhir+json")
		return
	}
	raw, err := s.readBody(w, r)
	if err != nil {
		s.stats.count(FormatFHIR, wire.DetailMalformedFrame)
		s.writeOutcome(w, http.StatusRequestEntityTooLarge, "too-costly", wire.DetailMalformedFrame, "request body unreadable or too large")
		return
	}
	insp := s.fhir.inspect(raw)
	detail := s.archive(r.Context(), FormatFHIR, insp.doc, insp.detail)
	bundleID := ""
	if insp.doc != nil {
		bundleID = insp.doc.ID
	}
	s.log.Info("FHIR archive request", "bundle_id", bundleID, "detail", detail)

	if plan.ackLost {
		s.stats.fault(faultAckLost)
		dropConnection(w)
		return
	}
	status := insp.status
	if status == 0 {
		status = fhirAnswer[detail].status
	}
	switch detail {
	case wire.DetailAccepted, wire.DetailDuplicate:
		w.Header().Set("Location", "/fhir/r4/Bundle/"+bundleID)
	case wire.DetailVersionOutOfOrder:
		w.Header().Set("Retry-After", strconv.Itoa(outOfOrderRetryAfter))
	}
	s.writeOutcome(w, status, insp.issue, detail, insp.diagnostics...)
}

// handleGetFHIRBundle is the FHIR read of a stored Bundle.
func (s *Server) handleGetFHIRBundle(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d, err := s.store.get(r.Context(), id)
	if err == nil && d.Format != FormatFHIR {
		err = errNotFound
	}
	var b []byte
	if err == nil {
		b, err = s.store.content(r.Context(), id)
	}
	switch {
	case errors.Is(err, errNotFound):
		s.writeOutcomeIssue(w, http.StatusNotFound, OutcomeIssue{Severity: "error", Code: "not-found",
			Diagnostics: "no Bundle with this id"})
	case err != nil:
		s.log.Error("archive read failed", "err", err)
		s.writeOutcome(w, http.StatusInternalServerError, "", wire.DetailInternalError)
	default:
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write(b)
	}
}

// writeOutcome answers with an OperationOutcome for a detail code: the
// status (0: from fhirAnswer), issue type ("": from fhirAnswer), the detail
// code with its text, and diagnostics (the table's text when none; one issue
// per diagnostic otherwise).
func (s *Server) writeOutcome(w http.ResponseWriter, status int, issue, detail string, diagnostics ...string) {
	a, ok := fhirAnswer[detail]
	if !ok {
		detail, a = wire.DetailInternalError, fhirAnswer[wire.DetailInternalError]
	}
	if status == 0 {
		status = a.status
	}
	if issue == "" {
		issue = a.issue
	}
	severity := "error"
	if status < 300 {
		severity = "information"
	}
	details := &fhir.CodeableConcept{
		Coding: []fhir.Coding{{System: ptr(DetailCodeSystem), Code: ptr(detail)}},
		Text:   ptr(detailText(detail)),
	}
	const maxIssues = 20
	if len(diagnostics) > maxIssues {
		diagnostics = append(diagnostics[:maxIssues:maxIssues], strconv.Itoa(len(diagnostics)-maxIssues)+" more problems")
	}
	if len(diagnostics) == 0 {
		diagnostics = []string{strOf(details.Text)}
	}
	issues := make([]OutcomeIssue, len(diagnostics))
	for i, d := range diagnostics {
		issues[i] = OutcomeIssue{Severity: severity, Code: issue, Details: details, Diagnostics: d}
	}
	s.writeOutcomeIssue(w, status, issues...)
}

func (s *Server) writeOutcomeIssue(w http.ResponseWriter, status int, issues ...OutcomeIssue) {
	body, err := fhir.Marshal(OperationOutcome{ResourceType: "OperationOutcome", Issue: issues})
	if err != nil {
		body = []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"fatal","code":"exception"}]}`)
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	w.Write(body)
}

// fhirDetailText replaces the detail table's texts that speak of the CDA
// route's message frame and profile.
var fhirDetailText = map[string]string{
	wire.DetailMalformedFrame:   "request is not a FHIR R4 Bundle in JSON (application/fhir+json)",
	wire.DetailProfileViolation: "Bundle does not conform to the FHIR R4 schema or to the document profile",
}

// detailText is the text of a detail code on the FHIR route.
func detailText(code string) string {
	if t, ok := fhirDetailText[code]; ok {
		return t
	}
	d, _ := wire.LookupDetail(code)
	return d.Text
}

// bundleTime is the Bundle's timestamp (the entry's finalization).
func bundleTime(b *fhir.Bundle) time.Time {
	t, _ := time.Parse(time.RFC3339, strOf(b.Timestamp))
	return t
}

// strOf reads an optional FHIR string ("" when absent); ptr makes one.
func strOf(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func ptr(s string) *string { return &s }
