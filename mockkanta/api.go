package mockkanta

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// DocumentView is a stored document version as the tester API shows it.
type DocumentView struct {
	ID                 string            `json:"id"`
	DocumentID         string            `json:"document_id"`
	SetID              string            `json:"set_id"`
	Version            int               `json:"version"`
	Archive            documents.Archive `json:"archive"`
	Interaction        string            `json:"interaction"`
	AuthorRole         documents.Role    `json:"author_role"`
	ReleaseDate        *documents.Date   `json:"release_date"`
	Concealed          bool              `json:"concealed"`
	GuardianDisclosure bool              `json:"guardian_disclosure"`
	Confidentiality    string            `json:"confidentiality"`
	SignatureType      string            `json:"signature_type"`
	ReceivedAt         time.Time         `json:"received_at"`
	Submissions        int               `json:"submissions"`
	EnteredInError     bool              `json:"entered_in_error"`
	Replaces           string            `json:"replaces,omitempty"`
	Format             Format            `json:"format"`
	ServiceRequest     string            `json:"service_request,omitempty"`
	DocumentGroup      string            `json:"document_group,omitempty"`
	Custodian          string            `json:"custodian,omitempty"`
	Sequence           int64             `json:"sequence"` // the order stored in
}

func viewOf(d *Document) DocumentView {
	v := DocumentView{
		ID: d.ID, DocumentID: d.DocumentID, SetID: d.SetID, Version: d.Version, Archive: d.Archive, Interaction: d.Interaction,
		AuthorRole: d.AuthorRole, Concealed: d.Concealed, GuardianDisclosure: d.GuardianDisclosure,
		Confidentiality: d.Confidentiality, SignatureType: d.SignatureType, ReceivedAt: d.ReceivedAt,
		Submissions: d.Submissions, EnteredInError: d.EnteredInError, Replaces: d.ReplacesID, Format: d.Format,
		ServiceRequest: d.ServiceRequest, DocumentGroup: d.DocumentGroup, Custodian: d.Custodian, Sequence: d.Sequence,
	}
	if !d.ReleaseDate.IsZero() {
		rd := d.ReleaseDate
		v.ReleaseDate = &rd
	}
	return v
}

func views(ds []*Document) []DocumentView {
	out := make([]DocumentView, 0, len(ds))
	for _, d := range ds {
		out = append(out, viewOf(d))
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the status is sent; a client gone by now is told nothing more
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func parseArchive(s string) (documents.Archive, bool) {
	switch a := documents.Archive(s); a {
	case "", documents.ArchivePatient, documents.ArchiveSocial:
		return a, true
	}
	return "", false
}

func (s *Server) handleListDocuments(w http.ResponseWriter, r *http.Request) {
	archive, ok := parseArchive(r.URL.Query().Get("archive"))
	if !ok {
		writeError(w, http.StatusBadRequest, "archive must be patient or social")
		return
	}
	ds, err := s.store.list(r.Context(), r.URL.Query().Get("hetu"), archive)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, views(ds))
}

func (s *Server) handleGetDocument(w http.ResponseWriter, r *http.Request) {
	d, err := s.store.get(r.Context(), r.PathValue("id"))
	if errors.Is(err, errNotFound) {
		writeError(w, http.StatusNotFound, err.Error())
		return
	} else if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, viewOf(d))
}

// contentTypes is the media type each format is served back in.
var contentTypes = map[Format]string{FormatCDA: "text/xml", FormatFHIR: "application/fhir+json"}

// handleGetCDA serves a stored CDA document (404 for a FHIR Bundle: use
// /content or the FHIR read).
func (s *Server) handleGetCDA(w http.ResponseWriter, r *http.Request) {
	s.serveContent(w, r, FormatCDA)
}

// handleGetContent serves the bytes received, whatever their format.
func (s *Server) handleGetContent(w http.ResponseWriter, r *http.Request) {
	s.serveContent(w, r, "")
}

