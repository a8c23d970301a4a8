package signing

import (
	"fmt"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7/hl7xml"
)

// XML-DSig's namespace and names are its library's; the profile's
// namespaces and the signature type code system are package hl7's.
const (
	nsDSig       = dsig.Namespace
	digestSHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
	idAttr       = dsig.DefaultIdAttr
)

// Signature types (signatureDescription/@code).
const (
	TypeProfessional = "1" // professional's personal (card) signature
	TypeSystem       = "3" // system signature of the client information system
)

// excC14N is stateless, so one instance serves all goroutines.
var excC14N = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")

// oneChild returns the only child named ns:local, or an error naming what is
// missing or repeated.
func oneChild(el *etree.Element, ns, local string) (*etree.Element, error) {
	cs := hl7xml.Children(el, ns, local)
	switch len(cs) {
	case 1:
		return cs[0], nil
	case 0:
		return nil, fmt.Errorf("%s has no %s", el.Tag, local)
	default:
		return nil, fmt.Errorf("%s has %d %s elements, want 1", el.Tag, len(cs), local)
	}
}

// localHeader finds hl7fi:localHeader (health care) or hl7fi:localSocialHeader
// (social welfare) directly under ClinicalDocument.
func localHeader(root *etree.Element) (*etree.Element, error) {
	var found []*etree.Element
	for c := range root.ChildElementsSeq() {
		if hl7xml.Is(c, hl7.NamespaceFI, "localHeader") || hl7xml.Is(c, hl7.NamespaceFI, "localSocialHeader") {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("document has no hl7fi:localHeader or hl7fi:localSocialHeader")
	default:
		return nil, fmt.Errorf("document has %d local headers, want 1", len(found))
	}
}

// documentBody returns the structuredBody or nonXMLBody that is the direct
// child of ClinicalDocument/component: the only element a body reference may
// point at.
func documentBody(root *etree.Element) (*etree.Element, error) {
	if !hl7xml.Is(root, hl7.NamespaceV3, "ClinicalDocument") {
		return nil, fmt.Errorf("root element is %s, want ClinicalDocument in %s", root.Tag, hl7.NamespaceV3)
	}
	comp, err := oneChild(root, hl7.NamespaceV3, "component")
	if err != nil {
		return nil, err
	}
	var bodies []*etree.Element
	for c := range comp.ChildElementsSeq() {
		if hl7xml.Is(c, hl7.NamespaceV3, "structuredBody") || hl7xml.Is(c, hl7.NamespaceV3, "nonXMLBody") {
			bodies = append(bodies, c)
		}
	}
	if len(bodies) != 1 {
		return nil, fmt.Errorf("ClinicalDocument/component has %d bodies, want 1", len(bodies))
	}
	return bodies[0], nil
}

// indexIDs maps every ID attribute value in the tree to its element and
// refuses duplicates, so that a reference can only ever mean one element.
func indexIDs(root *etree.Element) (map[string]*etree.Element, error) {
	ids := make(map[string]*etree.Element)
	var walk func(el *etree.Element) error
	walk = func(el *etree.Element) error {
		for _, a := range el.Attr {
			if a.Space == "" && a.Key == idAttr {
				if _, dup := ids[a.Value]; dup {
					return fmt.Errorf("duplicate ID %q in document", a.Value)
				}
				ids[a.Value] = el
			}
		}
		for c := range el.ChildElementsSeq() {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	return ids, walk(root)
}

// canonicalize serialises el with exclusive c14n as it stands inside its
// document. Namespace declarations inherited from ancestors are copied onto a
// detached copy first; exclusive c14n then keeps only those visibly used, which
// is what a verifier working on the whole document (e.g. xmlsec1) computes.
// The document itself is not modified.
func canonicalize(el *etree.Element) ([]byte, error) {
	inherited := map[string]string{}
	var chain []*etree.Element
	for p := el.Parent(); p != nil; p = p.Parent() {
		chain = append(chain, p)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		for _, a := range chain[i].Attr {
			switch {
			case a.Space == "xmlns":
				inherited["xmlns:"+a.Key] = a.Value
			case a.Space == "" && a.Key == "xmlns":
				inherited["xmlns"] = a.Value
			}
		}
	}
	detached := el.Copy()
	for _, a := range el.Attr {
		if a.Space == "xmlns" {
			delete(inherited, "xmlns:"+a.Key)
		} else if a.Space == "" && a.Key == "xmlns" {
			delete(inherited, "xmlns")
		}
	}
	for k, v := range inherited {
		if k == "xmlns" && v == "" {
			continue // an undeclared default namespace needs no declaration
		}
		detached.CreateAttr(k, v)
	}
	return excC14N.Canonicalize(detached)
}
