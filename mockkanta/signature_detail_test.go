package mockkanta

import (
	"errors"
	"fmt"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/signing"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// The mock answers a verification failure by the error's kind alone: each
// error below carries a message that names another failure, and the detail
// must still follow the kind.
func TestSignatureDetailFollowsTheKindNotTheMessage(t *testing.T) {
	misleading := "signatureCollection holds no signature; serialNumber not trusted, not valid at signature time"
	cases := []struct {
		kind   error
		detail string
	}{
		{signing.ErrSignatureMissing, wire.DetailSignatureMissing},
		{signing.ErrSignatureInvalid, wire.DetailSignatureInvalid},
		{signing.ErrSignerNotTrusted, wire.DetailSignerNotTrusted},
		{signing.ErrSignerMismatch, wire.DetailSignatureTypeMismatch},
		{signing.ErrSignedInFuture, wire.DetailSignedInFuture},
		{signing.ErrSignerExpiredAtReceipt, wire.DetailSignerExpiredAtReceipt},
		{signing.ErrTLSCertificate, wire.DetailSignerNotSigningCertificate},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		err := fmt.Errorf("verify: signature S3: %s: %w", misleading, c.kind)
		if got := signatureDetail(err); got != c.detail {
			t.Errorf("%v: detail %s, want %s", c.kind, got, c.detail)
		}
		seen[c.detail] = true
	}
	if len(seen) != len(cases) {
		t.Errorf("kinds share details: %v", seen)
	}
	// Without a kind (not an error of signing.Verify) the signature is invalid.
	if got := signatureDetail(errors.New(misleading)); got != wire.DetailSignatureInvalid {
		t.Errorf("an error without a kind: detail %s, want %s", got, wire.DetailSignatureInvalid)
	}
}
