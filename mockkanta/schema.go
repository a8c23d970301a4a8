package mockkanta

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/beevik/etree"

	cdaschema "github.com/helsinki-student-welfare/kanta-gateway/documents/cda/schema"
)

// SchemaValidator validates a health care CDA document (the bytes the
// signature covers) against the Finnish CDA schema, CDA_Fi.xsd. Social
// welfare documents have no public schema and are not given to it.
//
// Implementations: mockkanta/libxml2 (in process, needs cgo and libxml2;
// cmd/mock-kanta uses it when built with cgo) and XmllintValidator (a
// subprocess per document; the default, so that binaries without cgo,
// like the gateway's demo, still validate).
//
// The error may quote the document (libxml2's and xmllint's messages name
// values): the mock only maps it to a detail code and never logs it.
type SchemaValidator interface {
	ValidateCDA(doc []byte) error
}

// NoSchemaValidation is the explicit opt-out of schema validation, for
// the gateway's demo on a machine without xmllint: the demo says so on its
// output. The mock-kanta binary and every test validate.
type NoSchemaValidation struct{}

// ValidateCDA accepts every document.
func (NoSchemaValidation) ValidateCDA([]byte) error { return nil }

// XmllintValidator runs `xmllint --schema CDA_Fi.xsd` once per document on
// the embedded schema set written to a temporary directory.
type XmllintValidator struct {
	bin, dir, main string
}

// NewXmllintValidator finds xmllint on PATH and writes the schema set out.
// Close removes it.
func NewXmllintValidator() (*XmllintValidator, error) {
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		return nil, fmt.Errorf("CDA schema validation: xmllint not found (install libxml2-utils, or build mock-kanta with cgo and libxml2-dev for the in-process validator): %w", err)
	}
	dir, err := os.MkdirTemp("", "mockkanta-cda-schema-")
	if err != nil {
		return nil, err
	}
	main, err := cdaschema.WriteTo(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &XmllintValidator{bin: bin, dir: dir, main: main}, nil
}

// ValidateCDA reads the document from standard input; --nonet keeps
// xmllint from fetching anything a document names.
func (v *XmllintValidator) ValidateCDA(doc []byte) error {
	cmd := exec.Command(v.bin, "--noout", "--nonet", "--schema", v.main, "-")
	cmd.Stdin = bytes.NewReader(doc)
	var out bytes.Buffer
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("not valid against %s: %s", cdaschema.Main, firstLine(out.Bytes()))
		}
		return fmt.Errorf("xmllint: %w", err)
	}
	return nil
}

// Close removes the schema files.
func (v *XmllintValidator) Close() error { return os.RemoveAll(v.dir) }

func firstLine(b []byte) string {
	// Warnings about the schema set itself (a namespace imported twice)
	// come first; the document's first error follows them.
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(l) > 0 && !bytes.Contains(l, []byte("Schemas parser warning")) {
			return string(l)
		}
	}
	return "(no message)"
}

// hasDirective reports a DOCTYPE (or other <!…> directive) at the top of
// the document.
func hasDirective(doc *etree.Document) bool {
	for _, t := range doc.Child {
		if _, ok := t.(*etree.Directive); ok {
			return true
		}
	}
	return false
}
