package fhir

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"
)

// The detached JWS is verified by hand (verifyRS256): a signature made as
// RFC 7515 says verifies, one over anything else does not, and a header
// that would change what is signed or how (crit, b64, an embedded jwk, an
// alg spelt in another case) is refused.
func TestVerifyRS256ByHand(t *testing.T) {
	p := getPKI(t)
	b, raw := signedBundle(t)
	payload, err := canonicalWithoutSignature(raw)
	if err != nil {
		t.Fatal(err)
	}
	x5c := []string{base64.StdEncoding.EncodeToString(p.leaf.Raw), base64.StdEncoding.EncodeToString(p.ca.Raw)}
	sigT := signedAt.UTC().Format(time.RFC3339)
	signWith := func(header map[string]any, signed []byte) *Signature {
		hj, err := json.Marshal(header)
		if err != nil {
			t.Fatal(err)
		}
		h64 := base64.RawURLEncoding.EncodeToString(hj)
		digest := sha256.Sum256([]byte(h64 + "." + base64.RawURLEncoding.EncodeToString(signed)))
		sig, err := rsa.SignPKCS1v15(rand.Reader, p.leafKey, crypto.SHA256, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		s := *b.Signature
		s.Data = str(base64.StdEncoding.EncodeToString([]byte(h64 + ".." + base64.RawURLEncoding.EncodeToString(sig))))
		return &s
	}
	plain := map[string]any{"alg": "RS256", "x5c": x5c, "sigT": sigT}
	if _, err := verifyDetached(signWith(plain, payload), payload, p.roots); err != nil {
		t.Fatalf("a JWS made by the RFC does not verify: %v", err)
	}
	if _, err := verifyDetached(signWith(plain, append([]byte(nil), payload[1:]...)), payload, p.roots); err == nil {
		t.Error("a signature over other bytes verifies")
	}
	with := func(k string, v any) map[string]any {
		h := map[string]any{}
		for k, v := range plain {
			h[k] = v
		}
		h[k] = v
		return h
	}
	for name, h := range map[string]map[string]any{
		"crit":         with("crit", []string{"exp"}),
		"b64 false":    with("b64", false),
		"embedded jwk": with("jwk", map[string]any{"kty": "RSA"}),
		"alg as ALG":   {"ALG": "RS256", "x5c": x5c, "sigT": sigT},
		"alg none":     with("alg", "none"),
	} {
		if _, err := verifyDetached(signWith(h, payload), payload, p.roots); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}
