package hl7xml

import (
	"testing"

	"github.com/beevik/etree"
)

const (
	v3 = "urn:hl7-org:v3"
	fi = "urn:hl7finland"
)

// A document in the shapes real senders use: HL7 V3 as the default
// namespace, urn:hl7finland under two different prefixes, and an element of
// a foreign namespace with a local name the profile also uses.
const sample = `<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:hl7fi="urn:hl7finland" xmlns:x="urn:x">` +
	`<id root="1.2.3"/>` +
	`<x:id root="foreign"/>` +
	`<recordTarget><patientRole><id root="r1" extension="e1"/><id root="r2"/></patientRole></recordTarget>` +
	`<hl7fi:localHeader><hl7fi:recordStatus code="3"/></hl7fi:localHeader>` +
	`<other:localHeader xmlns:other="urn:hl7finland"><other:recordStatus code="7"/></other:localHeader>` +
	`</ClinicalDocument>`

func root(t *testing.T) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(sample); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

func TestFindersMatchNamespaceURIAndLocalName(t *testing.T) {
	r := root(t)
	if !Is(r, v3, "ClinicalDocument") || Is(r, fi, "ClinicalDocument") || Is(r, v3, "clinicalDocument") || Is(nil, v3, "ClinicalDocument") {
		t.Error("Is: want a match by namespace URI and local name only")
	}
	if got := Attr(Child(r, v3, "id"), "root"); got != "1.2.3" {
		t.Errorf("Child(v3, id) root = %q, want 1.2.3 (not the urn:x id)", got)
	}
	if got := Attr(Child(r, "urn:x", "id"), "root"); got != "foreign" {
		t.Errorf("Child(urn:x, id) root = %q, want foreign", got)
	}
	// Both local headers are urn:hl7finland whatever their prefix.
	hs := Children(r, fi, "localHeader")
	if len(hs) != 2 || Attr(Child(hs[1], fi, "recordStatus"), "code") != "7" {
		t.Errorf("Children(fi, localHeader) = %d elements, want 2 in document order", len(hs))
	}
	if Children(r, v3, "localHeader") != nil {
		t.Error("Children found a urn:hl7finland element in urn:hl7-org:v3")
	}
	ids := Children(Path(r, v3, "recordTarget", "patientRole"), v3, "id")
	if len(ids) != 2 || Attr(ids[0], "extension") != "e1" || Attr(ids[1], "root") != "r2" {
		t.Errorf("patientRole ids = %d, want r1/e1 then r2", len(ids))
	}
}

func TestFindersTakeNilAndMissing(t *testing.T) {
	r := root(t)
	if Child(nil, v3, "id") != nil || Children(nil, v3, "id") != nil || Attr(nil, "root") != "" {
		t.Error("a nil element must find nothing")
	}
	if Path(r, v3, "recordTarget", "nothing", "id") != nil {
		t.Error("Path past a missing step must be nil")
	}
	if Path(r, v3) != r {
		t.Error("Path with no names is the element itself")
	}
	if Attr(Child(r, v3, "id"), "extension") != "" {
		t.Error("a missing attribute must read as empty")
	}
	if ByLocalName(nil, "id") != nil {
		t.Error("ByLocalName(nil) must find nothing")
	}
}

func TestByLocalNameIgnoresNamespaces(t *testing.T) {
	r := root(t)
	// Both ids directly under the root: HL7 V3 and urn:x.
	if got := len(ByLocalName(r, "id")); got != 2 {
		t.Errorf("ByLocalName(id) = %d, want 2 (any namespace)", got)
	}
	// Every match at each step, not just the first.
	sts := ByLocalName(r, "localHeader", "recordStatus")
	if len(sts) != 2 || Attr(sts[0], "code") != "3" || Attr(sts[1], "code") != "7" {
		t.Errorf("ByLocalName(localHeader, recordStatus) = %d, want codes 3 and 7", len(sts))
	}
	if got := ByLocalName(r); len(got) != 1 || got[0] != r {
		t.Error("ByLocalName with no names is the element itself")
	}
}

func write(el *etree.Element) string {
	doc := etree.NewDocument()
	doc.SetRoot(el)
	s, _ := doc.WriteToString()
	return s
}

func TestWritersGiveTheRealAttributeOrder(t *testing.T) {
	p := etree.NewElement("p")
	II(p, "id", "1.2.246.21", "010190-999X")
	II(p, "setId", "1.2.3", "")
	CD(p, "code", "PP1", "1.2.246.537.5.40157.2008", "eArkisto", "Arkistoi")
	CD(p, "reasonCode", "1", "1.2.246.537.5.40178.2008", "", "")
	want := `<p><id extension="010190-999X" root="1.2.246.21"/><setId root="1.2.3"/>` +
		`<code code="PP1" codeSystem="1.2.246.537.5.40157.2008" codeSystemName="eArkisto" displayName="Arkistoi"/>` +
		`<reasonCode code="1" codeSystem="1.2.246.537.5.40178.2008"/></p>`
	if got := write(p); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestRehomeDropsPrefixesAndDeclarations(t *testing.T) {
	doc := etree.NewDocument()
	src := `<fi:header xmlns:fi="urn:hl7finland" xmlns="urn:other" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" code="1" xsi:type="CV">` +
		`text<fi:signature>s</fi:signature><fi:keep a="b">k<!--c--></fi:keep></fi:header>`
	if err := doc.ReadFromString(src); err != nil {
		t.Fatal(err)
	}
	want := `<header code="1" xsi:type="CV">text<keep a="b">k</keep></header>`
	if got := write(Rehome(doc.Root(), "signature")); got != want {
		t.Errorf("Rehome: got  %s\nwant %s", got, want)
	}
	if got := write(Rehome(doc.Root(), "")); got != `<header code="1" xsi:type="CV">text<signature>s</signature><keep a="b">k</keep></header>` {
		t.Errorf("Rehome without skip: %s", got)
	}
	dst := etree.NewElement("d")
	CopyChild(dst, root(t), v3, "id")
	CopyChild(dst, root(t), v3, "absent")
	if got := write(dst); got != `<d><id root="1.2.3"/></d>` {
		t.Errorf("CopyChild: %s", got)
	}
}
