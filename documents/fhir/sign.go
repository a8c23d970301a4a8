package fhir

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Bundle.signature conventions.
const (
	sigFormatJOSE = "application/jose"
	// headerSigningTime is the JAdES claimed signing time (ETSI TS 119 182-1
	// sigT), in the protected header so that, unlike Signature.when, it is
	// covered by the signature. The chain is checked as of this time.
	headerSigningTime = "sigT"
)

// Sign signs the Bundle as a whole and stores the result in b.Signature:
// type "Verification Signature" (ASTM E1762), when, who (the organiser
// Organization of the Bundle whose OID is who, or a bare identifier
// reference when the Bundle holds none), sigFormat application/jose and data
// = base64 of a JWS compact serialization with detached payload (RFC 7515
// appendix F: header..signature). The signing time is truncated to whole
// seconds and is also put in the protected header (sigT). The payload is the Bundle's canonical form
// (see canonicalWithoutSignature): everything but Bundle.signature, so the
// signature's own elements (when, who) are not covered. Algorithm RS256;
// the protected header carries the certificate chain (x5c, leaf first).
// Signing an already signed Bundle replaces the signature.
func Sign(b *Bundle, key crypto.Signer, chain []*x509.Certificate, when time.Time, who string) error {
	if b == nil || key == nil {
		return errors.New("fhir: sign: nil bundle or key")
	}
	if len(chain) == 0 {
		return errors.New("fhir: sign: empty certificate chain")
	}
	if _, ok := key.Public().(*rsa.PublicKey); !ok {
		return errors.New("fhir: sign: RS256 needs an RSA key")
	}
	if !publicKeysEqual(key.Public(), chain[0].PublicKey) {
		return errors.New("fhir: sign: the key does not belong to the chain's first certificate")
	}
	if when.IsZero() {
		return errors.New("fhir: sign: zero signing time")
	}
	old := b.Signature
	b.Signature = nil
	defer func() {
		if b.Signature == nil {
			b.Signature = old // keep the previous signature when signing fails
		}
	}()
	raw, err := Marshal(b)
	if err != nil {
		return fmt.Errorf("fhir: sign: %w", err)
	}
	payload, err := canonicalWithoutSignature(raw)
	if err != nil {
		return err
	}
	signedAt := when.UTC().Truncate(time.Second)
	x5c := make([]string, len(chain))
	for i, c := range chain {
		x5c[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: opaqueRSA{key}},
		(&jose.SignerOptions{}).WithHeader("x5c", x5c).WithHeader(headerSigningTime, signedAt.Format(time.RFC3339)),
	)
	if err != nil {
		return fmt.Errorf("fhir: sign: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return fmt.Errorf("fhir: sign: %w", err)
	}
	compact, err := jws.DetachedCompactSerialize()
	if err != nil {
		return fmt.Errorf("fhir: sign: %w", err)
	}
	b.Signature = &Signature{
		Type:      []Coding{signatureType(codes(defaultCodes))},
		When:      instant(when.Truncate(time.Second)),
		Who:       *organisationRef(b, who),
		SigFormat: str(sigFormatJOSE),
		Data:      str(base64.StdEncoding.EncodeToString([]byte(compact))),
	}
	return nil
}

func signatureType(c codes) Coding {
	return coding(c[CodeSignatureTypeSystem], c[CodeSignatureType], c[CodeSignatureTypeDisplay])
}

// organisationRef points at the Bundle's Organization with the given OID.
func organisationRef(b *Bundle, oid string) *Reference {
	want := "urn:oid:" + oid
	for _, e := range b.Entry {
		if o, ok := e.Resource.(*Organization); ok {
			for _, id := range o.Identifier {
				if val(id.System) == systemURI && val(id.Value) == want {
					return &Reference{Reference: str(val(e.FullUrl))}
				}
			}
		}
	}
	return &Reference{Identifier: identifier(systemURI, want)}
}

// Verify checks b.Signature against the canonical form of b. With roots,
// the x5c chain must lead to one of them, as of the signed signing time
// (sigT, which Signature.when must equal): a document stays verifiable after
// its certificate expires, but not if it was signed outside the
// certificate's validity. With nil roots
// only the signature mathematics against the embedded leaf certificate is
// checked: that proves integrity, not who signed. It returns the leaf
// certificate.
func Verify(b *Bundle, roots *x509.CertPool) (*x509.Certificate, error) {
	if b == nil || b.Signature == nil {
		return nil, errors.New("fhir: verify: bundle is not signed")
	}
	raw, err := Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("fhir: verify: %w", err)
	}
	payload, err := canonicalWithoutSignature(raw)
	if err != nil {
		return nil, err
	}
	return verifyDetached(b.Signature, payload, roots)
}

