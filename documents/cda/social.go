package cda

import (
	"bytes"
	"encoding/base64"
	"time"
	_ "time/tzdata" // the display form shows Finnish local time on any host

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// helsinki is the zone of the XHTML display form's dates.
var helsinki = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		panic("cda: time zone Europe/Helsinki: " + err.Error())
	}
	return loc
}()

// social builds the social welfare client data repository profile. No public
// schema exists; the structure and element order follow the Apotti test
// message observed in 2026 (kanta-domain.md, section 4a). Everything of it
// lives in this one function.
func (b *builder) social(bodyID string) (*etree.Document, error) {
	c := b.codes
	root := b.newRoot("", c[CodeSocialDocumentType], "", c[CodeSocialConfidentiality])
	b.recordTarget(root)
	b.author(root, c[CodeProfessionWelfareOffice])
	b.custodian(root)
	b.relatedDocument(root)
	guardian := c[CodeSocialGuardianAllowed]
	if !b.d.GuardianVisible {
		guardian = c[CodeSocialGuardianDenied]
	}
	consent(root, guardian)

	enc := root.CreateElement("componentOf").CreateElement("encompassingEncounter")
	caseID := b.e.Encounter.ID
	if b.e.ClientRelationship != nil && b.e.ClientRelationship.ID != "" {
		caseID = b.e.ClientRelationship.ID
	}
	ii(enc, "id", b.e.Service.OrganiserOID, caseID)
	b.encounterTime(enc, "effectiveTime")
	b.responsibleParty(enc)
	participant := enc.CreateElement("encounterParticipant")
	participant.CreateAttr("typeCode", "ADM")
	ae := participant.CreateElement("assignedEntity")
	ae.CreateElement("id").CreateAttr("nullFlavor", "NA")
	unit := ae.CreateElement("representedOrganization")
	ii(unit, "id", b.e.Service.UnitOID, "")
	unit.CreateElement("name").SetText(b.e.Service.UnitName)

	h := root.CreateElement("hl7fi:localSocialHeader")
	if b.enteredInError {
		h.CreateElement("hl7fi:description").SetText(enteredInErrorMarker)
	}
	cv(h, "hl7fi:specificDocumentType", c[CodeSocialSpecificDocType])
	h.CreateElement("hl7fi:creationTime").CreateAttr("value", ts(b.effective))
	cv(h, "hl7fi:documentGroup", c[CodeSocialDocumentGroup])
	cv(h, "hl7fi:fileFormat", c[CodeSocialFileFormat])
	softwareSupport(h)
	cv(h, "hl7fi:functionCode", c[CodeSocialServiceTask])
	cv(h, "hl7fi:recordStatus", c[CodeRecordStatusReady])
	cv(h, "hl7fi:registryType", c[CodeSocialRegister])
	b.outsourcing(h)
	cv(h, "hl7fi:totalRetentionPeriodClass", c[CodeSocialRetentionClass])
	if b.restricted() {
		if b.e.MyKanta.ReasonText != "" {
			h.CreateElement("hl7fi:authorizationRestrictionArgument").SetText(b.e.MyKanta.ReasonText)
		}
		r := c[CodeSocialInaccessibleBasis]
		r.Code = b.e.MyKanta.ReasonCode
		cv(h, "hl7fi:inaccessibleArgument", r)
	}
	// Where SHARK takes the MyKanta release date is not public: we use the
	// health profile's element name, right after the coded reason.
	if !b.d.ReleaseDate.IsZero() {
		h.CreateElement("hl7fi:releaseDateForPatientViewing").CreateAttr("value", tsDate(b.d.ReleaseDate))
	}
	h.CreateElement("hl7fi:signatureCollection")

	body := root.CreateElement("component").CreateElement("nonXMLBody")
	body.CreateAttr("ID", bodyID)
	xhtml, err := b.xhtml()
	if err != nil {
		return nil, err
	}
	text := body.CreateElement("text")
	text.CreateAttr("mediaType", "application/xhtml+xml")
	text.CreateAttr("representation", "B64")
	text.SetText(base64.StdEncoding.EncodeToString(xhtml))

	doc := etree.NewDocument()
	doc.SetRoot(root)
	return doc, nil
}

// xhtml renders the display form: an XHTML 1.1 document with the title, the
// client (identity code masked after the birth date part), author, time and
// the narrative.
func (b *builder) xhtml() ([]byte, error) {
	title, narrative := b.e.Text.Title, b.e.Text.Narrative
	if b.enteredInError {
		title, narrative = enteredInErrorTitle, enteredInErrorText
	}
	html := etree.NewElement("html")
	html.CreateAttr("xmlns", "http://www.w3.org/1999/xhtml")
	html.CreateAttr("xml:lang", b.language())
	head := html.CreateElement("head")
	head.CreateElement("meta").CreateAttr("http-equiv", "Content-Type")
	head.FindElement("meta").CreateAttr("content", "application/xhtml+xml; charset=UTF-8")
	head.CreateElement("title").SetText(title)
	body := html.CreateElement("body")
	body.CreateElement("h1").SetText(title)
	dl := body.CreateElement("dl")
	field := func(label, value string) {
		dl.CreateElement("dt").SetText(label)
		dl.CreateElement("dd").SetText(value)
	}
	field("Asiakas", joinName(b.e.Client.Family, b.e.Client.Given)+", "+documents.MaskHetu(b.e.Client.Hetu))
	field("Kirjaaja", joinName(b.e.Author.Family, b.e.Author.Given))
	field("Palveluyksikkö", b.e.Service.UnitName)
	field("Kirjattu", b.effective.In(helsinki).Format("2.1.2006 15.04"))
	if !b.d.ReleaseDate.IsZero() {
		field("Näytetään asiakkaalle aikaisintaan", b.d.ReleaseDate.Start(helsinki).Format("2.1.2006"))
	}
	div := body.CreateElement("div")
	div.CreateAttr("class", "narrative")
	narrativeInto(div, "p", narrative)

	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	doc.CreateDirective(`DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" "http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd"`)
	doc.SetRoot(html)
	var buf bytes.Buffer
	if _, err := doc.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func joinName(family, given string) string {
	if given == "" {
		return family
	}
	return family + " " + given
}
