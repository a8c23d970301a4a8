//go:build cgo

package libxml2

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// The real disclosure-prohibition CDA of Kanta's test data (Apache-2.0,
// documents/cda/testdata) is valid against CDA_Fi.xsd; xmllint agrees
// (documents/cda's schema tests use the same files).
func realDocument(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../documents/cda/testdata/KIE_Kielto_20170127.xml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidator(t *testing.T) {
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	doc := realDocument(t)
	if err := v.ValidateCDA(doc); err != nil {
		t.Fatalf("real document: %v", err)
	}
	// An element the schema does not have, right after the root's first child.
	i := bytes.Index(doc, []byte("<realmCode"))
	if i < 0 {
		t.Fatal("no realmCode in the real document")
	}
	bad := append(append(append([]byte{}, doc[:i]...), []byte("<favouriteColour/>")...), doc[i:]...)
	err = v.ValidateCDA(bad)
	if err == nil || !strings.Contains(err.Error(), "CDA_Fi.xsd") || !strings.Contains(err.Error(), "favouriteColour") {
		t.Fatalf("unknown element: %v", err)
	}
	if err := v.ValidateCDA([]byte("<ClinicalDocument")); err == nil {
		t.Fatal("malformed XML accepted")
	}
	// A second validator is independent of the first (libxml2 is set up once).
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	v.Close()
	v.Close() // twice is harmless
	if err := v.ValidateCDA(doc); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("closed validator: %v", err)
	}
	if err := w.ValidateCDA(doc); err != nil {
		t.Fatalf("second validator after the first closed: %v", err)
	}
}
