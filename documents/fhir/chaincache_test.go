package fhir

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"
)

// signedAtTime signs the test Bundle at the given time with the given chain
// and returns what a receiver has: the parsed JSON and the decoded Bundle.
func signedAtTime(t *testing.T, when time.Time, chain ...*x509.Certificate) (any, *Bundle) {
	t.Helper()
	b, _ := signedBundle(t)
	if len(chain) == 0 {
		chain = []*x509.Certificate{getPKI(t).leaf, getPKI(t).ca}
	}
	if err := Sign(b, getPKI(t).leafKey, chain, when, testOrg.OID); err != nil {
		t.Fatal(err)
	}
	raw := mustMarshal(t, b)
	parsed, err := ParseJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalParsed(raw, parsed)
	if err != nil {
		t.Fatal(err)
	}
	return parsed, back
}

// A cached chain spares the parsing and chain building, not the checks that
// depend on the Bundle: a signing time outside the chain's validity, a
// signer not valid at receipt, a signing time in the future, another pool
// of roots, a chain to another root are all refused with the chain cached.
func TestChainCacheKeepsPerBundleChecks(t *testing.T) {
	p := getPKI(t)
	cache := NewChainCache()
	opts := VerifyOptions{Roots: p.roots, Chains: cache}
	v, b := signedAtTime(t, signedAt)
	first, err := VerifyParsedWith(v, b, opts)
	if err != nil {
		t.Fatal(err)
	}
	again, err := VerifyParsedWith(v, b, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Error("the second verification parsed the chain again: not cached")
	}
	if len(cache.entries) != 1 {
		t.Fatalf("cache holds %d chains, want 1", len(cache.entries))
	}

	// The leaf is valid 2026-01-01 to 2028-01-01.
	for name, when := range map[string]time.Time{
		"before the leaf's validity": time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC),
		"after the leaf's validity":  time.Date(2028, 6, 1, 0, 0, 0, 0, time.UTC),
	} {
		v, b := signedAtTime(t, when)
		_, err := VerifyParsedWith(v, b, opts)
		var invalid x509.CertificateInvalidError
		if !errors.As(err, &invalid) {
			t.Errorf("signed %s, chain cached: %v, want the chain refused as of the signing time", name, err)
		}
	}

	receipt := func(at time.Time, skew time.Duration) VerifyOptions {
		o := opts
		o.ReceivedAt, o.MaxFutureSkew = at, skew
		return o
	}
	if _, err := VerifyParsedWith(v, b, receipt(signedAt.Add(time.Minute), 5*time.Minute)); err != nil {
		t.Errorf("received a minute after signing: %v", err)
	}
	for name, tc := range map[string]struct {
		opts VerifyOptions
		want error
	}{
		"leaf expired at receipt":       {receipt(time.Date(2028, 6, 1, 0, 0, 0, 0, time.UTC), 0), ErrSignerExpiredAtReceipt},
		"leaf not yet valid at receipt": {receipt(time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), 2*365*24*time.Hour), ErrSignerExpiredAtReceipt},
		"signed an hour after receipt":  {receipt(signedAt.Add(-time.Hour), 5*time.Minute), ErrSignedInFuture},
	} {
		if _, err := VerifyParsedWith(v, b, tc.opts); !errors.Is(err, tc.want) {
			t.Errorf("%s, chain cached: %v, want %v", name, err, tc.want)
		}
	}

	// The same cache with another pool: the cached chain does not count.
	if _, err := VerifyParsedWith(v, b, VerifyOptions{Roots: p.others, Chains: cache}); err == nil {
		t.Error("a chain cached for one pool of roots verifies against another")
	}
	// A chain to another root (a CA the pool does not hold), beside the
	// cached one.
	v2, b2 := signedAtTime(t, signedAt, issueSigner(t, p.otherRoot, 12, x509.KeyUsageDigitalSignature), p.otherRoot)
	var unknown x509.UnknownAuthorityError
	if _, err := VerifyParsedWith(v2, b2, opts); !errors.As(err, &unknown) {
		t.Errorf("chain to another root: %v, want unknown authority", err)
	}
	if len(cache.entries) != 1 {
		t.Errorf("refused chains were cached: %d entries", len(cache.entries))
	}
}

// The signer's key usage is checked on every Bundle: a TLS certificate or
// one without digitalSignature / nonRepudiation is refused each time.
func TestSignerKeyUsageCheckedEveryTime(t *testing.T) {
	p := getPKI(t)
	opts := VerifyOptions{Roots: p.roots, Chains: NewChainCache()}
	tls := issueSigner(t, p.ca, 10, x509.KeyUsageDigitalSignature, x509.ExtKeyUsageClientAuth)
	encipherOnly := issueSigner(t, p.ca, 11, x509.KeyUsageKeyEncipherment)
	for i := 0; i < 2; i++ {
		v, b := signedAtTime(t, signedAt, tls, p.ca)
		if _, err := VerifyParsedWith(v, b, opts); !errors.Is(err, ErrTLSCertificate) {
			t.Errorf("TLS certificate, round %d: %v", i, err)
		}
		v, b = signedAtTime(t, signedAt, encipherOnly, p.ca)
		if _, err := VerifyParsedWith(v, b, opts); err == nil {
			t.Errorf("key encipherment only, round %d: verified", i)
		}
	}
}

// The cache is bounded: past chainCacheSize chains it starts again.
func TestChainCacheBounded(t *testing.T) {
	c := NewChainCache()
	roots := x509.NewCertPool()
	period := [][]*x509.Certificate{{getPKI(t).leaf}}
	for i := 0; i < chainCacheSize+10; i++ {
		key := x5cKey([]string{string(rune('a' + i%26)), big.NewInt(int64(i)).String()})
		c.remember(roots, key, c.lookup(roots, key), nil, period)
		if len(c.entries) > chainCacheSize {
			t.Fatalf("cache holds %d chains", len(c.entries))
		}
	}
	if len(c.entries) == 0 {
		t.Fatal("cache empty")
	}
}

// issueSigner makes a certificate for the test leaf's key, valid as the
// leaf, issued by the test CA or by the other root (whose key is the
// leaf's).
func issueSigner(t *testing.T, parent *x509.Certificate, serial int64, ku x509.KeyUsage, eku ...x509.ExtKeyUsage) *x509.Certificate {
	t.Helper()
	p := getPKI(t)
	parentKey := p.caKey
	if parent == p.otherRoot {
		parentKey = p.leafKey
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "Helsinki", SerialNumber: testOrg.OID},
		NotBefore:    p.leaf.NotBefore, NotAfter: p.leaf.NotAfter, KeyUsage: ku, ExtKeyUsage: eku,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &p.leafKey.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
