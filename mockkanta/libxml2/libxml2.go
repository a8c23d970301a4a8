//go:build cgo

// Package libxml2 validates health care CDA documents against the Finnish
// CDA schema in process, with libxml2 (cgo). A separate package so that only
// the binaries that want it (cmd/mock-kanta) link libxml2; the mock itself
// takes any mockkanta.SchemaValidator.
package libxml2

import (
	"errors"
	"fmt"
	"os"
	"sync"

	xsdvalidate "github.com/terminalstatic/go-xsd-validate"

	"github.com/helsinki-student-welfare/kanta-gateway/documents/cda/schema"
)

// Available reports whether this build has the in-process validator.
const Available = true

var (
	initOnce sync.Once
	initErr  error // libxml2's initialisation, once per process
)

// Validator holds the parsed schema set. libxml2 only reads a parsed
// schema while validating, so one Validator serves all goroutines.
type Validator struct {
	mu     sync.RWMutex
	schema *xsdvalidate.XsdHandler
}

// New parses the embedded schema set (written to a temporary directory
// for the parse, since xs:include resolves against files, then removed).
func New() (*Validator, error) {
	initOnce.Do(func() { initErr = xsdvalidate.Init() })
	if initErr != nil {
		return nil, initErr
	}
	dir, err := os.MkdirTemp("", "cda-schema-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	main, err := schema.WriteTo(dir)
	if err != nil {
		return nil, err
	}
	h, err := xsdvalidate.NewXsdHandlerUrl(main, xsdvalidate.ParsErrDefault)
	if err != nil {
		return nil, fmt.Errorf("libxml2: parse %s: %w", schema.Main, err)
	}
	return &Validator{schema: h}, nil
}

// ValidateCDA parses doc with libxml2 (no network, no external entities:
// libxml2's defaults without XML_PARSE_NOENT / DTDLOAD) and validates it.
func (v *Validator) ValidateCDA(doc []byte) error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.schema == nil {
		return errors.New("libxml2: validator closed")
	}
	err := v.schema.ValidateMem(doc, xsdvalidate.ParsErrDefault)
	if err == nil {
		return nil
	}
	var ve xsdvalidate.ValidationError
	if errors.As(err, &ve) && len(ve.Errors) > 0 {
		return fmt.Errorf("not valid against %s: line %d: %s", schema.Main, ve.Errors[0].Line, ve.Errors[0].Message)
	}
	return fmt.Errorf("not valid against %s: %w", schema.Main, err)
}

// Close frees the schema; validations still running finish first.
func (v *Validator) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.schema != nil {
		v.schema.Free()
		v.schema = nil
	}
	return nil
}
