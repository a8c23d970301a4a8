package signing

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7/hl7xml"
	"github.com/helsinki-student-welfare/kanta-gateway/xmlcheck"
)

// VerifyOptions controls certificate checks. Signature math, reference
// digests, the reference targets and certificate validity at the signature
// timestamp are always checked.
type VerifyOptions struct {
	// Roots are the trusted roots. A certificate placed here directly (for
	// example a signer certificate whose CA is not at hand) is trusted as is.
	Roots *x509.CertPool
	// Insecure skips the chain-to-root check only (like xmlsec1 --insecure).
	Insecure bool
	// ExpectedBodyID, when set, must equal the body's ID attribute.
	ExpectedBodyID string
	// Chains, when set, remembers chains already built to Roots, so a
	// receiver of many documents from one signer builds the chain once. Use
	// one cache per Roots.
	Chains *ChainCache
	// ReceivedAt, when set, is when a new submission arrived: the signer
	// certificate must be valid then too (not only at the signature
	// time), and no signature timestamp may lie after it by more than
	// MaxFutureSkew. Leave it zero to verify an archived document (the
	// 2017 sample verifies at its signature time, years after its
	// certificate expired).
	ReceivedAt time.Time
	// MaxFutureSkew is how far a signature timestamp may lie after
	// ReceivedAt (clocks of sender and receiver differ a little).
	MaxFutureSkew time.Duration
}

// ErrSignedInFuture and ErrSignerExpiredAtReceipt are wrapped by the
// receipt-time checks (VerifyOptions.ReceivedAt).
var (
	ErrSignedInFuture         = errors.New("signature timestamp lies in the future")
	ErrSignerExpiredAtReceipt = errors.New("signer certificate not valid at receipt time")
)

// ChainCache holds certificate chains verified to one set of roots, keyed by
// the certificates' bytes, with the period in which the whole chain is
// valid. Safe for concurrent use.
type ChainCache struct {
	mu     sync.Mutex
	chains map[[sha256.Size]byte][]validPeriod
	certs  map[string]*x509.Certificate // parsed, by their base64 text in KeyInfo
}

type validPeriod struct{ from, until time.Time }

// chainCacheSize bounds the cache; past it, it starts again (a receiver
// sees a handful of signer certificates, not thousands).
const chainCacheSize = 1024

// NewChainCache returns an empty cache.
func NewChainCache() *ChainCache {
	return &ChainCache{chains: map[[sha256.Size]byte][]validPeriod{}, certs: map[string]*x509.Certificate{}}
}

// parse returns the certificate of a KeyInfo X509Certificate text, parsed
// once per distinct text. A nil cache parses every time.
func (c *ChainCache) parse(b64 string) (*x509.Certificate, error) {
	if c != nil {
		c.mu.Lock()
		cert := c.certs[b64]
		c.mu.Unlock()
		if cert != nil {
			return cert, nil
		}
	}
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("X509Certificate is not base64: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("X509Certificate: %w", err)
	}
	if c != nil {
		c.mu.Lock()
		if len(c.certs) >= chainCacheSize {
			clear(c.certs)
		}
		c.certs[b64] = cert
		c.mu.Unlock()
	}
	return cert, nil
}

func chainKey(certs []*x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	for _, c := range certs {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(c.Raw)))
		h.Write(n[:])
		h.Write(c.Raw)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (c *ChainCache) trusted(key [sha256.Size]byte, at time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.chains[key] {
		if !at.Before(p.from) && !at.After(p.until) {
			return true
		}
	}
	return false
}

func (c *ChainCache) remember(key [sha256.Size]byte, chains [][]*x509.Certificate) {
	var periods []validPeriod
	for _, chain := range chains {
		var p validPeriod
		for i, cert := range chain {
			if i == 0 || cert.NotBefore.After(p.from) {
				p.from = cert.NotBefore
			}
			if i == 0 || cert.NotAfter.Before(p.until) {
				p.until = cert.NotAfter
			}
		}
		periods = append(periods, p)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.chains) >= chainCacheSize {
		clear(c.chains)
	}
	c.chains[key] = periods
}

// SignatureInfo describes one verified signature.
type SignatureInfo struct {
	SignatureID, TimestampID, BodyID string
	Timestamp                        time.Time
	SignatureType                    string
	Signer                           *x509.Certificate
	SignerSerialNumber               string // subject serialNumber: custodian OID (type 3) or registration number (type 1)
}

