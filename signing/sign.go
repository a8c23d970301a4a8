package signing

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7/hl7xml"
)

// Signer adds Kanta signatures to CDA documents with one identity.
type Signer struct {
	Identity      *Identity
	CustodianOID  string // the register keeper a system certificate belongs to
	SignatureType string // TypeSystem "3" (default) or TypeProfessional "1"
	// EnvelopedTransform writes enveloped-signature before exc-c14n in each
	// reference, as Apotti does at Vantaa-Kerava (the digests are the same:
	// no target contains the signature). Off by default; tests use it to
	// prove receivers take that shape.
	EnvelopedTransform bool
}

// NewSigner checks that the identity may sign at now: the certificate is
// valid, the key is RSA, and for a system signature the certificate's subject
// serialNumber is the custodian's OID (Kanta binds system signatures to the
// register keeper that way: kanta-domain.md 8.1). The custodian is the one
// the documents name, which need not be the organisation's own OID
// (Helsinki's social welfare custodian is 1.2.246.10.2012566.10.40).
func NewSigner(id *Identity, custodianOID, signatureType string, now time.Time) (*Signer, error) {
	if id == nil || id.Cert == nil || id.Key == nil {
		return nil, errors.New("signing: identity without key or certificate")
	}
	if signatureType == "" {
		signatureType = TypeSystem
	}
	if signatureType != TypeSystem && signatureType != TypeProfessional {
		return nil, fmt.Errorf("signing: unknown signature type %q (want %q or %q)", signatureType, TypeSystem, TypeProfessional)
	}
	pub, ok := id.Cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("signing: certificate key is %T, Kanta signatures need RSA", id.Cert.PublicKey)
	}
	if !pub.Equal(&id.Key.PublicKey) {
		return nil, errors.New("signing: private key does not match the certificate")
	}
	if now.Before(id.Cert.NotBefore) {
		return nil, fmt.Errorf("signing: certificate not valid before %s", id.Cert.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(id.Cert.NotAfter) {
		return nil, fmt.Errorf("signing: certificate expired at %s", id.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if signatureType == TypeSystem && id.Cert.Subject.SerialNumber != custodianOID {
		return nil, fmt.Errorf("signing: system certificate serialNumber %s is not the custodian OID %q",
			describeSerial(id.Cert.Subject.SerialNumber), custodianOID)
	}
	return &Signer{Identity: id, CustodianOID: custodianOID, SignatureType: signatureType}, nil
}

// SignatureIDs returns the IDs Sign gives the hl7fi:signature, the
// hl7fi:signatureTimestamp and the ds:Signature for a body ID and signature
// type. They are derived, not random, so re-signing the same document at the
// same instant yields byte-identical output (RSA PKCS#1 v1.5 is deterministic),
// which a resend to Kanta requires.
func SignatureIDs(bodyID, signatureType string) (signatureID, timestampID, dsigID string) {
	return "S" + signatureType + "_" + bodyID, "TS" + signatureType + "_" + bodyID, "DS" + signatureType + "_" + bodyID
}

// Sign adds one hl7fi:signature to the document's hl7fi:signatureCollection
// (created at the end of the local header when absent). It signs the
// timestamp element and the body whose ID attribute is bodyID, which must be
// the document's structuredBody or nonXMLBody.
//
// Sign also switches the document's WriteSettings to canonical escaping of
// text and attribute values: etree's default writes carriage returns and
// attribute tabs/newlines raw, which a parser normalises away, so signed
// content built in memory would no longer match its digest once written
// with doc.WriteTo / WriteToBytes and read back. Callers must serialise the
// signed document through doc (not through another WriteSettings).
//
// Sign refuses an instant outside the certificate's validity, so a signer
// kept across a certificate's expiry fails loudly instead of producing
// signatures Kanta would reject.
func (s *Signer) Sign(doc *etree.Document, bodyID string, at time.Time) error {
	if s.Identity == nil || s.Identity.Cert == nil || s.Identity.Key == nil {
		return errors.New("signing: signer without identity")
	}
	if c := s.Identity.Cert; at.Before(c.NotBefore) || at.After(c.NotAfter) {
		return fmt.Errorf("signing: certificate not valid at %s (valid %s to %s)", at.UTC().Format(time.RFC3339),
			c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
	}
	if err := s.sign(doc, bodyID, at); err != nil {
		return err
	}
	doc.WriteSettings.CanonicalText = true
	doc.WriteSettings.CanonicalAttrVal = true
	return nil
}

func (s *Signer) sign(doc *etree.Document, bodyID string, at time.Time) error {
	root := doc.Root()
	if root == nil {
		return errors.New("signing: empty document")
	}
	body, err := documentBody(root)
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	if got := body.SelectAttrValue(idAttr, ""); got != bodyID {
		return fmt.Errorf("signing: body ID is %q, want %q", got, bodyID)
	}
	header, err := localHeader(root)
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	ids, err := indexIDs(root)
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	sigType := s.SignatureType
	if sigType == "" {
		sigType = TypeSystem
	}
	sigID, tsID, dsID := SignatureIDs(bodyID, sigType)
	for _, id := range []string{sigID, tsID, dsID} {
		if _, taken := ids[id]; taken {
			return fmt.Errorf("signing: document already has an element with ID %q (signed twice?)", id)
		}
	}

	// Children of the local header take its prefix, which is bound to
	// urn:hl7finland wherever the header sits (prefixed or default namespace).
	fi := header.Space
	tag := func(local string) string {
		if fi == "" {
			return local
		}
		return fi + ":" + local
	}
	var collection *etree.Element
	created := false
	switch cs := hl7xml.Children(header, hl7.NamespaceFI, "signatureCollection"); len(cs) {
	case 0:
		collection, created = header.CreateElement(tag("signatureCollection")), true
	case 1:
		collection = cs[0]
	default:
		return fmt.Errorf("signing: local header has %d signatureCollection elements", len(cs))
	}

	signature := collection.CreateElement(tag("signature"))
	signature.CreateAttr(idAttr, sigID)
	desc := signature.CreateElement(tag("signatureDescription"))
	desc.CreateAttr("code", sigType)
	desc.CreateAttr("codeSystem", hl7.SystemSignatureType)
	timestamp := signature.CreateElement(tag("signatureTimestamp"))
	timestamp.CreateAttr(idAttr, tsID)
	timestamp.SetText(at.UTC().Format("2006-01-02T15:04:05Z"))

	if err := s.signElements(signature, dsID, []*etree.Element{timestamp, body}, []string{tsID, bodyID}); err != nil {
		// Leave the document as it was.
		collection.RemoveChild(signature)
		if created {
			header.RemoveChild(collection)
		}
		return err
	}
	return nil
}

// signElements appends a ds:Signature with one exc-c14n reference per
// element to parent. The elements must already be in their final place.
func (s *Signer) signElements(parent *etree.Element, dsID string, els []*etree.Element, ids []string) error {
	sig := parent.CreateElement("ds:" + dsig.SignatureTag)
	sig.CreateAttr("xmlns:ds", nsDSig)
	sig.CreateAttr("Id", dsID)
	signedInfo := sig.CreateElement("ds:" + dsig.SignedInfoTag)
	signedInfo.CreateElement("ds:"+dsig.CanonicalizationMethodTag).CreateAttr(dsig.AlgorithmAttr, string(dsig.CanonicalXML10ExclusiveAlgorithmId))
	signedInfo.CreateElement("ds:"+dsig.SignatureMethodTag).CreateAttr(dsig.AlgorithmAttr, dsig.RSASHA256SignatureMethod)
	for i, el := range els {
		c14n, err := canonicalize(el)
		if err != nil {
			return fmt.Errorf("signing: canonicalize #%s: %w", ids[i], err)
		}
		digest := sha256.Sum256(c14n)
		ref := signedInfo.CreateElement("ds:" + dsig.ReferenceTag)
		ref.CreateAttr(dsig.URIAttr, "#"+ids[i])
		transforms := ref.CreateElement("ds:" + dsig.TransformsTag)
		if s.EnvelopedTransform {
			transforms.CreateElement("ds:"+dsig.TransformTag).CreateAttr(dsig.AlgorithmAttr, string(dsig.EnvelopedSignatureAltorithmId))
		}
		transforms.CreateElement("ds:"+dsig.TransformTag).CreateAttr(dsig.AlgorithmAttr, string(dsig.CanonicalXML10ExclusiveAlgorithmId))
		ref.CreateElement("ds:"+dsig.DigestMethodTag).CreateAttr(dsig.AlgorithmAttr, digestSHA256)
		ref.CreateElement("ds:" + dsig.DigestValueTag).SetText(base64.StdEncoding.EncodeToString(digest[:]))
	}
	c14n, err := canonicalize(signedInfo)
	if err != nil {
		return fmt.Errorf("signing: canonicalize SignedInfo: %w", err)
	}
	hashed := sha256.Sum256(c14n)
	// PKCS#1 v1.5 needs no randomness; nil keeps the output deterministic.
	value, err := rsa.SignPKCS1v15(nil, s.Identity.Key, crypto.SHA256, hashed[:])
	if err != nil {
		return fmt.Errorf("signing: RSA sign: %w", err)
	}
	sig.CreateElement("ds:" + dsig.SignatureValueTag).SetText(base64.StdEncoding.EncodeToString(value))
	x509Data := sig.CreateElement("ds:" + dsig.KeyInfoTag).CreateElement("ds:" + dsig.X509DataTag)
	for _, c := range append([]*x509.Certificate{s.Identity.Cert}, s.Identity.Chain...) {
		x509Data.CreateElement("ds:" + dsig.X509CertificateTag).SetText(base64.StdEncoding.EncodeToString(c.Raw))
	}
	return nil
}
