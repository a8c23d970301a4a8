//go:build boringcrypto

package signing

import (
	"crypto/boring"
	"testing"
)

// The BoringCrypto build variant (GOEXPERIMENT=boringcrypto, DESIGN.md)
// really signs with BoringCrypto: this file is only built there, and
// scripts/test.sh runs the crypto packages and e2e on that build too.
func TestBoringCryptoBuildUsesBoringCrypto(t *testing.T) {
	if !boring.Enabled() {
		t.Fatal("built with GOEXPERIMENT=boringcrypto, but crypto/boring is not enabled (cgo off?)")
	}
}
