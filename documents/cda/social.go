package cda

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // the display form shows Finnish local time on any host

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/sosmeta"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7/hl7xml"
)

// helsinki is the zone of the display form's dates and of the structured
// content's instants.
var helsinki = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		panic("cda: time zone Europe/Helsinki: " + err.Error())
	}
	return loc
}()

// social builds a school welfare officer's client record entry
// (asiakaskertomusmerkintä) for the social welfare client data repository:
// service request SP17, document group 5. No public schema exists here; the
// structure and element order follow the real Apotti client document
// (Warc0ck/SH-Kanta-validator "asia ja rajoitukset testi S.xml";
// kanta-domain.md 4a, 8.2). It returns the document, its Sosmeta structure
// id and the validated structured content.
func (b *builder) social(bodyID string) (*etree.Document, string, []byte, error) {
	c := b.codes
	typ, err := b.entryType()
	if err != nil {
		return nil, "", nil, err
	}
	if err := b.requireOrganiserName(); err != nil {
		return nil, "", nil, err
	}
	structured, err := b.entryContent(typ)
	if err != nil {
		return nil, "", nil, err
	}

	root := b.newRoot("", c[CodeSocialDocumentType], "", c[CodeSocialConfidentiality])
	b.recordTarget(root)
	b.socialAuthor(root)
	b.custodian(root)
	b.relatedDocument(root)
	guardian := c[CodeSocialGuardianAllowed]
	if !b.d.GuardianVisible {
		guardian = c[CodeSocialGuardianDenied]
	}
	consent(root, guardian)

	// The case (asia) is componentOf/encompassingEncounter/id; its dates
	// are not used in a client document, as in the real one.
	enc := root.CreateElement("componentOf").CreateElement("encompassingEncounter")
	enc.CreateElement("id").CreateAttr("root", documents.CaseOID(b.org.DocumentRoot, b.caseKey()))
	enc.CreateElement("effectiveTime").CreateAttr("nullFlavor", "NA")
	b.responsibleParty(enc)
	serviceUnitParticipant(enc, b.e.Service)

	h := root.CreateElement("hl7fi:localSocialHeader")
	if b.enteredInError && b.invalidation != InvalidationKela {
		h.CreateElement("hl7fi:description").SetText(enteredInErrorMarker)
	}
	specific := c[CodeSocialSpecificDocType]
	specific.Code, specific.Display = typ.Code, typ.Display
	cv(h, "hl7fi:specificDocumentType", specific)
	h.CreateElement("hl7fi:creationTime").CreateAttr("value", ts(b.effective))
	cv(h, "hl7fi:documentGroup", c[CodeSocialDocumentGroup])
	cv(h, "hl7fi:fileFormat", c[CodeSocialFileFormat])
	cv(h, "hl7fi:structuredFileFormat", c[CodeSocialStructuredFileFormat])
	softwareSupport(h)
	cv(h, "hl7fi:functionCode", c[CodeSocialServiceTask])
	status := c[CodeRecordStatusReady]
	if b.enteredInError && b.invalidation == InvalidationKela {
		status = c[CodeSocialRecordStatusRemoved]
	}
	cv(h, "hl7fi:recordStatus", status)
	cv(h, "hl7fi:registryType", c[CodeSocialRegister])
	b.organiserAsCustomer(h)
	cv(h, "hl7fi:totalRetentionPeriodClass", c[CodeSocialRetentionClass])
	special := c[CodeSocialSpecialContentNone]
	if b.restricted() {
		special = c[CodeSocialSpecialContentRestr]
	}
	cv(h, "hl7fi:specialContent", special)
	h.CreateElement("hl7fi:contentSpecificationId").SetText(typ.ContentSpecificationID)
	sp := h.CreateElement("hl7fi:serviceProcess")
	sp.CreateElement("hl7fi:type").SetText("Sosiaalihuollon palveluprosessi")
	cv(sp, "hl7fi:code", c[CodeSocialServiceProcess])
	if b.restricted() {
		if b.e.MyKanta.ReasonText != "" {
			h.CreateElement("hl7fi:authorizationRestrictionArgument").SetText(b.e.MyKanta.ReasonText)
		}
		r := c[CodeSocialInaccessibleBasis]
		r.Code = b.e.MyKanta.ReasonCode
		cv(h, "hl7fi:inaccessibleArgument", r)
	}
	// Neither real document carries a delay date; where SHARK takes one is
	// not public. By default we keep the health profile's element name right
	// after the coded reason; SocialReleaseDateOmit leaves it out.
	if !b.d.ReleaseDate.IsZero() && b.socialOpts.ReleaseDate != SocialReleaseDateOmit {
		h.CreateElement("hl7fi:releaseDateForPatientViewing").CreateAttr("value", tsDate(b.d.ReleaseDate))
	}
	h.CreateElement("hl7fi:signatureCollection")

	nonXMLBody(root, bodyID, b.entryXHTML(bodyID, typ), structured)
	doc := etree.NewDocument()
	doc.SetRoot(root)
	return doc, typ.ContentSpecificationID, structured, nil
}