// VerifyJSON verifies a Bundle as received: the canonical form is computed
// from raw itself (not from the decoded structs), so nothing the structs
// would not represent can slip past the signature. It then decodes the
// Bundle strictly.
func VerifyJSON(raw []byte, roots *x509.CertPool) (*Bundle, *x509.Certificate, error) {
	b, err := Unmarshal(raw)
	if err != nil {
		return nil, nil, err
	}
	if b.Signature == nil {
		return nil, nil, errors.New("fhir: verify: bundle is not signed")
	}
	payload, err := canonicalWithoutSignature(raw)
	if err != nil {
		return nil, nil, err
	}
	leaf, err := verifyDetached(b.Signature, payload, roots)
	if err != nil {
		return nil, nil, err
	}
	return b, leaf, nil
}

// VerifyParsed is VerifyJSON for a Bundle the receiver has already parsed
// (ParseJSON; for ValidateParsed and its own scans) and decoded
// (Unmarshal): the canonical form is computed from the parsed JSON, not
// from the structs, so nothing the structs would not represent can slip
// past the signature.
func VerifyParsed(v any, b *Bundle, roots *x509.CertPool) (*x509.Certificate, error) {
	return VerifyParsedWith(v, b, VerifyOptions{Roots: roots})
}

// VerifyOptions are a receiver's checks beyond the signature itself.
type VerifyOptions struct {
	// Roots are the trusted roots: the x5c chain must lead to one of them
	// as of the signed signing time, and the signer certificate must be a
	// signing certificate (key usage digitalSignature or nonRepudiation
	// when it has key usages; not a TLS certificate). Nil checks only the
	// signature mathematics against the embedded leaf.
	Roots *x509.CertPool
	// Chains, when set, remembers chains already verified to Roots (one
	// cache per Roots), so the same signer's chain is parsed and built
	// once; the per-Bundle checks still run on every Bundle.
	Chains *ChainCache
	// ReceivedAt, when set, is when a new submission arrived: the signer
	// certificate must be valid then too, and the signing time may lie
	// after it by at most MaxFutureSkew (as signing.VerifyOptions).
	ReceivedAt    time.Time
	MaxFutureSkew time.Duration
}

// Errors of the receipt-time and certificate-kind checks, for a receiver
// to tell apart (errors.Is).
var (
	ErrSignedInFuture         = errors.New("fhir: verify: signing time lies after the receipt time")
	ErrSignerExpiredAtReceipt = errors.New("fhir: verify: signer certificate not valid at receipt time")
	ErrTLSCertificate         = errors.New("fhir: verify: signer certificate is a TLS certificate (extended key usage clientAuth or serverAuth), not a signing certificate")
)

// VerifyParsedWith is VerifyParsed with a receiver's options.
func VerifyParsedWith(v any, b *Bundle, opts VerifyOptions) (*x509.Certificate, error) {
	if b == nil || b.Signature == nil {
		return nil, errors.New("fhir: verify: bundle is not signed")
	}
	buf := canonicalBuffers.Get().(*bytes.Buffer)
	defer canonicalBuffers.Put(buf)
	buf.Reset()
	if err := writeCanonicalBundle(buf, v); err != nil {
		return nil, err
	}
	return verifyDetachedWith(b.Signature, buf.Bytes(), opts)
}

