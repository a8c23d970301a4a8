package gateway

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// A policy rejection is one entry read: the EntryRead hook (the
// entries_read_total metric) sees it once, with the author's role, like
// every other outcome.
func TestPolicyRejectionCountedOnce(t *testing.T) {
	dir := t.TempDir()
	cfg, b, q := ingestSetup(t, dir)
	type read struct {
		outcome documents.Outcome
		class   documents.ReasonClass
		role    documents.Role
	}
	var mu sync.Mutex
	var reads []read
	in := NewIngester(cfg, b, q, clock.NewManual(testNow), slog.New(slog.DiscardHandler), Hooks{
		EntryRead: func(o documents.Outcome, c documents.ReasonClass, r documents.Role) {
			mu.Lock()
			reads = append(reads, read{o, c, r})
			mu.Unlock()
		},
	})
	// 150315A123X is a valid henkilötunnus that is no test code: the
	// policy refuses it in the test environment.
	realCode := strings.Replace(final("REAL"), "150315A914E", "150315A123X", 1)
	batch := filepath.Join(dir, "batch.ndjson")
	if err := os.WriteFile(batch, []byte(final("OK")+"\n"+realCode+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum, err := in.IngestFile(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rejected != 1 {
		t.Fatalf("rejected %d, want 1", sum.Rejected)
	}
	mu.Lock()
	defer mu.Unlock()
	var rejects []read
	for _, r := range reads {
		if r.outcome == documents.OutcomeReject {
			rejects = append(rejects, r)
		}
	}
	if len(rejects) != 1 || rejects[0].class != documents.ReasonIdentityEnvironment || rejects[0].role != documents.RolePsychologist {
		t.Errorf("rejections counted %+v, want one identity_environment rejection of a psychologist", rejects)
	}
	if len(reads) != 2 {
		t.Errorf("%d entries counted, want 2: %+v", len(reads), reads)
	}
}
