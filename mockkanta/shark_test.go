package mockkanta

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/sosmeta"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

func welfare(id string) *documents.Entry {
	return entry(id, documents.RoleSchoolWelfareOfficer, "2012-03-04")
}

// structuredEdit rewrites the document's hl7fi:json content before signing.
func structuredEdit(t *testing.T, edit func(json string) string) func(*etree.Document) {
	return func(doc *etree.Document) {
		el := doc.FindElement("//nonXMLBody/json")
		if el == nil {
			t.Fatal("no hl7fi:json in the built document")
		}
		raw, err := base64.StdEncoding.DecodeString(el.Text())
		if err != nil {
			t.Fatal(err)
		}
		el.SetText(base64.StdEncoding.EncodeToString([]byte(edit(string(raw)))))
	}
}

func mustReplace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not in %s", old, s)
	}
	return strings.Replace(s, old, new, 1)
}

// The document group must fit the service request: 1 with SP1, 5 with SP17
// (kanta-domain.md 8.2; real frames of Warc0ck/SH-Kanta-validator:
// "Testiasiakirjat/Asiakkuusasiakirja_K.xml" reasonCode SP1 with group 1 in
// "…_S.xml", "asia ja rajoitukset testi K.xml" SP17 with group 5 in "… S.xml",
// both of code system 1.2.246.537.6.1503.201601).
func TestSHARKGroupFitsServiceRequest(t *testing.T) {
	_, hs := newTestServer(t, trusted())
	e := welfare("GRP-1")
	const sp1 = `code="SP1" codeSystem="1.2.246.537.6.1503.201601"`
	const sp17 = `code="SP17" codeSystem="1.2.246.537.6.1503.201601"`
	// A relationship document (group 1) asked to be archived as a client
	// document, and a client document (group 5) as a relationship document.
	rel := buildRelationship(t, relationshipSpec{entry: e, editFrame: func(b []byte) []byte { return replaceOnce(b, sp1, sp17) }})
	expectAck(t, submit(t, hs.URL, rel.message), wire.AckRejected, wire.DetailServiceRequestGroup)
	doc := build(t, spec{entry: e, decision: decide(e, true), editFrame: func(b []byte) []byte { return replaceOnce(b, sp17, sp1) }})
	expectAck(t, submit(t, hs.URL, doc.message), wire.AckRejected, wire.DetailServiceRequestGroup)
	// The right request with another group in the document (the gateway
	// profile refuses a relationship document of another group earlier; the
	// archive's own rule is what the minimal profile leaves).
	_, minimal := newTestServer(t, Config{TrustRoots: testPKI.roots, Profile: ProfileMinimal})
	wrongGroup := func(doc *etree.Document) {
		g := doc.FindElement("//localSocialHeader/documentGroup")
		g.CreateAttr("code", "2")
	}
	expectAck(t, submit(t, minimal.URL, buildRelationship(t, relationshipSpec{entry: e, editCDA: wrongGroup}).message),
		wire.AckRejected, wire.DetailServiceRequestGroup)
	expectAck(t, submit(t, minimal.URL, build(t, spec{entry: e, decision: decide(e, true), editCDA: wrongGroup}).message),
		wire.AckRejected, wire.DetailServiceRequestGroup)
	expectAck(t, submit(t, hs.URL, build(t, spec{entry: e, decision: decide(e, true), editCDA: wrongGroup}).message),
		wire.AckRejected, wire.DetailServiceRequestGroup)
	// As built, both pass, relationship first.
	archiveRelationship(t, hs.URL, e)
	expectAck(t, submit(t, hs.URL, build(t, spec{entry: e, decision: decide(e, true)}).message), wire.AckAccepted, wire.DetailAccepted)
}