// Verify checks every signature in the document's signatureCollection and
// returns them in document order. A document without signatures is an error.
func Verify(cdaXML []byte, opts VerifyOptions) ([]SignatureInfo, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(cdaXML); err != nil {
		return nil, withKind(ErrSignatureInvalid, fmt.Errorf("verify: parse document: %w", err))
	}
	return VerifyTree(doc, opts)
}

// VerifyTree is Verify over a document already parsed (by a receiver that
// reads the tree for other checks too). It does not modify doc.
func VerifyTree(doc *etree.Document, opts VerifyOptions) ([]SignatureInfo, error) {
	sigs, err := verifyTree(doc, opts)
	return sigs, kinded(err)
}

func verifyTree(doc *etree.Document, opts VerifyOptions) ([]SignatureInfo, error) {
	// A DTD could declare further ID attributes and entities; Kanta
	// documents have none, and refusing it keeps "what is signed" simple.
	// Trailing content or a second root would leave what is signed
	// ambiguous too.
	if err := xmlcheck.WellFormed(doc); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	root := doc.Root()
	if root == nil {
		return nil, errors.New("verify: empty document")
	}
	body, err := documentBody(root)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	bodyID := body.SelectAttrValue(idAttr, "")
	if bodyID == "" {
		return nil, fmt.Errorf("verify: %s has no ID attribute", body.Tag)
	}
	if opts.ExpectedBodyID != "" && bodyID != opts.ExpectedBodyID {
		return nil, fmt.Errorf("verify: body ID is %q, expected %q", bodyID, opts.ExpectedBodyID)
	}
	ids, err := indexIDs(root)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	header, err := localHeader(root)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	collection, err := oneChild(header, hl7.NamespaceFI, "signatureCollection")
	if err != nil {
		return nil, withKind(ErrSignatureMissing, fmt.Errorf("verify: %w", err))
	}
	sigs := hl7xml.Children(collection, hl7.NamespaceFI, "signature")
	if len(sigs) == 0 {
		return nil, withKind(ErrSignatureMissing, errors.New("verify: signatureCollection holds no signature"))
	}
	var out []SignatureInfo
	for i, s := range sigs {
		info, err := verifyOne(root, s, body, bodyID, ids, opts)
		if err != nil {
			label := s.SelectAttrValue(idAttr, "")
			if label == "" {
				label = fmt.Sprintf("#%d", i+1)
			}
			return nil, fmt.Errorf("verify: signature %s: %w", label, err)
		}
		out = append(out, info)
	}
	return out, nil
}

