package cda

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7/hl7xml"
	"github.com/helsinki-student-welfare/kanta-gateway/xmlcheck"
)

// parse reads a CDA document and returns its ClinicalDocument root.
func parse(cdaXML []byte) (*etree.Element, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(cdaXML); err != nil {
		return nil, fmt.Errorf("cda: not well-formed XML: %w", err)
	}
	if err := xmlcheck.WellFormed(doc); err != nil {
		return nil, fmt.Errorf("cda: %w", err)
	}
	return rootOf(doc)
}

// rootOf returns the ClinicalDocument root of a parsed document.
func rootOf(doc *etree.Document) (*etree.Element, error) {
	root := doc.Root()
	if !hl7xml.Is(root, hl7.NamespaceV3, "ClinicalDocument") {
		return nil, errors.New("cda: root element is not ClinicalDocument in urn:hl7-org:v3")
	}
	return root, nil
}

// profileChild returns the first child element with the local name, in
// the HL7 V3 namespace or, for "hl7fi:" names, in urn:hl7finland; nil when
// absent. The profile's tables of required elements are written in this
// form (requiredCommon and the others), hence a name syntax of its own
// over hl7xml.Child.
func profileChild(el *etree.Element, name string) *etree.Element {
	if local, ok := strings.CutPrefix(name, "hl7fi:"); ok {
		return hl7xml.Child(el, hl7.NamespaceFI, local)
	}
	return hl7xml.Child(el, hl7.NamespaceV3, name)
}

// profilePath follows profileChild names separated by '/'.
func profilePath(el *etree.Element, p string) *etree.Element {
	for _, seg := range strings.Split(p, "/") {
		if el = profileChild(el, seg); el == nil {
			return nil
		}
	}
	return el
}

// localHeaderOf returns the profile's local header and the archive it implies.
func localHeaderOf(root *etree.Element) (*etree.Element, documents.Archive, error) {
	h, s := profileChild(root, "hl7fi:localHeader"), profileChild(root, "hl7fi:localSocialHeader")
	switch {
	case h != nil && s != nil:
		return nil, "", errors.New("cda: document has both hl7fi:localHeader and hl7fi:localSocialHeader")
	case h != nil:
		return h, documents.ArchivePatient, nil
	case s != nil:
		return s, documents.ArchiveSocial, nil
	}
	return nil, "", errors.New("cda: missing hl7fi:localHeader (health care) or hl7fi:localSocialHeader (social welfare)")
}

// Inspect reads the header of a CDA document, signed or not. It needs id,
// a local header and a valid version; everything else is reported as found.
func Inspect(cdaXML []byte) (*Header, error) {
	root, err := parse(cdaXML)
	if err != nil {
		return nil, err
	}
	return inspect(root)
}

// InspectTree is Inspect over a document already parsed; it does not modify doc.
func InspectTree(doc *etree.Document) (*Header, error) {
	root, err := rootOf(doc)
	if err != nil {
		return nil, err
	}
	return inspect(root)
}

