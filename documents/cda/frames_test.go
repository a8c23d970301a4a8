package cda_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// TestGoldenFrames builds the archive message of one document per
// interaction and checks it against its golden file and against ParseMessage.
func TestGoldenFrames(t *testing.T) {
	for _, c := range cases() {
		switch c.name {
		case "health_new", "health_correction", "social":
		default:
			continue
		}
		doc := build(t, c)
		cdaXML := bytesOf(t, doc)
		// The frame names the professional by identity code where the
		// entry has one (here the social case), else by registration number.
		author := wire.FrameAuthor{Hetu: c.e.Author.Hetu, RegistrationNumber: c.e.Author.RegistrationNumber}
		if c.name == "social" {
			author.Hetu = testHetu("010181", '-', "900")
		}
		raw, err := wire.BuildMessage(wire.MessageInput{
			Author:         author,
			Document:       cdaXML,
			Interaction:    doc.Interaction,
			MessageID:      documents.MessageID(org.DocumentRoot, c.e.ID, c.e.Revision),
			CreationTime:   c.e.FinalizedAt.Add(time.Minute),
			ProcessingCode: "D",
			SenderOID:      "1.2.246.10.2012566.10.99",
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		golden(t, "frame_"+doc.Interaction+".xml", raw)
		m, err := wire.ParseMessage(raw)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if m.Interaction != doc.Interaction || m.DocumentID != doc.ID || m.SetID != doc.SetID || m.Version != doc.Version || m.Hetu != c.e.Client.Hetu {
			t.Errorf("%s: parsed frame %+v", c.name, m)
		}
		if !bytes.Equal(m.Document, cdaXML) {
			t.Errorf("%s: document not carried byte-exact", c.name)
		}
	}
}

// Each document names the interaction it travels in, from package hl7,
// which wire's frames check against (cda does not import wire).
func TestInteractionsAreHL7Constants(t *testing.T) {
	cs := cases()
	want := map[string]string{"health_new": hl7.InteractionNewHealth, "health_correction": hl7.InteractionReplaceHealth, "social": hl7.InteractionSocial}
	for _, c := range cs {
		if w, ok := want[c.name]; ok {
			if got := build(t, c).Interaction; got != w {
				t.Errorf("%s: %s, want %s", c.name, got, w)
			}
		}
	}
}
