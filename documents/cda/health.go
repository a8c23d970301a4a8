package cda

import (
	"fmt"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7/hl7xml"
)

// Texts of an invalidating (entered-in-error) version's body.
const (
	enteredInErrorTitle = "Mitätöity merkintä"
	enteredInErrorText  = "Merkintä on kirjattu virheellisesti, ja se on mitätöity. Aiempi versio ei ole voimassa."
)

// Invalidation styles (Options.Invalidation, configuration
// documents.invalidation.<archive>).
const (
	// InvalidationKela invalidates as Kela's own CDA builder does
	// (KantaCDA-API, OstopalvelunvaltuutusKasaaja.mitatoiCDA): a replacing
	// version whose recordStatus is 7 "Poistettu" and whose body is one
	// section, under an unspecified care process phase, saying that the
	// document is empty because it was invalidated. In a social welfare
	// document only the recordStatus changes (its body is the entry's).
	InvalidationKela = "kela"
	// InvalidationMarker writes hl7fi:description "mitätöity" first in the
	// local header, keeps recordStatus 3 and states the invalidation in the
	// body text. The social welfare builder's default.
	InvalidationMarker = "marker"
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
	// Guardian disclosure of a minor's document, coded from the policy's
	// basis (1-4 of 1.2.246.537.5.40202.201901): CDA's
	// authorization/consent is the only place the schema offers for a
	// consent directive. An adult's document has none.
	if b.d.Guardian != documents.GuardianNotApplicable {
		code, ok := c[GuardianCodeName(b.d.Guardian)]
		if !ok {
			return nil, fmt.Errorf("guardian basis %q has no code", b.d.Guardian)
		}
		consent(root, code)
	}
	kela := b.enteredInError && b.invalidation != InvalidationMarker

	enc := root.CreateElement("componentOf").CreateElement("encompassingEncounter")
	hl7xml.II(enc, "id", b.e.Service.OrganiserOID, b.e.Encounter.ID)
	b.encounterTime(enc, "effectiveTime")
	b.responsibleParty(enc)
	facility := enc.CreateElement("location").CreateElement("healthCareFacility")
	hl7xml.II(facility, "id", b.e.Service.UnitOID, "")
	facility.CreateElement("location").CreateElement("name").SetText(b.e.Service.UnitName)

	h := root.CreateElement("hl7fi:localHeader")
	if b.enteredInError && !kela {
		h.CreateElement("hl7fi:description").SetText(enteredInErrorMarker)
	}
	cv(h.CreateElement("hl7fi:tableOfContents"), "hl7fi:contentsCode", c[CodeHealthViewPsychology])
	cv(h, "hl7fi:fileFormat", c[CodeHealthFileFormat])
	softwareSupport(h)
	cv(h, "hl7fi:documentType", c[CodeHealthDocumentType])
	cv(h, "hl7fi:functionCode", c[CodeHealthFunction])
	status := c[CodeRecordStatusReady]
	if kela {
		status = c[CodeHealthInvalidatedStatus]
	}
	cv(h, "hl7fi:recordStatus", status)
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
	if kela {
		// Kela's invalidation body: the view's section holds an
		// unspecified care process phase holding one "Muu merkintä"
		// (other entry) section with the text.
		section.CreateElement("title").SetText(enteredInErrorTitle)
		phase := section.CreateElement("component").CreateElement("section")
		cv(phase, "code", c[CodeHealthInvalidationPhase])
		phase.CreateElement("title").SetText(c[CodeHealthInvalidationPhase].Display)
		other := phase.CreateElement("component").CreateElement("section")
		cv(other, "code", c[CodeHealthInvalidationTitle])
		other.CreateElement("title").SetText(c[CodeHealthInvalidationTitle].Display)
		narrativeInto(other.CreateElement("text"), "paragraph", enteredInErrorText)
		doc := etree.NewDocument()
		doc.SetRoot(root)
		return doc, nil
	}
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
