// Package signing creates and verifies the XML signatures (XML-DSig, exclusive
// c14n, RSA-SHA256) that Kanta requires in a CDA document's
// hl7fi:signatureCollection.
package signing

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// Identity is a signing key with its certificate and the intermediate
// certificates needed to chain it to a trusted root.
type Identity struct {
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
	// Chain holds the certificates after the signer in the chain file or
	// PKCS#12 (intermediates, possibly the root); all go into KeyInfo.
	Chain []*x509.Certificate
}

// LoadPKCS12 reads a password-protected PKCS#12 file holding an RSA key, its
// certificate and optionally intermediates.
func LoadPKCS12(path, password string) (*Identity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing: read PKCS#12: %w", err)
	}
	key, cert, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		return nil, fmt.Errorf("signing: decode PKCS#12 %s: %w", path, err)
	}
	return newIdentity(key, cert, chain)
}

// LoadPEM reads a certificate file (signer first, then any intermediates) and
// a PKCS#1 or PKCS#8 RSA private key file.
func LoadPEM(certPath, keyPath string) (*Identity, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("signing: read certificate: %w", err)
	}
	var certs []*x509.Certificate
	for rest := certPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("signing: parse certificate in %s: %w", certPath, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("signing: no CERTIFICATE block in %s", certPath)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("signing: read key: %w", err)
	}
	var key any
	for rest := keyPEM; key == nil; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("signing: no private key block in %s", keyPath)
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		}
		if err != nil {
			return nil, fmt.Errorf("signing: parse private key in %s: %w", keyPath, err)
		}
	}
	return newIdentity(key, certs[0], certs[1:])
}

func newIdentity(key any, cert *x509.Certificate, chain []*x509.Certificate) (*Identity, error) {
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing: private key is %T, Kanta signatures need RSA", key)
	}
	if cert == nil {
		return nil, errors.New("signing: no certificate")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&rsaKey.PublicKey) {
		return nil, errors.New("signing: private key does not match the certificate")
	}
	return &Identity{Key: rsaKey, Cert: cert, Chain: chain}, nil
}

// DaysToExpiry is the number of days (fractional, negative once expired)
// until the certificate's NotAfter, for expiry alerts.
func (id *Identity) DaysToExpiry(now time.Time) float64 {
	return id.Cert.NotAfter.Sub(now).Hours() / 24
}
