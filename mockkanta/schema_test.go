package mockkanta

import (
	"encoding/base64"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/mockkanta/libxml2"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// schemaValidators are both implementations, each made once per test.
func schemaValidators(t testing.TB) map[string]SchemaValidator {
	t.Helper()
	x, err := NewXmllintValidator()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	l, err := libxml2.New()
	if err != nil {
		t.Fatalf("the mock's tests need the in-process validator (cgo, libxml2-dev): %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return map[string]SchemaValidator{"xmllint": x, "libxml2": l}
}

func healthCDA(t testing.TB, id string, edit func(*etree.Document)) []byte {
	e := entry(id, documents.RolePsychologist, "2014-01-01")
	return build(t, spec{entry: e, decision: decide(e, true), editCDA: edit}).cda
}

// Both validators agree: our signed health document is valid, and a local
// header out of the schema's order, or an element the schema does not
// know, is not.
func TestSchemaValidators(t *testing.T) {
	valid := healthCDA(t, "XSD-OK", nil)
	misordered := healthCDA(t, "XSD-ORDER", func(d *etree.Document) {
		h := d.Root().SelectElement("localHeader")
		rs := h.SelectElement("recordStatus")
		h.RemoveChild(rs)
		h.InsertChildAt(0, rs)
	})
	unknown := healthCDA(t, "XSD-UNKNOWN", func(d *etree.Document) {
		d.Root().SelectElement("recordTarget").CreateElement("favouriteColour").SetText("blue")
	})
	for name, v := range schemaValidators(t) {
		t.Run(name, func(t *testing.T) {
			if err := v.ValidateCDA(valid); err != nil {
				t.Fatalf("our health document: %v", err)
			}
			for what, doc := range map[string][]byte{"misordered local header": misordered, "unknown element": unknown} {
				err := v.ValidateCDA(doc)
				if err == nil || !strings.Contains(err.Error(), "CDA_Fi.xsd") {
					t.Errorf("%s: %v, want an error naming CDA_Fi.xsd", what, err)
				}
			}
			if err := v.ValidateCDA([]byte("<not-closed>")); err == nil {
				t.Error("malformed XML accepted")
			}
		})
	}
}

// BenchmarkSchemaValidation is the cost per health document (4 KiB of
// narrative, signed, ~12 KB) of each validator:
//
//	go test -run '^$' -bench BenchmarkSchemaValidation -benchtime 2s -cpu 1 ./mockkanta/
func BenchmarkSchemaValidation(b *testing.B) {
	e := entry("XSD-BENCH", documents.RolePsychologist, "2014-01-01")
	e.Text.Narrative = strings.Repeat("Oppilaan kanssa keskusteltiin koulunkäynnistä ja jaksamisesta. ", 66)[:4096]
	doc := build(b, spec{entry: e, decision: decide(e, true)}).cda
	vs := schemaValidators(b)
	for _, name := range []string{"libxml2", "xmllint"} {
		v := vs[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := v.ValidateCDA(doc); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(doc)), "cda-bytes")
		})
	}
}