// entryType is the specific document type of the entry: by encounter type
// (configuration, then DefaultEntryTypes), else the code table's default.
func (b *builder) entryType() (sosmeta.EntryType, error) {
	code, ok := b.socialOpts.EntryTypes[b.e.Encounter.Type]
	if !ok {
		code, ok = DefaultEntryTypes[b.e.Encounter.Type]
	}
	if !ok {
		code = b.codes[CodeSocialSpecificDocType].Code
	}
	t, ok := sosmeta.EntryTypeOf(code)
	if !ok {
		return sosmeta.EntryType{}, fmt.Errorf("specific document type %q (encounter type %q) has no Sosmeta structure here (known: %s)",
			code, b.e.Encounter.Type, strings.Join(sosmeta.EntryTypeCodes(), ", "))
	}
	return t, nil
}

// caseKey is the case the entry belongs to: client_relationship.case_id,
// else the relationship (a school welfare relationship is one case), else
// the encounter.
func (b *builder) caseKey() string {
	if r := b.e.ClientRelationship; r != nil {
		if r.CaseID != "" {
			return r.CaseID
		}
		if r.ID != "" {
			return r.ID
		}
	}
	return b.e.Encounter.ID
}

func (b *builder) requireOrganiserName() error {
	if strings.TrimSpace(b.org.Name) == "" {
		return errors.New("organisation.name is required for a social welfare document (outsourcingServiceCustomerName)")
	}
	return nil
}

// jobTitle is author.title, else the configured title of the role, else
// DefaultTitles.
func jobTitle(a documents.Author, o SocialOptions) string {
	if a.Title != "" {
		return a.Title
	}
	if t := o.Titles[a.Role]; t != "" {
		return t
	}
	return DefaultTitles[a.Role]
}

// entryContent builds and validates the structured content of the entry.
func (b *builder) entryContent(typ sosmeta.EntryType) ([]byte, error) {
	e := b.e
	narrative := e.Text.Narrative
	if b.enteredInError {
		narrative = enteredInErrorText
	}
	event := &sosmeta.Event{Period: &sosmeta.Period{Start: instant(e.Encounter.Start)}, Description: narrative}
	if !e.Encounter.End.IsZero() {
		event.Period.End = instant(e.Encounter.End)
	}
	task := b.codes[CodeSocialServiceTask]
	content := sosmeta.ClientRecordEntry{
		Clients: []sosmeta.Person{{Family: e.Client.Family, Given: e.Client.Given, Hetu: &sosmeta.Identifier{System: sosmeta.SystemHetu, Value: e.Client.Hetu}}},
		Entry: sosmeta.RecordEntry{
			ServiceTask: sosmeta.Coding{System: "urn:oid:" + task.System, Code: task.Code, Display: task.Display},
			Event:       event,
		},
		Date: documents.DateOf(b.effective.In(helsinki)).String(),
		Author: sosmeta.EntryAuthor{
			Family: e.Author.Family, Given: e.Author.Given, Title: jobTitle(e.Author, b.socialOpts),
			Unit: &sosmeta.Coding{System: sosmeta.SystemServiceUnit, Code: e.Service.UnitOID, Display: e.Service.UnitName},
		},
	}
	return typ.Marshal(content)
}

// instant is an RFC 3339 instant in Finnish local time, as the real
// structured content writes them ("2026-03-19T13:33:30+03:00").
func instant(t time.Time) string { return t.In(helsinki).Format("2006-01-02T15:04:05-07:00") }

// socialAuthor: the professional by registration number and name; no
// profession code and no organisation (the service unit is the encounter's
// participant), as in the real document.
func (b *builder) socialAuthor(root *etree.Element) {
	author := root.CreateElement("author")
	author.CreateElement("time").CreateAttr("value", ts(b.effective))
	aa := author.CreateElement("assignedAuthor")
	hl7xml.II(aa, "id", hl7.OIDRegistration, b.e.Author.RegistrationNumber)
	personName(aa.CreateElement("assignedPerson"), b.e.Author.Given, b.e.Author.Family)
}

// serviceUnitParticipant is encounterParticipant ADM: the service unit.
func serviceUnitParticipant(enc *etree.Element, s documents.Service) {
	participant := enc.CreateElement("encounterParticipant")
	participant.CreateAttr("typeCode", "ADM")
	ae := participant.CreateElement("assignedEntity")
	ae.CreateElement("id").CreateAttr("nullFlavor", "NA")
	unit := ae.CreateElement("representedOrganization")
	hl7xml.II(unit, "id", s.UnitOID, "")
	unit.CreateElement("name").SetText(s.UnitName)
}

// organiserAsCustomer writes outsourcingServiceCustomer and its name: the
// organiser, always, even when it keeps the register itself (both real
// documents do).
func (b *builder) organiserAsCustomer(h *etree.Element) {
	hl7xml.II(h, "hl7fi:outsourcingServiceCustomer", b.e.Service.OrganiserOID, "")
	h.CreateElement("hl7fi:outsourcingServiceCustomerName").SetText(b.org.Name)
}