func inspect(root *etree.Element) (*Header, error) {
	var err error
	h := &Header{}
	if h.DocumentID = hl7xml.Attr(profileChild(root, "id"), "root"); h.DocumentID == "" {
		return nil, errors.New("cda: missing ClinicalDocument/id")
	}
	h.SetID = hl7xml.Attr(profileChild(root, "setId"), "root")
	if v := hl7xml.Attr(profileChild(root, "versionNumber"), "value"); v != "" {
		if h.Version, err = strconv.Atoi(v); err != nil || h.Version < 1 {
			return nil, errors.New("cda: versionNumber is not a positive integer")
		}
	}
	header, archive, err := localHeaderOf(root)
	if err != nil {
		return nil, err
	}
	h.Archive = archive
	h.AuthorRole = documents.RolePsychologist
	if archive == documents.ArchiveSocial {
		h.AuthorRole = documents.RoleSchoolWelfareOfficer
	}

	if role := profilePath(root, "recordTarget/patientRole"); role != nil {
		ids := hl7xml.Children(role, hl7.NamespaceV3, "id")
		for _, id := range ids {
			if hl7xml.Attr(id, "root") == hl7.OIDHetu {
				h.Hetu = hl7xml.Attr(id, "extension")
			}
		}
		if h.Hetu == "" && len(ids) > 0 {
			h.Hetu = hl7xml.Attr(ids[0], "extension")
		}
		if bt := hl7xml.Attr(profilePath(role, "patient/birthTime"), "value"); len(bt) >= 8 {
			if d, err := documents.ParseDate(bt[0:4] + "-" + bt[4:6] + "-" + bt[6:8]); err == nil {
				h.BirthDate = d
			}
		}
	}
	if aa := profilePath(root, "author/assignedAuthor"); aa != nil {
		for _, id := range hl7xml.Children(aa, hl7.NamespaceV3, "id") {
			if hl7xml.Attr(id, "root") == hl7.OIDRegistration {
				h.AuthorRegistration = hl7xml.Attr(id, "extension")
			}
		}
	}
	h.Confidentiality = hl7xml.Attr(profileChild(root, "confidentialityCode"), "code")
	if v := hl7xml.Attr(profileChild(root, "effectiveTime"), "value"); v != "" {
		if h.EffectiveTime, err = parseTS(v); err != nil {
			return nil, fmt.Errorf("cda: effectiveTime: %w", err)
		}
	}
	for _, rel := range hl7xml.Children(root, hl7.NamespaceV3, "relatedDocument") {
		if hl7xml.Attr(rel, "typeCode") != "RPLC" {
			continue
		}
		p := profileChild(rel, "parentDocument")
		r := &Related{ID: hl7xml.Attr(profileChild(p, "id"), "root"), SetID: hl7xml.Attr(profileChild(p, "setId"), "root")}
		r.Version, _ = strconv.Atoi(hl7xml.Attr(profileChild(p, "versionNumber"), "value"))
		h.Replaces = r
	}

	if v := hl7xml.Attr(profileChild(header, "hl7fi:releaseDateForPatientViewing"), "value"); v != "" {
		if len(v) < 8 {
			return nil, errors.New("cda: releaseDateForPatientViewing is not a date")
		}
		if h.ReleaseDate, err = documents.ParseDate(v[0:4] + "-" + v[4:6] + "-" + v[6:8]); err != nil {
			return nil, fmt.Errorf("cda: releaseDateForPatientViewing: %w", err)
		}
	}
	if d := profileChild(header, "hl7fi:description"); d != nil {
		h.EnteredInError = strings.TrimSpace(d.Text()) == enteredInErrorMarker
	}
	// Kela's form of an invalidation: recordStatus 7 "Poistettu" (both
	// archives' code rows name the same code).
	deleted := defaultCodes[CodeHealthInvalidatedStatus]
	if archive == documents.ArchiveSocial {
		deleted = defaultCodes[CodeSocialRecordStatusRemoved]
	}
	if rs := profileChild(header, "hl7fi:recordStatus"); hl7xml.Attr(rs, "codeSystem") == deleted.System && hl7xml.Attr(rs, "code") == deleted.Code {
		h.EnteredInError = true
	}

	switch archive {
	case documents.ArchivePatient:
		h.Concealed = profileChild(header, "hl7fi:sensitiveDocument") != nil && h.ReleaseDate.IsZero()
		// Disclosed unless the guardian code says otherwise: 1 and 2 of
		// 1.2.246.537.5.40202.201901 disclose, every other code does not.
		h.GuardianDisclosure = true
		for _, a := range hl7xml.Children(root, hl7.NamespaceV3, "authorization") {
			if code := profilePath(a, "consent/code"); hl7xml.Attr(code, "codeSystem") == hl7.SystemHealthGuardian {
				c := hl7xml.Attr(code, "code")
				h.GuardianDisclosure = c == defaultCodes[CodeHealthGuardianNotCapable].Code || c == defaultCodes[CodeHealthGuardianGranted].Code
			}
		}
	case documents.ArchiveSocial:
		h.Concealed = profileChild(header, "hl7fi:inaccessibleArgument") != nil && h.ReleaseDate.IsZero()
		h.DocumentGroup = hl7xml.Attr(profileChild(header, "hl7fi:documentGroup"), "code")
		h.SpecificDocumentType = hl7xml.Attr(profileChild(header, "hl7fi:specificDocumentType"), "code")
		h.ServiceTask = hl7xml.Attr(profileChild(header, "hl7fi:functionCode"), "code")
		h.RelationshipID = hl7xml.Attr(profileChild(header, "hl7fi:encompassingClientRelationship"), "root")
		if cs := profileChild(header, "hl7fi:contentSpecificationId"); cs != nil {
			h.ContentSpecificationID = strings.TrimSpace(cs.Text())
		}
		if j := profileChild(bodyOf(root), "hl7fi:json"); j != nil {
			raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(j.Text()), ""))
			if err != nil {
				return nil, errors.New("cda: nonXMLBody/hl7fi:json is not base64")
			}
			h.Structured = raw
		}
		allowed := defaultCodes[CodeSocialGuardianAllowed]
		for _, a := range hl7xml.Children(root, hl7.NamespaceV3, "authorization") {
			code := profilePath(a, "consent/code")
			if hl7xml.Attr(code, "codeSystem") == allowed.System {
				h.GuardianDisclosure = hl7xml.Attr(code, "code") == allowed.Code
			}
		}
	}
	if body := bodyOf(root); body != nil {
		h.BodyID = hl7xml.Attr(body, "ID")
	}
	return h, nil
}

