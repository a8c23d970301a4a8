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
	// An organiser without a signing identity: the policy takes the entry,
	// its document cannot be built, and it is rejected (counted once, as a
	// rejection, not also as the submit decided before the build).
	unknownOrganiser := strings.Replace(final("NOORG"), "1.2.246.10.2012566.19.1", "1.2.246.10.2012566.19.99", 1)
	if err := os.WriteFile(batch, []byte(final("OK")+"\n"+realCode+"\n"+unknownOrganiser+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum, err := in.IngestFile(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rejected != 2 {
		t.Fatalf("rejected %d, want 2", sum.Rejected)
	}
	mu.Lock()
	defer mu.Unlock()
	var rejects []read
	for _, r := range reads {
		if r.outcome == documents.OutcomeReject {
			rejects = append(rejects, r)
		}
	}
	if len(rejects) != 2 || rejects[0].class != documents.ReasonIdentityEnvironment || rejects[0].role != documents.RolePsychologist ||
		rejects[1].class != documents.ReasonInvalidInput {
		t.Errorf("rejections counted %+v, want an identity_environment rejection and an invalid_input (build) one, of psychologists", rejects)
	}
	if len(reads) != 3 {
		t.Errorf("%d entries counted, want 3 (one per line): %+v", len(reads), reads)
	}
}
