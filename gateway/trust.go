package gateway

import (
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/signing"
)

// ownTrust verifies the gateway's own signatures against an organisation's
// trust_roots before a document is queued: a document whose signature
// Kanta would refuse (a certificate from the wrong CA, a broken signature)
// is found at ingestion, not after days in the queue. Nil: not configured.
type ownTrust struct {
	roots  *x509.CertPool
	chains *signing.ChainCache
}

// loadOwnTrust reads a PEM file of trust roots and checks that the signing
// certificate chains to them now, so a wrong file stops the start instead
// of quarantining every entry.
func loadOwnTrust(path string, id *signing.Identity, now time.Time) (*ownTrust, error) {
	if path == "" {
		return nil, nil
	}
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trust_roots: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("trust_roots: %s holds no PEM certificate", path)
	}
	inter := x509.NewCertPool()
	for _, c := range id.Chain {
		inter.AddCert(c)
	}
	if _, err := id.Cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("trust_roots: the signing certificate does not chain to %s: %w", path, err)
	}
	return &ownTrust{roots: roots, chains: signing.NewChainCache()}, nil
}

// check verifies a signed CDA document as its receiver will: from its
// serialised bytes.
func (t *ownTrust) check(signed []byte, bodyID string) error {
	if t == nil {
		return nil
	}
	if _, err := signing.Verify(signed, signing.VerifyOptions{Roots: t.roots, ExpectedBodyID: bodyID, Chains: t.chains}); err != nil {
		return fmt.Errorf("own signature does not verify against trust_roots: %w", err)
	}
	return nil
}
