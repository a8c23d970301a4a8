package cda

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/sosmeta"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7/hl7xml"
)

// BuildRelationship builds one version of a client relationship's document
// (asiakkuusasiakirja): service request SP1, document group 1, structured
// content per Sosmeta 1.2.246.537.6.1505.1.2023.6.1. Version 1 is the open
// relationship; version 2, once it has closed, replaces version 1 (RPLC).
//
// Structure and element order follow the real Apotti client-relationship
// document (Warc0ck/SH-Kanta-validator "Testiasiakirjat/
// Asiakkuusasiakirja_S.xml"): no general document type (code nullFlavor NA),
// no author (nullFlavor NA), an encounter without case or dates, and the
// relationship's id in localSocialHeader/encompassingClientRelationship.
// The build is deterministic: its instant is the day the relationship
// opened (version 1) or closed (version 2), at midnight Finnish time.
func BuildRelationship(r documents.RelationshipDocument, org documents.Organisation, o Options) (*Document, error) {
	codes, err := o.table()
	if err != nil {
		return nil, err
	}
	if err := checkRelationship(r, org); err != nil {
		return nil, fmt.Errorf("cda: client relationship document: %w", err)
	}
	rel := r.Relationship
	b := &builder{
		e: &documents.Entry{
			Revision: r.Version,
			Client:   r.Client,
			Service:  r.Service,
			Author:   r.Worker,
			Text:     documents.Text{Language: "fi"},
		},
		d:          documents.Decision{Archive: documents.ArchiveSocial, GuardianVisible: true},
		org:        org,
		codes:      codes,
		socialOpts: o.Social,
		id:         documents.RelationshipDocumentID(org.DocumentRoot, rel.ID, r.Version),
		setID:      documents.RelationshipSetID(org.DocumentRoot, rel.ID),
	}
	b.effective = rel.Opened.Start(helsinki)
	if r.Version == documents.RelationshipVersionClosed {
		b.effective = rel.Closed.Start(helsinki)
		b.replaces = &Related{ID: documents.RelationshipDocumentID(org.DocumentRoot, rel.ID, documents.RelationshipVersionOpen),
			SetID: b.setID, Version: documents.RelationshipVersionOpen}
	}
	relOID := documents.RelationshipOID(org.DocumentRoot, rel.ID)
	structured, err := relationshipContent(r, org, relOID, codes)
	if err != nil {
		return nil, fmt.Errorf("cda: client relationship document: %w", err)
	}

	c := codes
	root := etree.NewElement("ClinicalDocument")
	root.CreateAttr("xmlns", hl7.NamespaceV3)
	root.CreateAttr("xmlns:hl7fi", hl7.NamespaceFI)
	root.CreateElement("realmCode").CreateAttr("code", "FI")
	typeID := root.CreateElement("typeId")
	typeID.CreateAttr("root", hl7.OIDCDATypeID)
	typeID.CreateAttr("extension", hl7.CDATypeIDExtension)
	hl7xml.II(root, "id", b.id, "")
	root.CreateElement("code").CreateAttr("nullFlavor", "NA")
	root.CreateElement("effectiveTime").CreateAttr("value", ts(b.effective))
	cv(root, "confidentialityCode", c[CodeSocialConfidentiality])
	root.CreateElement("languageCode").CreateAttr("code", "fi")
	hl7xml.II(root, "setId", b.setID, "")
	root.CreateElement("versionNumber").CreateAttr("value", strconv.Itoa(r.Version))
	b.recordTarget(root)
	author := root.CreateElement("author")
	author.CreateElement("time").CreateAttr("nullFlavor", "NA")
	author.CreateElement("assignedAuthor").CreateElement("id").CreateAttr("nullFlavor", "NA")
	b.custodian(root)
	b.relatedDocument(root)
	consent(root, c[CodeSocialGuardianAllowed])
	enc := root.CreateElement("componentOf").CreateElement("encompassingEncounter")
	enc.CreateElement("id").CreateAttr("nullFlavor", "NA")
	enc.CreateElement("effectiveTime").CreateAttr("nullFlavor", "NA")
	serviceUnitParticipant(enc, r.Service)

	h := root.CreateElement("hl7fi:localSocialHeader")
	h.CreateElement("hl7fi:creationTime").CreateAttr("value", ts(b.effective))
	cv(h, "hl7fi:documentGroup", c[CodeSocialRelationshipGroup])
	cv(h, "hl7fi:fileFormat", c[CodeSocialFileFormat])
	cv(h, "hl7fi:structuredFileFormat", c[CodeSocialStructuredFileFormat])
	softwareSupport(h)
	cv(h, "hl7fi:recordStatus", c[CodeRecordStatusReady])
	cv(h, "hl7fi:registryType", c[CodeSocialRegister])
	b.organiserAsCustomer(h)
	cv(h, "hl7fi:totalRetentionPeriodClass", c[CodeSocialRetentionClass])
	cv(h, "hl7fi:specialContent", c[CodeSocialSpecialContentNone])
	h.CreateElement("hl7fi:contentSpecificationId").SetText(sosmeta.ClientRelationship)
	h.CreateElement("hl7fi:encompassingClientRelationship").CreateAttr("root", relOID)
	h.CreateElement("hl7fi:signatureCollection")

	bodyID := "OID" + b.id
	nonXMLBody(root, bodyID, relationshipXHTML(bodyID, r, org, relOID, c[CodeSocialServiceTask]), structured)
	tree := etree.NewDocument()
	tree.SetRoot(root)
	return &Document{
		Tree: tree, ID: b.id, SetID: b.setID, Version: r.Version, BodyID: bodyID,
		Archive: documents.ArchiveSocial, Interaction: hl7.InteractionSocial, Replaces: b.replaces,
		ServiceRequest: ServiceRequestRelationship, ContentSpecificationID: sosmeta.ClientRelationship, Structured: structured,
	}, nil
}