func verifyDetached(sig *Signature, payload []byte, roots *x509.CertPool) (*x509.Certificate, error) {
	return verifyDetachedWith(sig, payload, VerifyOptions{Roots: roots})
}

func verifyDetachedWith(sig *Signature, payload []byte, opts VerifyOptions) (*x509.Certificate, error) {
	if val(sig.SigFormat) != sigFormatJOSE {
		return nil, fmt.Errorf("fhir: verify: sigFormat %q, want %s", val(sig.SigFormat), sigFormatJOSE)
	}
	compactBytes, err := base64.StdEncoding.DecodeString(val(sig.Data))
	if err != nil {
		return nil, fmt.Errorf("fhir: verify: signature data is not base64: %w", err)
	}
	compact := string(compactBytes)
	parts := strings.Split(compact, ".")
	if len(parts) != 3 || parts[1] != "" {
		return nil, errors.New("fhir: verify: not a JWS compact serialization with detached payload")
	}
	x5c, signedAt, err := parseProtectedHeader(parts[0])
	if err != nil {
		return nil, err
	}
	key := x5cKey(x5c)
	known := opts.Chains.lookup(opts.Roots, key)
	chain := known.certificates()
	if chain == nil {
		if chain, err = parseX5c(x5c); err != nil {
			return nil, err
		}
	}
	when, err := time.Parse(time.RFC3339Nano, sig.When)
	if err != nil {
		return nil, errors.New("fhir: verify: signature.when is not an instant")
	}
	if !when.Equal(signedAt) {
		return nil, errors.New("fhir: verify: signature.when differs from the signed signing time")
	}
	leaf := chain[0]
	if opts.Roots != nil {
		if err := checkSigner(leaf, signedAt, opts); err != nil {
			return nil, err
		}
		// A cached chain stands for a verification at a time inside its
		// validity period; any other signing time is verified afresh.
		if !known.trustedAt(signedAt) {
			inter := x509.NewCertPool()
			for _, c := range chain[1:] {
				inter.AddCert(c)
			}
			chains, err := leaf.Verify(x509.VerifyOptions{
				Roots:         opts.Roots,
				Intermediates: inter,
				CurrentTime:   signedAt,
				KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
			})
			if err != nil {
				return nil, fmt.Errorf("fhir: verify: certificate chain: %w", err)
			}
			opts.Chains.remember(opts.Roots, key, known, chain, chains)
		}
	}
	if err := verifyRS256(parts[0], payload, parts[2], leaf); err != nil {
		return nil, err
	}
	return leaf, nil
}

// verifyRS256 checks a JWS RS256 signature (RFC 7515 section 5.2, RFC
// 7518 section 3.3) over the detached payload: RSASSA-PKCS1-v1_5 with
// SHA-256 over ASCII(protected header) || '.' || BASE64URL(payload). By
// hand rather than go-jose's ParseDetached and Verify, which parsed the
// header and the x5c certificates a second time and copied the payload's
// base64 form (a sixth of the mock's time per Bundle); the header is
// checked by parseProtectedHeader (alg RS256, no crit or b64 that would
// change what is signed).
func verifyRS256(headerB64 string, payload []byte, sigB64 string, leaf *x509.Certificate) error {
	sig, err := base64.RawURLEncoding.DecodeString(sigB64)
	if err != nil {
		return errors.New("fhir: verify: the JWS signature is not base64url")
	}
	pub, ok := leaf.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("fhir: verify: signer key is %T, RS256 needs RSA", leaf.PublicKey)
	}
	h := sha256.New()
	h.Write([]byte(headerB64))
	h.Write([]byte{'.'})
	enc := base64.NewEncoder(base64.RawURLEncoding, h)
	if _, err := enc.Write(payload); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h.Sum(nil), sig); err != nil {
		return errors.New("fhir: verify: signature does not match the bundle")
	}
	return nil
}

