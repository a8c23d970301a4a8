// Package kantasample holds the one copy of the real Kanta archive message
// the tests check against (HUS 2017, Apache-2.0; README.md says where it
// comes from) and its signer's certificate.
package kantasample

import (
	"bytes"
	_ "embed"
	"path/filepath"
	"runtime"
)

//go:embed RCMR_IN100002FI01.xml
var message []byte

//go:embed sample-signer.pem
var signerPEM []byte

// Message is RCMR_IN100002FI01.xml, unchanged; a copy of its own for each
// caller, so a test that edits it cannot change it for the next.
func Message() []byte { return bytes.Clone(message) }

// SignerPEM is the certificate of the message's signature, extracted from
// its KeyInfo (a copy, like Message).
func SignerPEM() []byte { return bytes.Clone(signerPEM) }

// MessagePath and SignerPath are the files themselves, for a test that
// hands them to a command.
func MessagePath() string { return filepath.Join(dir(), "RCMR_IN100002FI01.xml") }

func SignerPath() string { return filepath.Join(dir(), "sample-signer.pem") }

func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}
