// Package hl7xml is the one set of element helpers over etree that the CDA
// builders and readers, the frame, signing and the mock share: finding
// children by namespace and local name, following paths, and writing the
// HL7 V3 data types every message carries (II, CD).
//
// Matching is by namespace URI and local name (never by prefix), so a
// document that binds urn:hl7finland to another prefix, or HL7 V3 as its
// default namespace, reads the same. The one deliberate exception is
// ByLocalName, which ignores namespaces, for readers that accept an element
// wherever a sender's namespace declarations put it. Every finder takes a
// nil element and finds nothing, so paths chain without checks. It imports
// no project package (the namespaces are the caller's, see package hl7).
package hl7xml

import "github.com/beevik/etree"

// Is reports whether el is the element local in namespace ns.
func Is(el *etree.Element, ns, local string) bool {
	return el != nil && el.Tag == local && el.NamespaceURI() == ns
}

// Child returns el's first child element ns:local; nil when there is none.
func Child(el *etree.Element, ns, local string) *etree.Element {
	if el == nil {
		return nil
	}
	for c := range el.ChildElementsSeq() {
		if Is(c, ns, local) {
			return c
		}
	}
	return nil
}

// Children returns el's child elements ns:local in document order.
func Children(el *etree.Element, ns, local string) []*etree.Element {
	if el == nil {
		return nil
	}
	var out []*etree.Element
	for c := range el.ChildElementsSeq() {
		if Is(c, ns, local) {
			out = append(out, c)
		}
	}
	return out
}

// Path follows first children of the local names, all in namespace ns; nil
// when a step is missing.
func Path(el *etree.Element, ns string, names ...string) *etree.Element {
	for _, n := range names {
		if el = Child(el, ns, n); el == nil {
			return nil
		}
	}
	return el
}

// Attr is the value of el's attribute key ("" when el or the attribute is
// missing). key may carry a prefix ("xsi:type"), matched as written.
func Attr(el *etree.Element, key string) string {
	if el == nil {
		return ""
	}
	return el.SelectAttrValue(key, "")
}

// ByLocalName returns every element at the path of local names below el,
// in any namespace: all matches at each step, not just the first. It is for
// readers that must find an element whatever namespace a sender put it in
// (the mock's signer checks); a reader that must refuse the wrong namespace
// uses Path or Children.
func ByLocalName(el *etree.Element, names ...string) []*etree.Element {
	if el == nil {
		return nil
	}
	level := []*etree.Element{el}
	for _, n := range names {
		var next []*etree.Element
		for _, e := range level {
			for c := range e.ChildElementsSeq() {
				if c.Tag == n {
					next = append(next, c)
				}
			}
		}
		level = next
	}
	return level
}

// II writes an instance identifier <tag extension=… root=…/> (extension
// left out when empty; in that order, as the real messages have it).
func II(parent *etree.Element, tag, root, extension string) *etree.Element {
	el := parent.CreateElement(tag)
	if extension != "" {
		el.CreateAttr("extension", extension)
	}
	el.CreateAttr("root", root)
	return el
}

// CD writes a coded value; codeSystemName and displayName only when given.
func CD(parent *etree.Element, tag, code, system, systemName, display string) *etree.Element {
	el := parent.CreateElement(tag)
	el.CreateAttr("code", code)
	el.CreateAttr("codeSystem", system)
	if systemName != "" {
		el.CreateAttr("codeSystemName", systemName)
	}
	if display != "" {
		el.CreateAttr("displayName", display)
	}
	return el
}

// Rehome copies an element tree without element prefixes and namespace
// declarations, for placing under a parent whose default namespace is the
// element's own. Attributes keep their prefixes; comments and processing
// instructions are dropped. Children with the local name skip are left out
// ("" skips none).
func Rehome(src *etree.Element, skip string) *etree.Element {
	dst := etree.NewElement(src.Tag)
	for _, a := range src.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		dst.CreateAttr(a.FullKey(), a.Value)
	}
	for _, t := range src.Child {
		switch c := t.(type) {
		case *etree.Element:
			if skip != "" && c.Tag == skip {
				continue
			}
			dst.AddChild(Rehome(c, skip))
		case *etree.CharData:
			dst.AddChild(etree.NewText(c.Data))
		}
	}
	return dst
}

// CopyChild appends a Rehome copy of src's first child ns:local to dst,
// when there is one.
func CopyChild(dst, src *etree.Element, ns, local string) {
	if c := Child(src, ns, local); c != nil {
		dst.AddChild(Rehome(c, ""))
	}
}
