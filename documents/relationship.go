package documents

import "strconv"

// Arcs of the client-relationship documents (asiakkuusasiakirja) under the
// organisation's tree: a relationship id is not an entry id, so its
// documents get arcs of their own and can never collide with an entry's.
const (
	arcRelationshipDocument = ".10.4."
	arcRelationshipMessage  = ".10.5."
	arcRelationship         = ".10.6."
	arcCase                 = ".10.7."
)

// RelationshipOID is the deterministic OID of a client relationship
// itself (asiakkuuden yksilöintitunnus, localSocialHeader/
// encompassingClientRelationship): the export's relationship id is not an
// OID, and the real documents name the relationship by one.
func RelationshipOID(root, relationshipID string) string {
	return root + arcRelationship + strconv.FormatUint(entryArc(relationshipID), 10)
}

// CaseOID is the OID of the social welfare case (asia) an entry belongs to,
// written in componentOf/encompassingEncounter/id: the export's case id
// when it is an OID (Apotti's are), else one derived from it.
func CaseOID(root, caseID string) string {
	if ValidOID(caseID) {
		return caseID
	}
	return root + arcCase + strconv.FormatUint(entryArc(caseID), 10)
}

// RelationshipDocumentID is the deterministic OID of version v of a client
// relationship's document (1 while open, 2 once it has closed).
func RelationshipDocumentID(root, relationshipID string, version int) string {
	return root + arcRelationshipDocument + strconv.FormatUint(entryArc(relationshipID), 10) + "." + strconv.Itoa(version)
}

// RelationshipSetID is the id shared by every version of a relationship's
// document: its first version's id.
func RelationshipSetID(root, relationshipID string) string {
	return RelationshipDocumentID(root, relationshipID, 1)
}

// RelationshipMessageID is the deterministic id of the archive message
// carrying version v of a relationship's document.
func RelationshipMessageID(root, relationshipID string, version int) string {
	return root + arcRelationshipMessage + strconv.FormatUint(entryArc(relationshipID), 10) + "." + strconv.Itoa(version)
}

// Relationship document versions: the first is archived before any entry of
// the relationship, the second when the relationship has closed.
const (
	RelationshipVersionOpen   = 1
	RelationshipVersionClosed = 2
)

// RelationshipDocument is one version of a social welfare client
// relationship's document, built from the data of an entry of that
// relationship (kanta-domain.md 8.2: SP1, document group 1, Sosmeta
// 1.2.246.537.6.1505.1.2023.6.1).
type RelationshipDocument struct {
	Relationship ClientRelationship
	Client       Client
	Service      Service // organiser and service unit
	Worker       Author  // the responsible worker: the entry's author
	Version      int     // RelationshipVersionOpen or RelationshipVersionClosed
}

// RelationshipDocuments returns the relationship document versions an entry
// of a social welfare client relationship calls for: the open version, and
// the closed one too when the relationship has closed. An entry without a
// relationship calls for none.
func RelationshipDocuments(e *Entry) []RelationshipDocument {
	if e == nil || e.ClientRelationship == nil {
		return nil
	}
	base := RelationshipDocument{
		Relationship: *e.ClientRelationship,
		Client:       e.Client,
		Service:      e.Service,
		Worker:       e.Author,
	}
	open := base
	open.Version = RelationshipVersionOpen
	open.Relationship.Closed = nil // the open version does not know the end
	out := []RelationshipDocument{open}
	if e.ClientRelationship.Closed != nil {
		closed := base
		closed.Version = RelationshipVersionClosed
		out = append(out, closed)
	}
	return out
}
