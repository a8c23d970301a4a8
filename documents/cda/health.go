package cda

import (
	"github.com/beevik/etree"
)

// Texts of an invalidating (entered-in-error) version's body.
const (
	enteredInErrorTitle = "Mitätöity merkintä"
	enteredInErrorText  = "Merkintä on kirjattu virheellisesti, ja se on mitätöity. Aiempi versio ei ole voimassa."
)

// health builds the patient data repository profile: CDA header,
// hl7fi:localHeader in the order hl7fi_extensions_cdar2header.xsd requires,
// and a structuredBody with one narrative section.
func (b *builder) health(bodyID string) (*etree.Document, error) {
	c := b.codes
	root := b.newRoot(c[CodeHealthTemplateIDs].Code, c[CodeHealthRegister], b.e.Text.Title, c[CodeHealthConfidentiality])
	b.recordTarget(root)
	b.author(root, c[CodeProfessionPsychologist])
	b.custodian(root)
	b.relatedDocument(root)
	// Guardian restriction of a minor's document: CDA's authorization/consent
	// is the only place the schema offers for a consent directive.
	if b.minor() && !b.d.GuardianVisible {
		code := c[CodeHealthGuardianByMinor]
		if b.e.Guardian.ProhibitedByProfessional {
			code = c[CodeHealthGuardianByProf]
		}
		consent(root, code)
	}

	enc := root.CreateElement("componentOf").CreateElement("encompassingEncounter")
	ii(enc, "id", b.e.Service.OrganiserOID, b.e.Encounter.ID)
	b.encounterTime(enc, "effectiveTime")
	b.responsibleParty(enc)
	facility := enc.CreateElement("location").CreateElement("healthCareFacility")
	ii(facility, "id", b.e.Service.UnitOID, "")
	facility.CreateElement("location").CreateElement("name").SetText(b.e.Service.UnitName)

	h := root.CreateElement("hl7fi:localHeader")
	if b.enteredInError {
		h.CreateElement("hl7fi:description").SetText(enteredInErrorMarker)
	}
	cv(h.CreateElement("hl7fi:tableOfContents"), "hl7fi:contentsCode", c[CodeHealthViewPsychology])
	cv(h, "hl7fi:fileFormat", c[CodeHealthFileFormat])
	softwareSupport(h)
	cv(h, "hl7fi:documentType", c[CodeHealthDocumentType])
	cv(h, "hl7fi:functionCode", c[CodeHealthFunction])
	cv(h, "hl7fi:recordStatus", c[CodeRecordStatusReady])
	// Left empty: the signing package adds the signatures.
	h.CreateElement("hl7fi:signatureCollection")
	cv(h, "hl7fi:custodianTypeCode", c[CodeHealthCustodianType])
	b.outsourcing(h)
	cv(h, "hl7fi:retentionPeriodClass", c[CodeHealthRetentionClass])
	if b.restricted() {
		// Delay or concealment: the coded reason; concealment is a reason
		// without a release date (see DESIGN.md, unconfirmed placement).
		r := c[CodeHealthViewingRestricted]
		r.Code = b.e.MyKanta.ReasonCode
		cv(h, "hl7fi:sensitiveDocument", r)
	}
	if !b.d.ReleaseDate.IsZero() {
		h.CreateElement("hl7fi:releaseDateForPatientViewing").CreateAttr("value", tsDate(b.d.ReleaseDate))
	}

	body := root.CreateElement("component").CreateElement("structuredBody")
	body.CreateAttr("ID", bodyID)
	section := body.CreateElement("component").CreateElement("section")
	cv(section, "code", c[CodeHealthViewPsychology])
	title, narrative := b.e.Text.Title, b.e.Text.Narrative
	if b.enteredInError {
		title, narrative = enteredInErrorTitle, enteredInErrorText
	}
	section.CreateElement("title").SetText(title)
	narrativeInto(section.CreateElement("text"), "paragraph", narrative)

	doc := etree.NewDocument()
	doc.SetRoot(root)
	return doc, nil
}

// restricted reports whether MyKanta display is delayed or concealed.
func (b *builder) restricted() bool {
	return (b.d.Concealed || !b.d.ReleaseDate.IsZero()) && b.e.MyKanta.ReasonCode != ""
}