func (s *Server) serveContent(w http.ResponseWriter, r *http.Request, only Format) {
	id := r.PathValue("id")
	d, err := s.store.get(r.Context(), id)
	if err == nil && only != "" && d.Format != only {
		err = errNotFound
	}
	var b []byte
	if err == nil {
		b, err = s.store.content(r.Context(), id)
	}
	if errors.Is(err, errNotFound) {
		writeError(w, http.StatusNotFound, err.Error())
		return
	} else if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", contentTypes[d.Format])
	w.Write(b)
}

// finland is the zone of Finland's civil dates, loaded once:
// time.LoadLocation reads and parses the zone file on every call, and the
// archive asks for it on every message.
var finland = sync.OnceValue(func() *time.Location {
	loc, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		return time.UTC
	}
	return loc
})

// today is the civil date in Finland, the day MyKanta lives in.
func (s *Server) today() documents.Date {
	return documents.DateOf(s.now().In(finland()))
}

func (s *Server) handleMyKanta(w http.ResponseWriter, r *http.Request) {
	hetu := r.PathValue("hetu")
	info, err := documents.ParseHetu(hetu)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	viewer := Viewer(q.Get("viewer"))
	if viewer == "" {
		viewer = ViewerSelf
	}
	if viewer != ViewerSelf && viewer != ViewerGuardian {
		writeError(w, http.StatusBadRequest, "viewer must be self or guardian")
		return
	}
	on := s.today()
	if v := q.Get("on"); v != "" {
		if on, err = documents.ParseDate(v); err != nil {
			writeError(w, http.StatusBadRequest, "on: "+err.Error())
			return
		}
	}
	ds, err := s.store.list(r.Context(), hetu, "")
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, views(MyKantaView(ds, viewer, info.BirthDate, on)))
}

func (s *Server) handleProfessional(w http.ResponseWriter, r *http.Request) {
	hetu := r.PathValue("hetu")
	if _, err := documents.ParseHetu(hetu); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	role := documents.Role(q.Get("role"))
	if role != documents.RolePsychologist && role != documents.RoleSchoolWelfareOfficer {
		writeError(w, http.StatusBadRequest, "role must be psychologist or school_welfare_officer")
		return
	}
	ds, err := s.store.list(r.Context(), hetu, "")
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, views(ProfessionalView(ds, role, q.Get("client_permission") == "true")))
}

// Stats is what GET /api/v1/stats answers. The totals cover both archive
// interfaces; Formats splits them by the format the request came in (faults
// answered before a request was read are counted under the interface too).
type Stats struct {
	Accepted   int                    `json:"accepted"`
	Duplicates int                    `json:"duplicates"`
	Rejected   map[string]int         `json:"rejected"` // AR (FHIR: 4xx), by detail code
	Errors     map[string]int         `json:"errors"`   // AE (FHIR: 5xx), by detail code (faults included)
	Faults     map[string]int         `json:"faults"`   // by kind
	Formats    map[Format]FormatStats `json:"formats"`
	// Queries counts stored-document queries by answer: stored,
	// not_stored, refused.
	Queries map[string]int `json:"queries"`
}

// FormatStats are the outcomes of one interface.
type FormatStats struct {
	Accepted   int            `json:"accepted"`
	Duplicates int            `json:"duplicates"`
	Rejected   map[string]int `json:"rejected"`
	Errors     map[string]int `json:"errors"`
}

// Stats returns the counters since start.
func (s *Server) Stats() Stats {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	out := Stats{Rejected: map[string]int{}, Errors: map[string]int{}, Faults: map[string]int{}, Formats: map[Format]FormatStats{}, Queries: map[string]int{}}
	for k, n := range s.stats.queries {
		out.Queries[k] = n
	}
	for format, details := range s.stats.details {
		fs := FormatStats{Rejected: map[string]int{}, Errors: map[string]int{}}
		for code, n := range details {
			d, _ := wire.LookupDetail(code)
			switch {
			case code == wire.DetailAccepted:
				out.Accepted += n
				fs.Accepted += n
			case code == wire.DetailDuplicate:
				out.Duplicates += n
				fs.Duplicates += n
			case d.Ack == wire.AckRejected:
				out.Rejected[code] += n
				fs.Rejected[code] += n
			default:
				out.Errors[code] += n
				fs.Errors[code] += n
			}
		}
		out.Formats[format] = fs
	}
	for k, n := range s.stats.faults {
		out.Faults[k] = n
	}
	return out
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Server) handleGetFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.faults.get())
}