// nonXMLBody writes the body: the XHTML display form, then hl7fi:json with
// the structured content, both base64, as the real documents have them.
func nonXMLBody(root *etree.Element, bodyID string, xhtml, structured []byte) {
	body := root.CreateElement("component").CreateElement("nonXMLBody")
	body.CreateAttr("ID", bodyID)
	text := body.CreateElement("text")
	text.CreateAttr("mediaType", "application/xhtml+xml")
	text.CreateAttr("representation", "B64")
	text.SetText(base64.StdEncoding.EncodeToString(xhtml))
	body.CreateElement("hl7fi:json").SetText(base64.StdEncoding.EncodeToString(structured))
}

// --- display form ------------------------------------------------------------

// socItem is one titled item of the display form; content writes into its
// soc-content div.
type socItem struct {
	title   string
	content func(div *etree.Element)
}

// lines is item content of one paragraph with <br/> between the lines.
func lines(ls ...string) func(*etree.Element) {
	return func(div *etree.Element) {
		p := div.CreateElement("p")
		first := true
		for _, l := range ls {
			if l == "" {
				continue
			}
			if !first {
				p.CreateElement("br")
			}
			p.CreateText(l)
			first = false
		}
	}
}

// socXHTML renders the display form as the real documents have it: an XHTML
// fragment <div class="soc-document" id="OID…"> with soc-header,
// soc-main-wrapper of soc-list/soc-item/soc-content items, and soc-footer;
// no XML declaration, no DOCTYPE.
func socXHTML(bodyID, organiser, kind, date, fullTitle string, items []socItem) []byte {
	doc := etree.NewElement("div")
	doc.CreateAttr("class", "soc-document")
	doc.CreateAttr("id", bodyID)
	doc.CreateAttr("xmlns", "http://www.w3.org/1999/xhtml")
	header := doc.CreateElement("div")
	header.CreateAttr("class", "soc-header")
	for i, text := range []string{organiser, kind, date} {
		d := header.CreateElement("div")
		d.CreateAttr("class", fmt.Sprintf("soc-hdr%d", i+1))
		d.SetText(text)
	}
	main := doc.CreateElement("div")
	main.CreateAttr("class", "soc-main-wrapper")
	h1 := main.CreateElement("h1")
	h1.CreateAttr("class", "soc-fulltitle")
	h1.SetText(fullTitle)
	for _, it := range items {
		list := main.CreateElement("div")
		list.CreateAttr("class", "soc-list")
		item := list.CreateElement("div")
		item.CreateAttr("class", "soc-item")
		t := item.CreateElement("h1")
		t.CreateAttr("class", "soc-title")
		t.SetText(it.title)
		content := item.CreateElement("div")
		content.CreateAttr("class", "soc-content")
		it.content(content)
	}
	footer := doc.CreateElement("div")
	footer.CreateAttr("class", "soc-footer")
	for i := 1; i <= 3; i++ {
		footer.CreateElement("div").CreateAttr("class", fmt.Sprintf("soc-ftr%d", i))
	}
	out := etree.NewDocument()
	out.SetRoot(doc)
	raw, _ := out.WriteToBytes() // an in-memory tree cannot fail to serialize
	return raw
}

// entryXHTML is the display form of an entry: client (identity code masked
// after the birth date part), the event, the narrative, date and author.
func (b *builder) entryXHTML(bodyID string, typ sosmeta.EntryType) []byte {
	e := b.e
	title, narrative := e.Text.Title, e.Text.Narrative
	if b.enteredInError {
		title, narrative = enteredInErrorTitle, enteredInErrorText
	}
	when := e.Encounter.Start.In(helsinki).Format("2.1.2006 15.04")
	if !e.Encounter.End.IsZero() {
		when += "–" + e.Encounter.End.In(helsinki).Format("15.04")
	}
	items := []socItem{
		{"Asiakas", lines(joinName(e.Client.Family, e.Client.Given), documents.MaskHetu(e.Client.Hetu))},
		{"Tapahtuma", lines(title, when)},
		{"Kuvaus", func(div *etree.Element) { narrativeInto(div, "p", narrative) }},
	}
	if !b.d.ReleaseDate.IsZero() {
		items = append(items, socItem{"Näytetään asiakkaalle aikaisintaan", lines(b.d.ReleaseDate.Start(helsinki).Format("2.1.2006"))})
	}
	items = append(items,
		socItem{"Päivämäärä", lines(b.effective.In(helsinki).Format("2.1.2006"))},
		socItem{"Laatija", lines(joinName(e.Author.Family, e.Author.Given), jobTitle(e.Author, b.socialOpts), e.Service.UnitName)},
	)
	general := b.codes[CodeSocialDocumentType].Display
	return socXHTML(bodyID, b.org.Name, general, b.effective.In(helsinki).Format("2.1.2006"), typ.Display, items)
}

// joinName is "Family, Given" as the real display forms write a name.
func joinName(family, given string) string {
	if given == "" {
		return family
	}
	return family + ", " + given
}