// checkRelationship refuses what cannot become a valid relationship
// document; errors name the field, never its value.
func checkRelationship(r documents.RelationshipDocument, org documents.Organisation) error {
	texts := []struct{ field, value string }{
		{"client_relationship.id", r.Relationship.ID},
		{"client.given", r.Client.Given},
		{"client.family", r.Client.Family},
		{"client.hetu", r.Client.Hetu},
		{"author.given", r.Worker.Given},
		{"author.family", r.Worker.Family},
		{"author.registration_number", r.Worker.RegistrationNumber},
		{"service.unit_name", r.Service.UnitName},
		{"organisation.name", org.Name},
	}
	for _, t := range texts {
		if err := checkXMLText(t.value); err != nil {
			return &documents.FieldError{Field: t.field, Err: err}
		}
	}
	for _, req := range []struct{ field, value string }{
		{"client_relationship.id", r.Relationship.ID},
		{"client.hetu", r.Client.Hetu},
		{"client.family", r.Client.Family},
		{"service.unit_name", r.Service.UnitName},
		{"organisation.name", org.Name},
	} {
		if strings.TrimSpace(req.value) == "" {
			return fmt.Errorf("%s is required", req.field)
		}
	}
	if r.Relationship.Opened.IsZero() {
		return errors.New("client_relationship.opened is required")
	}
	switch r.Version {
	case documents.RelationshipVersionOpen:
	case documents.RelationshipVersionClosed:
		if r.Relationship.Closed == nil || r.Relationship.Closed.IsZero() {
			return errors.New("client_relationship.closed is required for the closed version")
		}
		if r.Relationship.Closed.Before(r.Relationship.Opened) {
			return errors.New("client_relationship.closed is before client_relationship.opened")
		}
	default:
		return fmt.Errorf("version %d is not %d (open) or %d (closed)", r.Version, documents.RelationshipVersionOpen, documents.RelationshipVersionClosed)
	}
	for _, o := range []struct{ field, value string }{
		{"service.unit_oid", r.Service.UnitOID},
		{"service.organiser_oid", r.Service.OrganiserOID},
		{"organisation.oid", org.OID},
		{"organisation.document_root", org.DocumentRoot},
	} {
		if !documents.ValidOID(o.value) {
			return fmt.Errorf("%s is not an OID", o.field)
		}
	}
	return nil
}