// A client document whose client relationship document is not stored yet
// is AE (it may succeed later) and is stored once the relationship is. The
// match is the same client and custodian: another client's relationship,
// or the client's relationship with another register keeper, does not do.
func TestSHARKClientRelationshipFirst(t *testing.T) {
	_, hs := newTestServer(t, trusted())
	e := welfare("REL-1")
	doc := build(t, spec{entry: e, decision: decide(e, true)})
	expectAck(t, submit(t, hs.URL, doc.message), wire.AckError, wire.DetailClientRelationshipMissing)

	other := entry("REL-OTHER", documents.RoleSchoolWelfareOfficer, "2012-03-05") // another client
	archiveRelationship(t, hs.URL, other)
	// The same client's relationship kept by another register keeper.
	elsewhere := *e
	elsewhere.ClientRelationship = &documents.ClientRelationship{ID: "REL-1-ELSEWHERE", Opened: e.ClientRelationship.Opened}
	otherKeeper := buildRelationship(t, relationshipSpec{entry: &elsewhere, editCDA: func(doc *etree.Document) {
		doc.FindElement("//custodian/assignedCustodian/representedCustodianOrganization/id").CreateAttr("root", "1.2.246.10.9999999.10.40")
	}})
	expectAck(t, submit(t, hs.URL, otherKeeper.message), wire.AckAccepted, wire.DetailAccepted)
	expectAck(t, submit(t, hs.URL, doc.message), wire.AckError, wire.DetailClientRelationshipMissing)
	if _, status := getDocument(t, hs.URL, doc.id); status != 404 {
		t.Fatalf("a client document without its relationship was stored (status %d)", status)
	}

	archiveRelationship(t, hs.URL, e)
	// The same message as before now goes in.
	expectAck(t, submit(t, hs.URL, doc.message), wire.AckAccepted, wire.DetailAccepted)
	if v, status := getDocument(t, hs.URL, doc.id); status != 200 || v.ServiceRequest != "SP17" || v.DocumentGroup != "5" {
		t.Fatalf("stored client document %+v (status %d)", v, status)
	}
}

// Structured content is present for a type with a Sosmeta structure,
// decodes, validates against that structure, and agrees with the header.
func TestSHARKStructuredContent(t *testing.T) {
	_, hs := newTestServer(t, trusted())
	// Without hl7fi:json the gateway profile refuses the body first; the
	// archive's rule is seen with the minimal profile.
	_, minimal := newTestServer(t, Config{TrustRoots: testPKI.roots, Profile: ProfileMinimal})
	e := welfare("STR-1")
	archiveRelationship(t, hs.URL, e)
	archiveRelationship(t, minimal.URL, e)
	otherHetu := hetuFor("2012-03-04", 922)
	for _, tt := range []struct {
		name   string
		edit   func(*etree.Document)
		detail string
	}{
		{"no structured content", func(doc *etree.Document) {
			el := doc.FindElement("//nonXMLBody/json")
			el.Parent().RemoveChild(el)
		}, wire.DetailStructuredContentMissing},
		{"not base64", func(doc *etree.Document) { doc.FindElement("//nonXMLBody/json").SetText("%%% not base64 %%%") }, wire.DetailStructuredContentInvalid},
		{"not JSON", structuredEdit(t, func(string) string { return "{not json" }), wire.DetailStructuredContentInvalid},
		{"against its schema", structuredEdit(t, func(s string) string {
			return mustReplace(t, s, `"palvelutehtava":{`, `"palvelutehtava_x":{`)
		}), wire.DetailStructuredContentInvalid},
		{"another structure's id", func(doc *etree.Document) {
			doc.FindElement("//localSocialHeader/contentSpecificationId").SetText(sosmeta.GuidanceAndCounselling)
		}, wire.DetailContentSpecificationMismatch},
		{"another client", structuredEdit(t, func(s string) string { return mustReplace(t, s, e.Client.Hetu, otherHetu) }), wire.DetailStructuredClientMismatch},
		{"another service task", structuredEdit(t, func(s string) string {
			return mustReplace(t, s, `"code":"13"`, `"code":"24"`)
		}), wire.DetailStructuredServiceTask},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := build(t, spec{entry: e, decision: decide(e, true), editCDA: tt.edit})
			expectAck(t, submit(t, minimal.URL, b.message), wire.AckRejected, tt.detail)
			if tt.detail != wire.DetailStructuredContentMissing {
				expectAck(t, submit(t, hs.URL, b.message), wire.AckRejected, tt.detail)
			}
		})
	}
	// The client relationship document is checked the same way.
	badRel := buildRelationship(t, relationshipSpec{entry: welfare("STR-2"), editCDA: structuredEdit(t, func(s string) string {
		return mustReplace(t, s, `"turvakielto":false`, `"turvakielto":"no"`)
	})})
	expectAck(t, submit(t, hs.URL, badRel.message), wire.AckRejected, wire.DetailStructuredContentInvalid)
	foreignRel := buildRelationship(t, relationshipSpec{entry: welfare("STR-3"), editCDA: structuredEdit(t, func(s string) string {
		return mustReplace(t, s, welfare("STR-3").Client.Hetu, otherHetu)
	})})
	expectAck(t, submit(t, hs.URL, foreignRel.message), wire.AckRejected, wire.DetailStructuredClientMismatch)
	// As built, it is archived.
	expectAck(t, submit(t, hs.URL, build(t, spec{entry: e, decision: decide(e, true)}).message), wire.AckAccepted, wire.DetailAccepted)
}