// A health care document that the profile check lets through but
// CDA_Fi.xsd does not is refused with SCHEMA_VIOLATION, by the in-process
// validator and by the default (xmllint) alike. Social welfare documents
// have no public schema: the same addition passes.
func TestDocumentOutsideTheSchemaIsRefused(t *testing.T) {
	unknown := func(d *etree.Document) {
		d.Root().SelectElement("recordTarget").CreateElement("favouriteColour").SetText("blue")
	}
	for _, name := range []string{"libxml2", "xmllint (default)"} {
		t.Run(name, func(t *testing.T) {
			cfg := trusted()
			if name == "libxml2" {
				cfg.Schema = testSchema
			}
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, isDefault := s.inspector.(*cdaInspector).schema.(*XmllintValidator); isDefault != (cfg.Schema == nil) {
				t.Fatalf("validator %T", s.inspector.(*cdaInspector).schema)
			}
			hs := httptest.NewServer(s.Handler())
			defer func() { hs.Close(); s.Close() }()
			psy := entry("XSD-H-"+name, documents.RolePsychologist, "2014-01-01")
			expectAck(t, submit(t, hs.URL, build(t, spec{entry: psy, decision: decide(psy, true), editCDA: unknown}).message),
				wire.AckRejected, wire.DetailSchemaViolation)
			ok := entry("XSD-OK-"+name, documents.RolePsychologist, "2014-01-01")
			expectAck(t, submit(t, hs.URL, build(t, spec{entry: ok, decision: decide(ok, true)}).message),
				wire.AckAccepted, wire.DetailAccepted)
			kur := entry("XSD-S-"+name, documents.RoleSchoolWelfareOfficer, "2014-01-01")
			archiveRelationship(t, hs.URL, kur)
			expectAck(t, submit(t, hs.URL, build(t, spec{entry: kur, decision: decide(kur, true), editCDA: unknown}).message),
				wire.AckAccepted, wire.DetailAccepted)
		})
	}
	// The default validator removes its schema files when the server closes.
	s, err := New(trusted())
	if err != nil {
		t.Fatal(err)
	}
	dir := s.ownSchema.dir
	if _, err := os.Stat(filepath.Join(dir, "CDA_Fi.xsd")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("schema directory left behind: %v", err)
	}
}

// One in-process validator serves concurrent requests: each answer stays
// the right one for its document.
func TestSchemaValidatorConcurrent(t *testing.T) {
	valid := healthCDA(t, "XSD-CONC-OK", nil)
	invalid := healthCDA(t, "XSD-CONC-BAD", func(d *etree.Document) {
		d.Root().SelectElement("recordTarget").CreateElement("favouriteColour")
	})
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 25; i++ {
				if err := testSchema.ValidateCDA(valid); err != nil {
					errs <- "valid document refused: " + err.Error()
					return
				}
				if err := testSchema.ValidateCDA(invalid); err == nil {
					errs <- "invalid document accepted"
					return
				}
			}
			errs <- ""
		}()
	}
	for g := 0; g < 8; g++ {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}

// A document with a DTD is not given to the schema validator: the frame
// parser refuses it as not well-formed (wire.ParseMessage, xmlcheck)
// before any other check. (BuildMessage refuses to frame it, so the
// document is put into a frame built for a good one.)
func TestDocumentWithDTDIsRefusedUnvalidated(t *testing.T) {
	counting := &countingValidator{next: testSchema}
	cfg := trusted()
	cfg.Schema = counting
	_, hs := newTestServer(t, cfg)
	e := entry("XSD-DTD", documents.RolePsychologist, "2014-01-01")
	b := build(t, spec{entry: e, decision: decide(e, true)})
	withDTD := replaceOnce(b.cda, "<ClinicalDocument", `<!DOCTYPE ClinicalDocument [<!ENTITY x "y">]><ClinicalDocument`)
	oldPart := base64.StdEncoding.EncodeToString(b.cda)
	frame := string(b.message)
	start := strings.Index(frame, oldPart[:76])
	end := strings.Index(frame[start:], "\n\n--")
	if start < 0 || end < 0 {
		t.Fatal("document part not found in the frame")
	}
	msg := frame[:start] + base64.StdEncoding.EncodeToString(withDTD) + frame[start+end:]
	expectAck(t, submit(t, hs.URL, []byte(msg)), wire.AckRejected, wire.DetailMalformedFrame)
	ok := entry("XSD-DTD-OK", documents.RolePsychologist, "2014-01-01")
	expectAck(t, submit(t, hs.URL, build(t, spec{entry: ok, decision: decide(ok, true)}).message), wire.AckAccepted, wire.DetailAccepted)
	if counting.n.Load() != 1 {
		t.Errorf("validator called %d times, want 1 (the document without DTD)", counting.n.Load())
	}
}

type countingValidator struct {
	next SchemaValidator
	n    atomic.Int64
}

func (c *countingValidator) ValidateCDA(doc []byte) error {
	c.n.Add(1)
	return c.next.ValidateCDA(doc)
}
