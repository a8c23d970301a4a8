package signing

import "errors"

// The kinds of a verification failure. Every error Verify, VerifyTree and
// CheckSystemSigner return carries exactly one of them (errors.Is), so a
// receiver maps a failure to its answer code without reading the message,
// which stays free to name the element or certificate at fault.
var (
	// ErrSignatureMissing: the local header has no signatureCollection, or
	// it holds no signature.
	ErrSignatureMissing = errors.New("signature missing")
	// ErrSignatureInvalid: anything else that makes a signature unusable:
	// a malformed document or signature, an unsupported algorithm or
	// transform, a reference to the wrong element, a digest or signature
	// value that does not verify.
	ErrSignatureInvalid = errors.New("signature invalid")
	// ErrSignerNotTrusted: the signer certificate does not chain to the
	// trusted roots, or was not valid at the signature time.
	ErrSignerNotTrusted = errors.New("signer not trusted")
	// ErrSignerMismatch: the certificate's subject serialNumber does not
	// fit the signature type (a system signature without an organisation
	// OID or not for the document's organisation, a professional signature
	// that matches no author).
	ErrSignerMismatch = errors.New("signer does not fit the signature type")
)

// ErrSignedInFuture, ErrSignerExpiredAtReceipt (verify.go) and
// ErrTLSCertificate are kinds too.

// verifyKinds lists every kind, the order KindOf checks them in.
var verifyKinds = []error{
	ErrSignedInFuture, ErrSignerExpiredAtReceipt, ErrTLSCertificate,
	ErrSignerNotTrusted, ErrSignerMismatch, ErrSignatureMissing, ErrSignatureInvalid,
}

// KindOf returns the kind an error of Verify carries (one of the Err…
// values of this package), or nil for an error without one.
func KindOf(err error) error {
	for _, k := range verifyKinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// kindError gives err a kind without changing its message.
type kindError struct{ kind, err error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

func withKind(kind, err error) error {
	if err == nil {
		return nil
	}
	return &kindError{kind: kind, err: err}
}

// kinded makes sure err carries a kind: one without is an invalid
// signature.
func kinded(err error) error {
	if err == nil || KindOf(err) != nil {
		return err
	}
	return withKind(ErrSignatureInvalid, err)
}