// bodyOf returns the structuredBody or nonXMLBody under ClinicalDocument/component.
func bodyOf(root *etree.Element) *etree.Element {
	comp := profileChild(root, "component")
	if b := profileChild(comp, "structuredBody"); b != nil {
		return b
	}
	return profileChild(comp, "nonXMLBody")
}

// parseTS parses an HL7 TS: YYYYMMDD[HHMM[SS[.S+]]][+/-ZZZZ]; no offset means UTC.
func parseTS(v string) (time.Time, error) {
	zone := ""
	if i := strings.IndexAny(v, "+-"); i >= 0 {
		v, zone = v[:i], v[i:]
	}
	if i := strings.IndexByte(v, '.'); i >= 0 {
		v = v[:i]
	}
	layouts := map[int]string{8: "20060102", 12: "200601021504", 14: "20060102150405"}
	layout, ok := layouts[len(v)]
	if !ok {
		return time.Time{}, errors.New("not an HL7 timestamp")
	}
	if zone != "" {
		t, err := time.Parse(layout+"-0700", v+zone)
		if err != nil {
			return time.Time{}, errors.New("not an HL7 timestamp")
		}
		return t, nil
	}
	t, err := time.ParseInLocation(layout, v, time.UTC)
	if err != nil {
		return time.Time{}, errors.New("not an HL7 timestamp")
	}
	return t, nil
}

// ProfileError names the first required element (or attribute) a document
// lacks, or an element out of the profile's order.
type ProfileError struct {
	Archive documents.Archive
	Missing string // path relative to ClinicalDocument, e.g. "hl7fi:localHeader/hl7fi:recordStatus@code"
	Reason  string // set instead of Missing for other violations
}

func (e *ProfileError) Error() string {
	if e.Missing != "" {
		return fmt.Sprintf("cda: %s profile: missing %s", e.Archive, e.Missing)
	}
	return fmt.Sprintf("cda: %s profile: %s", e.Archive, e.Reason)
}

