package gateway

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/adapter"
	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/pki"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// The builder hands wire.BuildMessage the tree the signed bytes were
// serialised from, to spare a parse. The frame must be byte for byte the
// one built from the bytes alone, for every scenario document.
func TestFrameFromTreeEqualsFrameFromBytes(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	cfg := config.Default()
	paths, err := pki.Generate(t.TempDir(), []pki.Organiser{{OID: cfg.Organisations[0].OID, Name: cfg.Organisations[0].Name}}, "pw", now)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Organisations[0].PKCS12 = paths.Signing[cfg.Organisations[0].OID].P12
	cfg.Organisations[0].PKCS12Password = "pw"
	b, err := NewBuilder(&cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	policy := cfg.PolicyEngine()
	files, err := fs.Glob(fixtures.Scenarios, "scenarios/*.ndjson")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario batches: %v", err)
	}
	frames := 0
	for _, f := range files {
		raw, err := fs.ReadFile(fixtures.Scenarios, f)
		if err != nil {
			t.Fatal(err)
		}
		r := adapter.NewReader(bytes.NewReader(raw), filepath.Base(f), adapter.Options{})
		for {
			it, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if it.Entry == nil {
				continue
			}
			d := policy.Decide(it.Entry, now, nil)
			if d.Outcome == documents.OutcomeReject || d.Outcome == documents.OutcomeSkip {
				continue
			}
			built, err := b.Build(it.Entry, d, now)
			if err != nil {
				t.Fatalf("%s line %d: %v", f, it.Line, err)
			}
			for _, bd := range built {
				if bd.Frame == nil {
					continue
				}
				in := wire.MessageInput{
					Document:       bd.CDA,
					Interaction:    bd.Delivery.Interaction,
					MessageID:      documents.MessageID(cfg.Organisations[0].DocumentRoot, it.Entry.ID, it.Entry.Revision),
					CreationTime:   now,
					ProcessingCode: "D",
					SenderOID:      cfg.Kanta.SenderOID,
					ReceiverOID:    cfg.Kanta.ReceiverOID,
				}
				if in.Interaction == wire.InteractionReplaceHealth {
					in.CorrectionReason = b.code("frame.correction_reason", "1")
				}
				fromBytes, err := wire.BuildMessage(in)
				if err != nil {
					t.Fatalf("%s line %d: %v", f, it.Line, err)
				}
				if !bytes.Equal(fromBytes, bd.Frame) {
					t.Errorf("%s line %d: the frame built from the tree differs from the one built from the signed bytes", f, it.Line)
				}
				if _, err := wire.ParseMessage(bd.Frame); err != nil {
					t.Errorf("%s line %d: own frame does not parse: %v", f, it.Line, err)
				}
				frames++
			}
		}
	}
	if frames < 20 {
		t.Fatalf("only %d frames compared", frames)
	}
	t.Logf("%d frames compared", frames)
}
