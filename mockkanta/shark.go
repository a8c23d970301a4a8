package mockkanta

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/documents/cda"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/sosmeta"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7/hl7xml"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// The social welfare client data archive (SHARK) decides what to do with a
// document from its service request and document group (kanta-domain.md
// 8.2, from the real Apotti messages of Warc0ck/SH-Kanta-validator:
// "Testiasiakirjat/Asiakkuusasiakirja_K.xml" asks SP1 for a document of
// group 1, "asia ja rajoitukset testi K.xml" SP17 for one of group 5).

// Service requests of the social welfare archive: the frame's first
// controlActProcess/reasonCode, code system 1.2.246.537.6.1503.201601.
const (
	ServiceRequestRelationship   = cda.ServiceRequestRelationship   // SP1 Asiakkuusasiakirjan arkistointi
	ServiceRequestClientDocument = cda.ServiceRequestClientDocument // SP17 Asiakasasiakirjan arkistointi
)

// groupOfRequest is the document group (1.2.246.537.6.1505.201601) each
// service request archives.
var groupOfRequest = map[string]string{
	ServiceRequestRelationship:   "1", // Asiakkuusasiakirja
	ServiceRequestClientDocument: "5", // Toisen tai myöhemmän vaiheen asiakasasiakirja
}

// serviceRequestOf is the social welfare service request a frame asks for
// ("" when it names none).
func serviceRequestOf(msg *wire.Message) string {
	for _, rc := range msg.ReasonCodes {
		if rc.CodeSystem == hl7.SystemSocialRequest {
			return rc.Code
		}
	}
	return ""
}

// checkSocial applies the archive's checks of a social welfare document:
// the document group fits the service request, and a document type with a
// Sosmeta structure carries structured content that decodes, validates
// against that structure and agrees with the header (client, service task,
// contentSpecificationId). It returns the service request and the detail
// code of a refusal ("" when the document passes).
func checkSocial(msg *wire.Message, h *cda.Header) (string, string) {
	request := serviceRequestOf(msg)
	if group, ok := groupOfRequest[request]; !ok || h.DocumentGroup != group {
		return request, wire.DetailServiceRequestGroup
	}
	spec := ""
	switch request {
	case ServiceRequestRelationship:
		spec = sosmeta.ClientRelationship
	case ServiceRequestClientDocument:
		if t, ok := sosmeta.EntryTypeOf(h.SpecificDocumentType); ok {
			spec = t.ContentSpecificationID
		}
	}
	if spec == "" {
		// A type whose structure the mock does not hold: nothing to check
		// the content against (the real archive would).
		return request, ""
	}
	if h.ContentSpecificationID != spec {
		return request, wire.DetailContentSpecificationMismatch
	}
	if len(h.Structured) == 0 {
		return request, wire.DetailStructuredContentMissing
	}
	if err := sosmeta.Validate(spec, h.Structured); err != nil {
		return request, wire.DetailStructuredContentInvalid
	}
	facts, err := structuredFactsOf(h.Structured)
	if err != nil {
		return request, wire.DetailStructuredContentInvalid
	}
	if !facts.clients[h.Hetu] {
		return request, wire.DetailStructuredClientMismatch
	}
	// A client relationship document names no service task in its header
	// (the real Vantaa-Kerava one has no functionCode), only in its content.
	if (h.ServiceTask != "" || request == ServiceRequestClientDocument) && !facts.serviceTasks[h.ServiceTask] {
		return request, wire.DetailStructuredServiceTask
	}
	return request, ""
}

// structuredFacts are what the header must agree with: the identity codes
// of the content's clients and the service tasks it names.
type structuredFacts struct {
	clients      map[string]bool
	serviceTasks map[string]bool
}

// structuredFactsOf reads the facts from a validated Sosmeta content: one
// top-level key (the structure's root), under it "asiakas" (an object in
// the client relationship, a list in a client record entry) with
// henkilotunnus.value, and the service task: palvelutehtava.code under
// asiakaskertomusmerkinta (entries) or under each sosiaalihuollon_
// palvelutehtava (the relationship).
func structuredFactsOf(raw []byte) (structuredFacts, error) {
	f := structuredFacts{clients: map[string]bool{}, serviceTasks: map[string]bool{}}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || len(top) != 1 {
		return f, errors.New("structured content is not one object under its root")
	}
	type coding struct {
		Code string `json:"code"`
	}
	type person struct {
		Hetu *struct {
			Value string `json:"value"`
		} `json:"henkilotunnus"`
	}
	var body struct {
		Client json.RawMessage `json:"asiakas"`
		Entry  *struct {
			ServiceTask coding `json:"palvelutehtava"`
		} `json:"asiakaskertomusmerkinta"`
		ServiceTasks []struct {
			ServiceTask coding `json:"palvelutehtava"`
		} `json:"sosiaalihuollon_palvelutehtava"`
	}
	for _, v := range top {
		if err := json.Unmarshal(v, &body); err != nil {
			return f, err
		}
	}
	var people []person
	if len(body.Client) > 0 && body.Client[0] == '[' {
		if err := json.Unmarshal(body.Client, &people); err != nil {
			return f, err
		}
	} else if len(body.Client) > 0 {
		var p person
		if err := json.Unmarshal(body.Client, &p); err != nil {
			return f, err
		}
		people = append(people, p)
	}
	for _, p := range people {
		if p.Hetu != nil {
			f.clients[p.Hetu.Value] = true
		}
	}
	if body.Entry != nil {
		f.serviceTasks[body.Entry.ServiceTask.Code] = true
	}
	for _, t := range body.ServiceTasks {
		f.serviceTasks[t.ServiceTask.Code] = true
	}
	return f, nil
}