// The tester API shows each client relationship with its document's
// versions (a closed relationship's version 2 replaces version 1) and the
// client documents archived under it, in the order stored; MyKanta shows
// the client documents only.
func TestSHARKRelationshipsView(t *testing.T) {
	_, hs := newTestServer(t, trusted())
	e := welfare("VIEW-1")
	closed := documents.MustDate("2026-11-30")
	e.ClientRelationship.Closed = &closed
	v1 := archiveRelationship(t, hs.URL, e)
	d1 := build(t, spec{entry: e, decision: decide(e, true)})
	expectAck(t, submit(t, hs.URL, d1.message), wire.AckAccepted, wire.DetailAccepted)
	v2 := buildRelationship(t, relationshipSpec{entry: e, version: documents.RelationshipVersionClosed})
	expectAck(t, submit(t, hs.URL, v2.message), wire.AckAccepted, wire.DetailAccepted)

	var rs []RelationshipView
	if status := getJSON(t, hs.URL+"/api/v1/relationships?hetu="+e.Client.Hetu, &rs); status != 200 {
		t.Fatalf("status %d", status)
	}
	if len(rs) != 1 || rs[0].SetID != v1.setID || len(rs[0].Versions) != 2 || len(rs[0].Documents) != 1 {
		t.Fatalf("relationships = %+v", rs)
	}
	r := rs[0]
	if r.Versions[0].ID != v1.id || r.Versions[1].ID != v2.id || r.Versions[1].Replaces != v1.id || r.Versions[1].Version != 2 ||
		r.Documents[0].ID != d1.id || r.Custodian == "" {
		t.Fatalf("relationship = %+v", r)
	}
	if !(r.Versions[0].Sequence < r.Documents[0].Sequence && r.Documents[0].Sequence < r.Versions[1].Sequence) {
		t.Fatalf("stored order: v1 %d, entry %d, v2 %d", r.Versions[0].Sequence, r.Documents[0].Sequence, r.Versions[1].Sequence)
	}
	var seen []DocumentView
	getJSON(t, hs.URL+"/api/v1/mykanta/"+e.Client.Hetu+"?viewer=self&on=2026-12-01", &seen)
	if len(seen) != 1 || seen[0].ID != d1.id {
		t.Fatalf("MyKanta shows %+v, want the client document only", seen)
	}
	if got := getCDA(t, hs.URL, v2.id); !bytes.Equal(got, v2.cda) {
		t.Fatal("stored relationship document differs from the one sent")
	}
}