// Required elements of the two profiles, as paths under ClinicalDocument;
// "@attr" requires a non-empty attribute. Shared ones first.
var (
	requiredCommon = []string{
		"realmCode@code",
		"typeId@extension",
		"id@root",
		"code@code",
		"effectiveTime@value",
		"confidentialityCode@code",
		"languageCode@code",
		"setId@root",
		"versionNumber@value",
		"recordTarget/patientRole/id@extension",
		"recordTarget/patientRole/patient/name",
		"recordTarget/patientRole/patient/birthTime@value",
		"author/time", // may carry a nullFlavor, as in real documents
		"author/assignedAuthor/id@extension",
		"author/assignedAuthor/assignedPerson/name",
		"custodian/assignedCustodian/representedCustodianOrganization/id@root",
		"componentOf/encompassingEncounter/id@root",
		"componentOf/encompassingEncounter/effectiveTime",
	}
	// relaxedForRelationship: what the real client-relationship document
	// carries as a nullFlavor instead (no general type, author or case).
	relaxedForRelationship = map[string]string{
		"code@code":                                 "code",
		"author/assignedAuthor/id@extension":        "author/assignedAuthor/id",
		"author/assignedAuthor/assignedPerson/name": "",
		"componentOf/encompassingEncounter/id@root": "componentOf/encompassingEncounter/id",
	}
	requiredHealth = []string{
		"hl7fi:localHeader/hl7fi:tableOfContents/hl7fi:contentsCode@code",
		"hl7fi:localHeader/hl7fi:fileFormat@code",
		"hl7fi:localHeader/hl7fi:softwareSupport",
		"hl7fi:localHeader/hl7fi:documentType@code",
		"hl7fi:localHeader/hl7fi:functionCode@code",
		"hl7fi:localHeader/hl7fi:recordStatus@code",
		"hl7fi:localHeader/hl7fi:signatureCollection",
		"hl7fi:localHeader/hl7fi:custodianTypeCode@code",
		"hl7fi:localHeader/hl7fi:retentionPeriodClass@code",
		"component/structuredBody@ID",
		"component/structuredBody/component/section/code@code",
	}
	// requiredSocial holds for every social welfare document; the real
	// client-relationship document (document group 1) has no general type,
	// author, case, service task or specific type, so those are required of
	// client documents only (requiredSocialClient).
	requiredSocial = []string{
		"authorization/consent/code@code",
		"componentOf/encompassingEncounter/encounterParticipant/assignedEntity/representedOrganization/id@root",
		"hl7fi:localSocialHeader/hl7fi:creationTime@value",
		"hl7fi:localSocialHeader/hl7fi:documentGroup@code",
		"hl7fi:localSocialHeader/hl7fi:fileFormat@code",
		"hl7fi:localSocialHeader/hl7fi:structuredFileFormat@code",
		"hl7fi:localSocialHeader/hl7fi:softwareSupport",
		"hl7fi:localSocialHeader/hl7fi:recordStatus@code",
		"hl7fi:localSocialHeader/hl7fi:registryType@code",
		"hl7fi:localSocialHeader/hl7fi:outsourcingServiceCustomer@root",
		"hl7fi:localSocialHeader/hl7fi:outsourcingServiceCustomerName",
		"hl7fi:localSocialHeader/hl7fi:totalRetentionPeriodClass@code",
		"hl7fi:localSocialHeader/hl7fi:contentSpecificationId",
		"hl7fi:localSocialHeader/hl7fi:signatureCollection",
		"component/nonXMLBody@ID",
		"component/nonXMLBody/text@mediaType",
		"component/nonXMLBody/hl7fi:json",
	}
	requiredSocialClient = []string{
		"componentOf/encompassingEncounter/responsibleParty/assignedEntity/representedOrganization/id@root",
		"hl7fi:localSocialHeader/hl7fi:specificDocumentType@code",
		"hl7fi:localSocialHeader/hl7fi:functionCode@code",
	}
	requiredSocialRelationship = []string{
		"hl7fi:localSocialHeader/hl7fi:encompassingClientRelationship@root",
	}
	// socialHeaderOrder is the observed element order of localSocialHeader
	// (plus description and the release date, our additions).
	socialHeaderOrder = []string{
		"description", "specificDocumentType", "creationTime", "documentGroup", "fileFormat",
		"structuredFileFormat", "softwareSupport", "functionCode", "recordStatus", "registryType",
		"outsourcingServiceCustomer", "outsourcingServiceCustomerName", "totalRetentionPeriodClass",
		"specialContent", "contentSpecificationId", "encompassingClientRelationship", "serviceProcess", "authorizationRestrictionArgument",
		"inaccessibleArgument", "releaseDateForPatientViewing", "signature", "signatureCollection",
	}
)

// CheckProfile checks that a CDA document carries what its profile
// requires; the error names the first missing element.
func CheckProfile(cdaXML []byte) error {
	root, err := parse(cdaXML)
	if err != nil {
		return err
	}
	return checkProfile(root)
}

