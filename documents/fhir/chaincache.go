package fhir

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"sync"
	"time"
)

// ChainCache remembers x5c certificate chains verified to one set of roots:
// the parsed certificates and, for each chain x509 built from them to a
// root, the period in which every certificate of that chain is valid. A
// Bundle signed by a known chain at a time inside one of its periods needs
// neither parsing nor chain building (a quarter of the mock's time per
// Bundle was both, for the same few signers). What depends on the Bundle
// (its signing time, the receipt time, the signer's key usage, the
// signature) is checked on every Bundle (verifyDetachedWith, checkSigner).
// Only chains that verified are kept, at most chainCacheSize of them; past
// that the cache starts again. Safe for concurrent use; use one per roots.
type ChainCache struct {
	mu      sync.Mutex
	roots   *x509.CertPool // the pool of the first use; with another the cache is not used
	entries map[[sha256.Size]byte]*knownChain
}

// knownChain is never changed once in the cache (a later verification
// replaces it), so readers use it without the lock.
type knownChain struct {
	certs   []*x509.Certificate // leaf first, as in x5c
	periods []validPeriod
}

type validPeriod struct{ from, until time.Time }

const (
	chainCacheSize = 1024
	// maxPeriods bounds the periods of one x5c (one per chain x509 found
	// to the roots: more than one only with cross-signed CAs).
	maxPeriods = 8
)

// NewChainCache returns an empty cache.
func NewChainCache() *ChainCache {
	return &ChainCache{entries: map[[sha256.Size]byte]*knownChain{}}
}

// x5cKey identifies an x5c header value: the SHA-256 of its certificates'
// base64 text, each prefixed with its length (so no two lists share a key).
func x5cKey(x5c []string) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, c := range x5c {
		binary.BigEndian.PutUint64(n[:], uint64(len(c)))
		h.Write(n[:])
		h.Write([]byte(c))
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// lookup returns the chain verified to roots under key, or nil (also for a
// nil cache, and for roots other than those the cache was first used with:
// a chain verified to one pool says nothing about another).
func (c *ChainCache) lookup(roots *x509.CertPool, key [sha256.Size]byte) *knownChain {
	if c == nil || roots == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.roots == nil {
		c.roots = roots
	}
	if c.roots != roots {
		return nil
	}
	return c.entries[key]
}

func (k *knownChain) certificates() []*x509.Certificate {
	if k == nil {
		return nil
	}
	return k.certs
}

// trustedAt: a chain of these certificates was verified to the roots, and
// every certificate of it is valid at t. x509's other checks of the chain
// (signatures, constraints, CA flags) do not depend on the time.
func (k *knownChain) trustedAt(t time.Time) bool {
	if k == nil {
		return false
	}
	for _, p := range k.periods {
		if !t.Before(p.from) && !t.After(p.until) {
			return true
		}
	}
	return false
}

// remember records the chains x509 built from certs (after known, the
// entry already cached, if any).
func (c *ChainCache) remember(roots *x509.CertPool, key [sha256.Size]byte, known *knownChain, certs []*x509.Certificate, chains [][]*x509.Certificate) {
	if c == nil || roots == nil {
		return
	}
	next := &knownChain{certs: certs}
	if known != nil {
		next.periods = append(next.periods, known.periods...)
	}
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
		next.periods = append(next.periods, p)
	}
	if len(next.periods) > maxPeriods {
		next.periods = next.periods[len(next.periods)-maxPeriods:]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.roots != roots {
		return
	}
	if _, ok := c.entries[key]; !ok && len(c.entries) >= chainCacheSize {
		clear(c.entries)
	}
	c.entries[key] = next
}