func verifyOne(root, sigEl, body *etree.Element, bodyID string, ids map[string]*etree.Element, opts VerifyOptions) (SignatureInfo, error) {
	info := SignatureInfo{SignatureID: sigEl.SelectAttrValue(idAttr, ""), BodyID: bodyID}

	desc, err := oneChild(sigEl, hl7.NamespaceFI, "signatureDescription")
	if err != nil {
		return info, err
	}
	info.SignatureType = desc.SelectAttrValue("code", "")
	if cs := desc.SelectAttrValue("codeSystem", ""); cs != hl7.SystemSignatureType {
		return info, fmt.Errorf("signatureDescription codeSystem %q, want %s", cs, hl7.SystemSignatureType)
	}
	if info.SignatureType != TypeSystem && info.SignatureType != TypeProfessional {
		return info, fmt.Errorf("unknown signature type %q", info.SignatureType)
	}
	tsEl, err := oneChild(sigEl, hl7.NamespaceFI, "signatureTimestamp")
	if err != nil {
		return info, err
	}
	info.TimestampID = tsEl.SelectAttrValue(idAttr, "")
	if info.TimestampID == "" {
		return info, errors.New("signatureTimestamp has no ID")
	}
	info.Timestamp, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(tsEl.Text()))
	if err != nil {
		return info, fmt.Errorf("signatureTimestamp is not an xs:dateTime with time zone: %w", err)
	}

	sig, err := oneChild(sigEl, nsDSig, dsig.SignatureTag)
	if err != nil {
		return info, err
	}
	signedInfo, err := oneChild(sig, nsDSig, dsig.SignedInfoTag)
	if err != nil {
		return info, err
	}
	if err := checkAlgorithm(signedInfo, dsig.CanonicalizationMethodTag, string(dsig.CanonicalXML10ExclusiveAlgorithmId)); err != nil {
		return info, err
	}
	if err := checkAlgorithm(signedInfo, dsig.SignatureMethodTag, dsig.RSASHA256SignatureMethod); err != nil {
		return info, err
	}

	// The references must name exactly this signature's timestamp and the
	// document body, and the IDs must resolve to those very elements: a
	// reference to anything else (a copied body, a moved ID) is wrapping.
	refs := hl7xml.Children(signedInfo, nsDSig, dsig.ReferenceTag)
	if len(refs) != 2 {
		return info, fmt.Errorf("SignedInfo has %d references, want 2 (timestamp and body)", len(refs))
	}
	want := map[string]*etree.Element{"#" + info.TimestampID: tsEl, "#" + bodyID: body}
	for _, ref := range refs {
		uri := ref.SelectAttrValue(dsig.URIAttr, "")
		target, ok := want[uri]
		if !ok {
			return info, fmt.Errorf("reference %s is neither this signature's timestamp #%s nor the body #%s", uri, info.TimestampID, bodyID)
		}
		delete(want, uri)
		if ids[strings.TrimPrefix(uri, "#")] != target {
			return info, fmt.Errorf("reference %s resolves to an element other than the expected %s", uri, target.Tag)
		}
		if err := checkReference(ref, target); err != nil {
			return info, fmt.Errorf("reference %s %w", uri, err)
		}
	}

	// Certificates: signer first, then intermediates.
	keyInfo, err := oneChild(sig, nsDSig, dsig.KeyInfoTag)
	if err != nil {
		return info, err
	}
	x509Data, err := oneChild(keyInfo, nsDSig, dsig.X509DataTag)
	if err != nil {
		return info, err
	}
	var certs []*x509.Certificate
	for _, c := range hl7xml.Children(x509Data, nsDSig, dsig.X509CertificateTag) {
		cert, err := opts.Chains.parse(stripSpace(c.Text()))
		if err != nil {
			return info, err
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return info, errors.New("KeyInfo has no X509Certificate")
	}
	info.Signer = certs[0]
	info.SignerSerialNumber = certs[0].Subject.SerialNumber

	sigValueEl, err := oneChild(sig, nsDSig, dsig.SignatureValueTag)
	if err != nil {
		return info, err
	}
	sigValue, err := base64.StdEncoding.DecodeString(stripSpace(sigValueEl.Text()))
	if err != nil {
		return info, fmt.Errorf("SignatureValue is not base64: %w", err)
	}
	pub, ok := info.Signer.PublicKey.(*rsa.PublicKey)
	if !ok {
		return info, fmt.Errorf("signer key is %T, want RSA", info.Signer.PublicKey)
	}
	c14n, err := canonicalize(signedInfo)
	if err != nil {
		return info, fmt.Errorf("canonicalize SignedInfo: %w", err)
	}
	hashed := sha256.Sum256(c14n)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, hashed[:], sigValue); err != nil {
		return info, errors.New("SignatureValue does not verify with the signer certificate")
	}

	if err := checkCertificate(certs, info.Timestamp, opts); err != nil {
		return info, err
	}
	if at := opts.ReceivedAt; !at.IsZero() {
		if info.Timestamp.After(at.Add(opts.MaxFutureSkew)) {
			return info, fmt.Errorf("%w: %s, received %s (allowed skew %s)", ErrSignedInFuture,
				info.Timestamp.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339), opts.MaxFutureSkew)
		}
		if at.Before(info.Signer.NotBefore) || at.After(info.Signer.NotAfter) {
			return info, fmt.Errorf("%w %s (valid %s to %s)", ErrSignerExpiredAtReceipt, at.UTC().Format(time.RFC3339),
				info.Signer.NotBefore.UTC().Format(time.RFC3339), info.Signer.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	switch info.SignatureType {
	case TypeSystem:
		if !documents.ValidOID(info.SignerSerialNumber) {
			return info, withKind(ErrSignerMismatch, fmt.Errorf("system signature certificate serialNumber %s is not an organisation OID", describeSerial(info.SignerSerialNumber)))
		}
	case TypeProfessional:
		// The serialNumber of a card certificate is the registration number;
		// it is not echoed in the error.
		if info.SignerSerialNumber == "" || !authorHasID(root, info.SignerSerialNumber) {
			return info, withKind(ErrSignerMismatch, errors.New("professional signature certificate serialNumber matches no author/assignedAuthor/id/@extension"))
		}
	}
	return info, nil
}

func checkAlgorithm(parent *etree.Element, tag, want string) error {
	el, err := oneChild(parent, nsDSig, tag)
	if err != nil {
		return err
	}
	if got := el.SelectAttrValue(dsig.AlgorithmAttr, ""); got != want {
		return fmt.Errorf("%s %q, want %s", tag, got, want)
	}
	return nil
}

// checkReference requires the transforms exc-c14n alone or
// enveloped-signature followed by exc-c14n, and a SHA-256 digest, and
// recomputes the digest over target in its document context.
func checkReference(ref, target *etree.Element) error {
	transforms, err := oneChild(ref, nsDSig, dsig.TransformsTag)
	if err != nil {
		return err
	}
	if err := checkTransforms(hl7xml.Children(transforms, nsDSig, dsig.TransformTag)); err != nil {
		return err
	}
	// enveloped-signature removes the ds:Signature holding the reference
	// from what the reference selects. The only targets verifyOne lets
	// through (this signature's timestamp, a sibling of the ds:Signature,
	// and the body under component; the ds:Signature sits in the local
	// header) never contain it, so the transform changes nothing here.
	if err := checkAlgorithm(ref, dsig.DigestMethodTag, digestSHA256); err != nil {
		return err
	}
	dv, err := oneChild(ref, nsDSig, dsig.DigestValueTag)
	if err != nil {
		return err
	}
	want, err := base64.StdEncoding.DecodeString(stripSpace(dv.Text()))
	if err != nil {
		return fmt.Errorf("DigestValue is not base64: %w", err)
	}
	c14n, err := canonicalize(target)
	if err != nil {
		return fmt.Errorf("canonicalize: %w", err)
	}
	got := sha256.Sum256(c14n)
	if subtle.ConstantTimeCompare(got[:], want) != 1 {
		return errors.New("digest mismatch")
	}
	return nil
}

// checkCertificate checks the signer certificate at the signature time: key
// usage, validity period, and (unless Insecure) the chain to opts.Roots.
// checkTransforms accepts exactly the transform lists real producers use:
// exclusive c14n alone (our signer; the 2017 health sample), or
// enveloped-signature then exclusive c14n (Apotti at Vantaa-Kerava, 2026:
// Warc0ck/SH-Kanta-validator Testiasiakirjat/Asiakkuusasiakirja_S.xml).
// Anything else (another canonicalisation, XPath, a different order,
// InclusiveNamespaces) changes what is signed and is refused.
func checkTransforms(ts []*etree.Element) error {
	const shape = "transforms must be exclusive c14n, alone or after enveloped-signature"
	var algs []string
	for _, t := range ts {
		algs = append(algs, t.SelectAttrValue(dsig.AlgorithmAttr, ""))
	}
	switch {
	case len(algs) == 1 && algs[0] == string(dsig.CanonicalXML10ExclusiveAlgorithmId):
	case len(algs) == 2 && algs[0] == string(dsig.EnvelopedSignatureAltorithmId) &&
		algs[1] == string(dsig.CanonicalXML10ExclusiveAlgorithmId):
		if len(ts[0].ChildElements()) != 0 {
			return errors.New(shape + " (enveloped-signature takes no parameters)")
		}
	default:
		return fmt.Errorf("%s, got %s", shape, describeTransforms(algs))
	}
	if len(ts[len(ts)-1].ChildElements()) != 0 {
		return errors.New("exclusive c14n transform with InclusiveNamespaces is not supported")
	}
	return nil
}

func describeTransforms(algs []string) string {
	if len(algs) == 0 {
		return "none"
	}
	q := make([]string, len(algs))
	for i, a := range algs {
		q[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(q, " ") + "]"
}

// ErrTLSCertificate is wrapped when a signature is made with a TLS
// certificate: the real signing certificates (DVV system certificates and
// professional cards, as the 2017 sample's signer) carry no extended key
// usage; a certificate made for TLS (clientAuth or serverAuth) is the
// transport's, and a document signed with it is refused.
var ErrTLSCertificate = errors.New("signer certificate is a TLS certificate (extended key usage clientAuth or serverAuth), not a signing certificate")

func notTLSCertificate(c *x509.Certificate) error {
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageServerAuth {
			return ErrTLSCertificate
		}
	}
	return nil
}

func checkCertificate(certs []*x509.Certificate, at time.Time, opts VerifyOptions) error {
	signer := certs[0]
	if signer.KeyUsage != 0 && signer.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return errors.New("signer certificate key usage allows neither digitalSignature nor nonRepudiation")
	}
	if err := notTLSCertificate(signer); err != nil {
		return err
	}
	if at.Before(signer.NotBefore) || at.After(signer.NotAfter) {
		return withKind(ErrSignerNotTrusted, fmt.Errorf("signer certificate not valid at signature time %s (valid %s to %s)",
			at.UTC().Format(time.RFC3339), signer.NotBefore.UTC().Format(time.RFC3339), signer.NotAfter.UTC().Format(time.RFC3339)))
	}
	if opts.Insecure {
		return nil
	}
	if opts.Roots == nil {
		return errors.New("no trusted roots given (set VerifyOptions.Roots or Insecure)")
	}
	var key [sha256.Size]byte
	if opts.Chains != nil {
		if key = chainKey(certs); opts.Chains.trusted(key, at) {
			return nil
		}
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, err := signer.Verify(x509.VerifyOptions{
		Roots:         opts.Roots,
		Intermediates: inter,
		CurrentTime:   at,
		// Signing certificates carry no (or no TLS) extended key usage.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return withKind(ErrSignerNotTrusted, fmt.Errorf("signer certificate not trusted at signature time: %w", err))
	}
	if opts.Chains != nil {
		opts.Chains.remember(key, chains)
	}
	return nil
}

// CheckSystemSigner checks that a system signature (type 3) was made for an
// organisation the document names: its custodian (register keeper,
// custodian/assignedCustodian/representedCustodianOrganization/id) or the
// organiser of an outsourced service (outsourcingServiceCustomer of the
// local header); the mock's signer check (mockkanta signerFits). Other
// signature types pass. Verify does not apply it, so a document can be
// countersigned by another organisation's system and still verify.
func CheckSystemSigner(doc *etree.Document, s SignatureInfo) error {
	if s.SignatureType != TypeSystem {
		return nil
	}
	if root := doc.Root(); root == nil || !namesOrganisation(root, s.SignerSerialNumber) {
		return withKind(ErrSignerMismatch, fmt.Errorf("system signature %s: certificate serialNumber %s is neither the document's custodian nor its outsourcingServiceCustomer",
			s.SignatureID, describeSerial(s.SignerSerialNumber)))
	}
	return nil
}

func namesOrganisation(root *etree.Element, oid string) bool {
	for _, c := range hl7xml.Children(root, hl7.NamespaceV3, "custodian") {
		for _, ac := range hl7xml.Children(c, hl7.NamespaceV3, "assignedCustodian") {
			for _, org := range hl7xml.Children(ac, hl7.NamespaceV3, "representedCustodianOrganization") {
				for _, id := range hl7xml.Children(org, hl7.NamespaceV3, "id") {
					if id.SelectAttrValue("root", "") == oid {
						return true
					}
				}
			}
		}
	}
	for _, h := range [...]string{"localHeader", "localSocialHeader"} {
		for _, lh := range hl7xml.Children(root, hl7.NamespaceFI, h) {
			for _, o := range hl7xml.Children(lh, hl7.NamespaceFI, "outsourcingServiceCustomer") {
				if o.SelectAttrValue("root", "") == oid {
					return true
				}
			}
		}
	}
	return false
}

func authorHasID(root *etree.Element, extension string) bool {
	for _, author := range hl7xml.Children(root, hl7.NamespaceV3, "author") {
		for _, aa := range hl7xml.Children(author, hl7.NamespaceV3, "assignedAuthor") {
			for _, id := range hl7xml.Children(aa, hl7.NamespaceV3, "id") {
				if id.SelectAttrValue("extension", "") == extension {
					return true
				}
			}
		}
	}
	return false
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, s)
}

// describeSerial quotes a certificate serialNumber only when it is an OID
// (an organisation); anything else may identify a person and is not echoed.
func describeSerial(serial string) string {
	if documents.ValidOID(serial) {
		return fmt.Sprintf("%q", serial)
	}
	return "(not an OID, value withheld)"
}