// CheckProfileTree is CheckProfile over a document already parsed; it does
// not modify doc.
func CheckProfileTree(doc *etree.Document) error {
	root, err := rootOf(doc)
	if err != nil {
		return err
	}
	return checkProfile(root)
}

func checkProfile(root *etree.Element) error {
	header, archive, err := localHeaderOf(root)
	if err != nil {
		return err
	}
	relationship := archive == documents.ArchiveSocial &&
		hl7xml.Attr(profileChild(header, "hl7fi:documentGroup"), "code") == defaultCodes[CodeSocialRelationshipGroup].Code
	req := make([]string, 0, len(requiredCommon)+len(requiredHealth))
	for _, r := range requiredCommon {
		if relaxed, ok := relaxedForRelationship[r]; ok && relationship {
			if relaxed == "" {
				continue
			}
			r = relaxed
		}
		req = append(req, r)
	}
	switch {
	case archive == documents.ArchivePatient:
		req = append(req, requiredHealth...)
	case relationship:
		req = append(req, requiredSocial...)
		req = append(req, requiredSocialRelationship...)
	default:
		req = append(req, requiredSocial...)
		req = append(req, requiredSocialClient...)
	}
	for _, r := range req {
		p, a, _ := strings.Cut(r, "@")
		el := profilePath(root, p)
		if el == nil || (a != "" && hl7xml.Attr(el, a) == "") {
			return &ProfileError{Archive: archive, Missing: r}
		}
	}
	id := hl7xml.Attr(profileChild(root, "id"), "root")
	version, err := strconv.Atoi(hl7xml.Attr(profileChild(root, "versionNumber"), "value"))
	if err != nil || version < 1 {
		return &ProfileError{Archive: archive, Reason: "versionNumber is not a positive integer"}
	}
	if version > 1 {
		var rplc *etree.Element
		for _, rel := range hl7xml.Children(root, hl7.NamespaceV3, "relatedDocument") {
			if hl7xml.Attr(rel, "typeCode") == "RPLC" {
				rplc = rel
			}
		}
		if rplc == nil {
			return &ProfileError{Archive: archive, Missing: `relatedDocument[@typeCode="RPLC"]`}
		}
		for _, r := range []string{"parentDocument/id@root", "parentDocument/setId@root", "parentDocument/versionNumber@value"} {
			p, a, _ := strings.Cut(r, "@")
			if hl7xml.Attr(profilePath(rplc, p), a) == "" {
				return &ProfileError{Archive: archive, Missing: "relatedDocument/" + r}
			}
		}
	}
	wantBody := "OID" + id
	if archive == documents.ArchivePatient {
		wantBody += ".0"
	}
	if got := hl7xml.Attr(bodyOf(root), "ID"); got != wantBody {
		return &ProfileError{Archive: archive, Reason: fmt.Sprintf("body ID is %q, want %q", got, wantBody)}
	}
	if archive == documents.ArchivePatient && !sectionHasText(profilePath(root, "component/structuredBody/component/section")) {
		// The text is in the section itself, or (Kela's invalidation body)
		// in a section nested in it.
		return &ProfileError{Archive: archive, Missing: "component/structuredBody/component/section/text"}
	}
	if archive == documents.ArchiveSocial {
		last := -1
		for c := range header.ChildElementsSeq() {
			i := indexOf(socialHeaderOrder, c.Tag)
			if i < 0 || c.NamespaceURI() != hl7.NamespaceFI {
				return &ProfileError{Archive: archive, Reason: "unknown element hl7fi:localSocialHeader/" + c.Tag}
			}
			if i < last {
				return &ProfileError{Archive: archive, Reason: "hl7fi:localSocialHeader/" + c.Tag + " is out of order"}
			}
			last = i
		}
	}
	return nil
}

// sectionHasText reports whether a section or one nested in it has a text.
func sectionHasText(section *etree.Element) bool {
	if section == nil {
		return false
	}
	if profileChild(section, "text") != nil {
		return true
	}
	for _, comp := range hl7xml.Children(section, hl7.NamespaceV3, "component") {
		if sectionHasText(profileChild(comp, "section")) {
			return true
		}
	}
	return false
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