// SetFaults replaces the active faults.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.faults.set(f)
	return nil
}

func (s *Server) handlePutFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.SetFaults(f); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, s.faults.get())
}

func (s *Server) handleReset(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Environment != EnvironmentTest {
		writeError(w, http.StatusForbidden, "reset is allowed in the test environment only")
		return
	}
	if err := s.store.reset(r.Context()); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.stats.mu.Lock()
	s.stats.details, s.stats.faults = map[Format]map[string]int{}, map[string]int{}
	s.stats.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// Viewer is who looks at MyKanta.
type Viewer string

const (
	ViewerSelf     Viewer = "self"
	ViewerGuardian Viewer = "guardian"
)

// GuardianAgeLimit: a guardian's access ends when the child turns 18.
const GuardianAgeLimit = 18

// latestValid returns the newest version of each set, leaving out sets
// invalidated by an entered-in-error version, ordered by set. A set may be
// stored twice, as CDA and as FHIR (the gateway's route "both"), each copy
// with its own version sequence: the entry is shown once, from the copy with
// the higher version, the CDA copy when both are as new. An invalidation in
// either copy hides the set (what a client must not see wins over a copy
// that is behind).
func latestValid(ds []*Document) []*Document {
	latest := map[string]*Document{}
	invalid := map[string]bool{}
	for _, d := range ds {
		// A client relationship document is the archive's record of the
		// relationship, not a document of the client's (only the CDA route
		// carries it, so the views of both routes stay equal); the tester
		// API shows it under /api/v1/relationships.
		if d.ServiceRequest == ServiceRequestRelationship {
			continue
		}
		if d.EnteredInError {
			invalid[d.SetID] = true
		}
		if cur, ok := latest[d.SetID]; !ok || d.Version > cur.Version ||
			(d.Version == cur.Version && d.Format == FormatCDA && cur.Format != FormatCDA) {
			latest[d.SetID] = d
		}
	}
	var out []*Document
	for set, d := range latest {
		if !invalid[set] {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SetID < out[j].SetID })
	return out
}

// MyKantaView is what a viewer sees in the client's MyKanta on a day: the
// latest version of each valid set, not concealed and not before its release
// date. A guardian sees, while the child is under 18, only documents marked
// for guardian disclosure (the document builder sets that from the child's
// age and consent and the professional's decision).
func MyKantaView(ds []*Document, viewer Viewer, birth, on documents.Date) []*Document {
	if viewer == ViewerGuardian && birth.AgeOn(on) >= GuardianAgeLimit {
		return nil
	}
	var out []*Document
	for _, d := range latestValid(ds) {
		if d.Concealed || (!d.ReleaseDate.IsZero() && on.Before(d.ReleaseDate)) {
			continue
		}
		if viewer == ViewerGuardian && !d.GuardianDisclosure {
			continue
		}
		out = append(out, d)
	}
	return out
}

// ProfessionalView is what a professional sees: a psychologist the patient
// archive (health care), a school welfare officer the social welfare
// archive; both with the client's permission.
func ProfessionalView(ds []*Document, role documents.Role, clientPermission bool) []*Document {
	own := documents.ArchivePatient
	if role == documents.RoleSchoolWelfareOfficer {
		own = documents.ArchiveSocial
	}
	var out []*Document
	for _, d := range latestValid(ds) {
		if clientPermission || d.Archive == own {
			out = append(out, d)
		}
	}
	return out
}