// checkSigner applies what is checked of the signer certificate on every
// Bundle, cached chain or not (the CDA route's rules, signing.checkCertificate).
func checkSigner(leaf *x509.Certificate, signedAt time.Time, opts VerifyOptions) error {
	if leaf.KeyUsage != 0 && leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return errors.New("fhir: verify: signer certificate key usage allows neither digitalSignature nor nonRepudiation")
	}
	for _, u := range leaf.ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageServerAuth {
			return ErrTLSCertificate
		}
	}
	if at := opts.ReceivedAt; !at.IsZero() {
		if signedAt.After(at.Add(opts.MaxFutureSkew)) {
			return fmt.Errorf("%w: signed %s, received %s (allowed skew %s)", ErrSignedInFuture,
				signedAt.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339), opts.MaxFutureSkew)
		}
		if at.Before(leaf.NotBefore) || at.After(leaf.NotAfter) {
			return fmt.Errorf("%w %s (valid %s to %s)", ErrSignerExpiredAtReceipt, at.UTC().Format(time.RFC3339),
				leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// parseProtectedHeader reads the certificate chain (x5c, base64 DER) and
// the signing time from the protected header.
func parseProtectedHeader(headerB64 string) ([]string, time.Time, error) {
	hdr, err := base64.RawURLEncoding.DecodeString(headerB64)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("fhir: verify: JWS header: %w", err)
	}
	// Header parameter names are case-sensitive (RFC 7515 4), which
	// encoding/json's struct fields are not: read the members by name.
	var members map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &members); err != nil {
		return nil, time.Time{}, fmt.Errorf("fhir: verify: JWS header: %w", err)
	}
	var h struct {
		Alg  string
		X5c  []string
		SigT string
	}
	for name, dst := range map[string]any{"alg": &h.Alg, "x5c": &h.X5c, "sigT": &h.SigT} {
		if m, ok := members[name]; ok {
			if err := json.Unmarshal(m, dst); err != nil {
				return nil, time.Time{}, fmt.Errorf("fhir: verify: JWS header %s: %w", name, err)
			}
		}
	}
	if h.Alg != string(jose.RS256) {
		return nil, time.Time{}, fmt.Errorf("fhir: verify: algorithm %q, want RS256", h.Alg)
	}
	// Extensions the verifier would have to understand (crit, RFC 7515
	// 4.1.11; b64, RFC 7797, which signs the payload unencoded) and an
	// embedded key beside x5c: our signer writes none of them.
	for _, name := range []string{"crit", "b64", "jwk"} {
		if _, ok := members[name]; ok {
			return nil, time.Time{}, fmt.Errorf("fhir: verify: JWS header has %s, which this profile does not use", name)
		}
	}
	if len(h.X5c) == 0 {
		return nil, time.Time{}, errors.New("fhir: verify: JWS header has no x5c certificate chain")
	}
	signedAt, err := time.Parse(time.RFC3339, h.SigT)
	if err != nil {
		return nil, time.Time{}, errors.New("fhir: verify: JWS header has no valid sigT signing time")
	}
	return h.X5c, signedAt, nil
}

func parseX5c(x5c []string) ([]*x509.Certificate, error) {
	chain := make([]*x509.Certificate, len(x5c))
	for i, s := range x5c {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("fhir: verify: x5c[%d]: %w", i, err)
		}
		if chain[i], err = x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("fhir: verify: x5c[%d]: %w", i, err)
		}
	}
	return chain, nil
}

// opaqueRSA lets any crypto.Signer (a PKCS#12 key, an HSM) sign RS256 via
// go-jose.
type opaqueRSA struct{ crypto.Signer }

func (o opaqueRSA) Public() *jose.JSONWebKey {
	return &jose.JSONWebKey{Key: o.Signer.Public(), Algorithm: string(jose.RS256), Use: "sig"}
}

func (opaqueRSA) Algs() []jose.SignatureAlgorithm { return []jose.SignatureAlgorithm{jose.RS256} }

func (o opaqueRSA) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	if alg != jose.RS256 {
		return nil, jose.ErrUnsupportedAlgorithm
	}
	digest := sha256.Sum256(payload)
	return o.Signer.Sign(rand.Reader, digest[:], crypto.SHA256)
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}