// relationshipContent builds and validates the 1505.1 structured content:
// the client with turvakielto, the relationship's dates, the organiser, the
// responsible worker and the service task with its service unit.
func relationshipContent(r documents.RelationshipDocument, org documents.Organisation, relOID string, codes map[string]Code) ([]byte, error) {
	rel := r.Relationship
	period := &sosmeta.RelationshipPeriod{Opened: rel.Opened.String()}
	unit := sosmeta.RelationshipUnit{
		Name:   sosmeta.Coding{System: sosmeta.SystemServiceUnit, Code: r.Service.UnitOID, Display: r.Service.UnitName},
		Opened: rel.Opened.String(),
	}
	if r.Version == documents.RelationshipVersionClosed {
		period.Closed = rel.Closed.String()
		unit.Closed = rel.Closed.String()
	}
	client := sosmeta.RelationshipClient{
		Family: r.Client.Family, Given: r.Client.Given,
		Hetu:                &sosmeta.Identifier{System: sosmeta.SystemHetu, Value: r.Client.Hetu},
		SecurityProhibition: r.Client.SecurityProhibition,
	}
	if !r.Client.BirthDate.IsZero() {
		client.BirthDate = r.Client.BirthDate.String()
	}
	if info, err := documents.ParseHetu(r.Client.Hetu); err == nil {
		client.Gender = &sosmeta.Coding{System: "urn:oid:" + codes[CodeGender].System, Code: "2", Display: "nainen"}
		if info.Individual%2 == 1 {
			client.Gender.Code, client.Gender.Display = "1", "mies"
		}
	}
	task := codes[CodeSocialServiceTask]
	content := sosmeta.ClientRelationshipContent{
		ID:            &sosmeta.Identifier{System: sosmeta.SystemRelationshipID, Value: relOID},
		Client:        client,
		Relationship:  period,
		OrganiserUnit: &sosmeta.Coding{System: sosmeta.SystemServiceUnit, Code: r.Service.OrganiserOID, Display: org.Name},
		ServiceTasks: []sosmeta.RelationshipServiceTask{{
			ServiceTask: sosmeta.Coding{System: "urn:oid:" + task.System, Code: task.Code, Display: task.Display},
			Units:       []sosmeta.RelationshipUnit{unit},
		}},
	}
	if r.Worker.Family != "" {
		w := sosmeta.ResponsibleWorker{Family: r.Worker.Family, Given: r.Worker.Given,
			Unit: &sosmeta.Coding{System: sosmeta.SystemServiceUnit, Code: r.Service.UnitOID, Display: r.Service.UnitName}}
		if r.Worker.RegistrationNumber != "" {
			w.Registration = &sosmeta.Identifier{System: sosmeta.SystemRegistration, Value: r.Worker.RegistrationNumber}
		}
		content.ResponsibleWorkers = []sosmeta.ResponsibleWorker{w}
	}
	return sosmeta.MarshalClientRelationship(content)
}

// relationshipXHTML is the display form of a relationship document.
func relationshipXHTML(bodyID string, r documents.RelationshipDocument, org documents.Organisation, relOID string, task Code) []byte {
	yesNo := map[bool]string{true: "Kyllä", false: "Ei"}
	period := []string{"Asiakkuuden alkamispvm: " + r.Relationship.Opened.Start(helsinki).Format("2.1.2006")}
	if r.Version == documents.RelationshipVersionClosed {
		period = append(period, "Asiakkuuden päättymispvm: "+r.Relationship.Closed.Start(helsinki).Format("2.1.2006"))
	}
	items := []socItem{
		{"Asiakkuuden yksilöintitunnus", lines(relOID)},
		{"Asiakas", lines(joinName(r.Client.Family, r.Client.Given), documents.MaskHetu(r.Client.Hetu), "Turvakielto: "+yesNo[r.Client.SecurityProhibition])},
		{"Sosiaalihuollon asiakkuus", lines(period...)},
		{"Palvelunjärjestäjän toimintayksikkö", lines(org.Name)},
		{"Sosiaalihuollon palvelutehtävä", lines("Palvelutehtävä: "+task.Display, "Palveluyksikkö: "+r.Service.UnitName)},
	}
	if r.Worker.Family != "" {
		items = append(items, socItem{"Palveluista vastaava työntekijä", lines(joinName(r.Worker.Family, r.Worker.Given))})
	}
	return socXHTML(bodyID, org.Name, "", "", "Asiakkuusasiakirja", items)
}
