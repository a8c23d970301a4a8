package documents

import (
	"strings"
	"testing"
)

func TestRelationshipIDs(t *testing.T) {
	const root = "1.2.246.10.2012566"
	v1 := RelationshipDocumentID(root, "ASK-9", 1)
	if v1 != RelationshipSetID(root, "ASK-9") || !strings.HasPrefix(v1, root+".10.4.") || !ValidOID(v1) {
		t.Fatalf("relationship document id %q", v1)
	}
	if v2 := RelationshipDocumentID(root, "ASK-9", 2); v2 == v1 || !strings.HasSuffix(v2, ".2") {
		t.Fatalf("version 2 id %q", v2)
	}
	// Same arc as an entry of the same id, another class: never equal.
	if RelationshipDocumentID(root, "ASK-9", 1) == DocumentID(root, "ASK-9", 1) ||
		RelationshipMessageID(root, "ASK-9", 1) == MessageID(root, "ASK-9", 1) {
		t.Fatal("relationship ids collide with entry ids")
	}
}

func TestRelationshipDocuments(t *testing.T) {
	if RelationshipDocuments(&Entry{}) != nil {
		t.Fatal("an entry without a relationship calls for no relationship document")
	}
	closed := MustDate("2026-10-01")
	e := &Entry{
		Author:             Author{Role: RoleSchoolWelfareOfficer, RegistrationNumber: "200000002"},
		Client:             Client{Hetu: "150809A9558", SecurityProhibition: true},
		ClientRelationship: &ClientRelationship{ID: "ASK-9", Opened: MustDate("2025-01-07")},
	}
	got := RelationshipDocuments(e)
	if len(got) != 1 || got[0].Version != RelationshipVersionOpen || got[0].Relationship.Closed != nil || !got[0].Client.SecurityProhibition {
		t.Fatalf("open relationship: %+v", got)
	}
	e.ClientRelationship.Closed = &closed
	got = RelationshipDocuments(e)
	if len(got) != 2 || got[0].Relationship.Closed != nil || got[1].Version != RelationshipVersionClosed || got[1].Relationship.Closed == nil || *got[1].Relationship.Closed != closed {
		t.Fatalf("closed relationship: %+v", got)
	}
}

func TestRelationshipAndCaseOIDs(t *testing.T) {
	root := "1.2.246.10.2012566"
	rel := RelationshipOID(root, "ASK-W01")
	if rel != RelationshipOID(root, "ASK-W01") || !ValidOID(rel) || rel == RelationshipOID(root, "ASK-W02") {
		t.Errorf("relationship OID %q not deterministic, valid and distinct", rel)
	}
	if rel == RelationshipDocumentID(root, "ASK-W01", 1) || rel == CaseOID(root, "ASK-W01") {
		t.Error("relationship OID collides with its document id or a case OID")
	}
	// Apotti's case ids are OIDs: kept as they are; others get one.
	if got := CaseOID(root, "1.2.246.10.2012566.95.2026.1.2"); got != "1.2.246.10.2012566.95.2026.1.2" {
		t.Errorf("OID case id rewritten: %q", got)
	}
	if got := CaseOID(root, "ASIA-7"); !ValidOID(got) || got != CaseOID(root, "ASIA-7") || got[:len(root)] != root {
		t.Errorf("derived case OID %q", got)
	}
}
