package gateway

import (
	"bytes"
	"crypto/x509"
	"path/filepath"
	"strings"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/adapter"
	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/pki"
	"github.com/helsinki-student-welfare/kanta-gateway/signing"
)

// trustSetup is a builder configuration whose organisation signs with a
// certificate of a fresh test CA, and the paths of that PKI.
func trustSetup(t *testing.T) (config.Config, *pki.Paths) {
	t.Helper()
	cfg := config.Default()
	paths, err := pki.Generate(filepath.Join(t.TempDir(), "pki"), []pki.Organiser{{OID: cfg.Organisations[0].OID, Name: cfg.Organisations[0].Name}}, "pw", testNow)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Organisations[0].PKCS12 = paths.Signing[cfg.Organisations[0].OID].P12
	cfg.Organisations[0].PKCS12Password = "pw"
	return cfg, paths
}

func finalEntry(t *testing.T, id string) (*documents.Entry, documents.Decision) {
	t.Helper()
	it, err := adapter.NewReader(strings.NewReader(final(id)+"\n"), "trust.ndjson", adapter.Options{}).Next()
	if err != nil || it.Entry == nil {
		t.Fatalf("entry: %v %+v", err, it.Rejection)
	}
	cfg := config.Default()
	return it.Entry, cfg.PolicyEngine().Decide(it.Entry, testNow, nil)
}

// organisations[].trust_roots works as documented: a signing certificate
// that does not chain to the roots stops the start, naming the key, and
// every document is verified against the roots before it is queued: one
// whose signature does not verify (here: the roots replaced by another
// CA's after the start) is an error of that entry, not a queued job.
func TestOwnSignatureVerifiedAgainstTrustRoots(t *testing.T) {
	cfg, paths := trustSetup(t)
	_, other := trustSetup(t)
	cfg.Organisations[0].TrustRoots = other.CACert
	if _, err := NewBuilder(&cfg, testNow); err == nil || !strings.Contains(err.Error(), "trust_roots") {
		t.Fatalf("a signing certificate of another CA: %v, want a trust_roots error", err)
	}

	e, d := finalEntry(t, "TRUST-1")
	cfg.Organisations[0].TrustRoots = paths.CACert
	b, err := NewBuilder(&cfg, testNow)
	if err != nil {
		t.Fatal(err)
	}
	built, err := b.Build(e, d, testNow)
	if err != nil || len(built) != 1 || !bytes.Contains(built[0].CDA, []byte("signatureCollection")) {
		t.Fatalf("a good signature: %v", err)
	}
	// Roots swapped after the start (the file replaced by another CA's):
	// every document is checked, so the next one is refused.
	oid := cfg.Organisations[0].OID
	o := b.orgs[oid]
	otherCA, err := readCert(other.CACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(otherCA)
	o.trust = &ownTrust{roots: pool, chains: signing.NewChainCache()}
	b.orgs[oid] = o
	if _, err := b.Build(e, d, testNow); err == nil || !strings.Contains(err.Error(), "trust_roots") {
		t.Fatalf("a document whose signature does not verify was built: %v", err)
	}
}

// The check reads the serialised bytes as the receiver does: a changed
// byte of the signed content is refused.
func TestOwnTrustRefusesAlteredDocument(t *testing.T) {
	cfg, paths := trustSetup(t)
	cfg.Organisations[0].TrustRoots = paths.CACert
	b, err := NewBuilder(&cfg, testNow)
	if err != nil {
		t.Fatal(err)
	}
	e, d := finalEntry(t, "TRUST-2")
	built, err := b.Build(e, d, testNow)
	if err != nil {
		t.Fatal(err)
	}
	o := b.orgs[cfg.Organisations[0].OID]
	doc := built[0].CDA
	if err := o.trust.check(doc, ""); err != nil {
		t.Fatalf("the document as built: %v", err)
	}
	altered := bytes.Replace(doc, []byte("Tapaaminen."), []byte("Tapaaminen!"), 1)
	if bytes.Equal(altered, doc) {
		t.Fatal("narrative not found in the document")
	}
	if err := o.trust.check(altered, ""); err == nil {
		t.Fatal("an altered document verified")
	}
}
