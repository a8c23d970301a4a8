package documents

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
)

// Organisation is an organiser (register keeper) as the builders need it.
type Organisation struct {
	OID  string
	Name string
	// DocumentRoot is the OID tree document ids are minted under
	// (1.2.246.10.2012566 for Helsinki).
	DocumentRoot string
	// CustodianOID and CustodianName name the register keeper as the
	// documents and frames give it (custodian), when it is not the
	// organisation itself: Helsinki's social welfare frames name
	// 1.2.246.10.2012566.10.40 "Helsingin sosiaali- ja terveystoimi".
	// Empty: OID and Name.
	CustodianOID, CustodianName string
}

// Custodian returns the register keeper's OID and name.
func (o Organisation) Custodian() (oid, name string) {
	oid, name = o.CustodianOID, o.CustodianName
	if oid == "" {
		oid = o.OID
	}
	if name == "" {
		name = o.Name
	}
	return oid, name
}

// Document id arcs under the organisation's tree. The sample archive
// messages use class 10 for documents and messages alike; we keep them apart
// so that a message id can never equal a document id.
const (
	arcDocument = ".10.1."
	arcMessage  = ".10.2."
	arcFHIR     = ".10.3."
)

// DocumentID is the deterministic OID of an entry revision's CDA document:
// the same revision always gets the same id, so a retry or a rebuild can
// never mint a second document at Kanta.
func DocumentID(root, entryID string, revision int) string {
	return root + arcDocument + strconv.FormatUint(entryArc(entryID), 10) + "." + strconv.Itoa(revision)
}

// SetID is the id shared by every version of an entry: the id of its first
// version, as the CDA versioning rules require.
func SetID(root, entryID string) string { return DocumentID(root, entryID, 1) }

// MessageID is the deterministic id of the archive message carrying a
// document id; attempt-independent so a resend is byte-identical.
func MessageID(root, entryID string, revision int) string {
	return root + arcMessage + strconv.FormatUint(entryArc(entryID), 10) + "." + strconv.Itoa(revision)
}

// FHIRBundleID is the deterministic id of an entry revision's FHIR Bundle
// resource (its identifier is the CDA document id).
func FHIRBundleID(root, entryID string, revision int) string {
	return root + arcFHIR + strconv.FormatUint(entryArc(entryID), 10) + "." + strconv.Itoa(revision)
}

// entryArc maps an Apotti entry id to a numeric OID arc: 60 bits of its
// SHA-256, never zero-padded. Collisions need ~2^30 entries per organiser.
func entryArc(entryID string) uint64 {
	sum := sha256.Sum256([]byte(entryID))
	return binary.BigEndian.Uint64(sum[:8])>>4 | 1<<59
}