// custodianOf is the document's register keeper
// (custodian/assignedCustodian/representedCustodianOrganization/id@root).
func custodianOf(root *etree.Element) string {
	for _, id := range hl7xml.ByLocalName(root, "custodian", "assignedCustodian", "representedCustodianOrganization", "id") {
		if r := id.SelectAttrValue("root", ""); r != "" {
			return r
		}
	}
	return ""
}

// relationshipStored: a client document (SP17) is archived only once its
// client's client relationship document (SP1) is. Neither real Apotti
// document names the other (the SP17 document of Warc0ck/SH-Kanta-validator
// "asia ja rajoitukset testi S.xml" carries no relationship reference in
// its header or structure), so the rule is the one the facts allow: a
// stored SP1 document of the same client identity code and the same
// custodian. Missing is AE: the relationship document may still be on its
// way, and the same message succeeds once it is stored.
func relationshipStored(ctx context.Context, tx *sql.Tx, d *Document) (string, error) {
	if d.Format != FormatCDA || d.ServiceRequest != ServiceRequestClientDocument {
		return "", nil
	}
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM documents WHERE hetu = ? AND custodian = ? AND service_request = ? AND format = ?`,
		d.Hetu, d.Custodian, ServiceRequestRelationship, string(FormatCDA)).Scan(&n)
	if err != nil {
		return "", err
	}
	if n == 0 {
		return wire.DetailClientRelationshipMissing, nil
	}
	return "", nil
}

// addSocialColumns brings an archive written before the SHARK checks to the
// current schema (the columns default to ”: such documents are no SP1
// documents and need none).
func addSocialColumns(db *sql.DB) error {
	for _, col := range []string{"service_request", "document_group", "custodian"} {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM pragma_table_info('documents') WHERE name = ?`, col).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			if _, err := db.Exec(fmt.Sprintf(`ALTER TABLE documents ADD COLUMN %s TEXT NOT NULL DEFAULT ''`, col)); err != nil {
				return err
			}
		}
	}
	return nil
}

// RelationshipView is a client relationship as the tester API shows it:
// its document's versions (SP1) and the client documents (SP17) archived
// under it (same client and custodian), each in the order received.
type RelationshipView struct {
	SetID     string         `json:"set_id"`
	Custodian string         `json:"custodian"`
	Versions  []DocumentView `json:"versions"`
	Documents []DocumentView `json:"documents"`
}

// Relationships groups the stored social welfare documents of a client (all
// clients when hetu is empty) by client relationship.
func (s *Server) Relationships(ctx context.Context, hetu string) ([]RelationshipView, error) {
	ds, err := s.store.list(ctx, hetu, "")
	if err != nil {
		return nil, err
	}
	type owner struct{ hetu, custodian string }
	byOwner := map[owner][]int{}
	var out []RelationshipView
	index := map[string]int{}
	for _, d := range ds {
		if d.ServiceRequest != ServiceRequestRelationship {
			continue
		}
		i, ok := index[d.SetID]
		if !ok {
			i = len(out)
			index[d.SetID] = i
			out = append(out, RelationshipView{SetID: d.SetID, Custodian: d.Custodian, Versions: []DocumentView{}, Documents: []DocumentView{}})
			o := owner{d.Hetu, d.Custodian}
			byOwner[o] = append(byOwner[o], i)
		}
		out[i].Versions = append(out[i].Versions, viewOf(d))
	}
	for _, d := range ds {
		if d.ServiceRequest != ServiceRequestClientDocument {
			continue
		}
		for _, i := range byOwner[owner{d.Hetu, d.Custodian}] {
			out[i].Documents = append(out[i].Documents, viewOf(d))
		}
	}
	bySequence := func(vs []DocumentView) {
		sort.Slice(vs, func(i, j int) bool { return vs[i].Sequence < vs[j].Sequence })
	}
	for i := range out {
		bySequence(out[i].Versions)
		bySequence(out[i].Documents)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].SetID < out[j].SetID })
	return out, nil
}

func (s *Server) handleRelationships(w http.ResponseWriter, r *http.Request) {
	rs, err := s.Relationships(r.Context(), r.URL.Query().Get("hetu"))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, rs)
}
