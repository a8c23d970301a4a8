package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/sosmeta"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// The adapter enforces every constraint of the embedded Sosmeta schemas that
// the input reaches (names required, dates and times parsed; the rest is
// generated or configuration), so no batch line yields content the real
// schema refuses. A stricter 19005 schema, the real one plus a length limit
// on the event's description, stands in for such a line: the entry whose
// content fails is quarantined with the batch file, its line and the JSON
// path of the field, without personal data; nothing of it is queued; the
// rest of the batch is.
func TestIngestQuarantinesEntryWithInvalidStructuredContent(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "documents", "sosmeta", "schemas", sosmeta.MeetingOrContact+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	kuvaus := dig(t, schema, "properties", "merkinta_tapaamisesta_tai_yhteydenotosta", "properties", "asiakaskertomusmerkinta",
		"properties", "tapahtuma", "properties", "kuvaus")
	kuvaus["maxLength"] = 40
	stricter, err := json.Marshal(schema)
	if err != nil {
		t.Fatal(err)
	}
	restore, err := sosmeta.UseStricterSchemaForTesting(sosmeta.MeetingOrContact, stricter)
	if err != nil {
		t.Fatal(err)
	}
	defer restore()

	ctx := context.Background()
	dir := t.TempDir()
	cfg, b, q := ingestSetup(t, dir)
	in := NewIngester(cfg, b, q, clock.NewManual(testNow), slog.New(slog.DiscardHandler), Hooks{})
	const secret = "Oppilas kertoi kotitilanteesta pitkästi ja yksityiskohtaisesti."
	bad := strings.Replace(welfare("W-LONG", "ASK-LONG", "null"), `"Keskustelu koulunkäynnistä."`, fmt.Sprintf("%q", secret), 1)
	if bad == welfare("W-LONG", "ASK-LONG", "null") {
		t.Fatal("fixture: narrative not replaced")
	}
	batch := writeBatch(t, dir, "welfare-batch.ndjson", []string{
		final("PSY-1"),
		welfare("W-SHORT", "ASK-SHORT", "null"),
		bad, // line 3
		final("PSY-2"),
	})

	sum, err := in.IngestFile(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Lines != 4 || sum.Rejected != 1 || sum.ByOutcome[documents.OutcomeSubmit] != 3 {
		t.Errorf("summary %+v", sum)
	}

	reasons, err := filepath.Glob(filepath.Join(cfg.Spool.QuarantineDir, "welfare-batch.ndjson.*.reasons.jsonl"))
	if err != nil || len(reasons) != 1 {
		t.Fatalf("quarantine reasons files %v (%v)", reasons, err)
	}
	text, err := os.ReadFile(reasons[0])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(text), "\n") != 1 {
		t.Fatalf("reasons %s, want one", text)
	}
	var r struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		EntryID string `json:"entry_id"`
		Field   string `json:"field"`
		Reason  string `json:"reason"`
	}
	if err := json.Unmarshal(text, &r); err != nil {
		t.Fatal(err)
	}
	const path = "/merkinta_tapaamisesta_tai_yhteydenotosta/asiakaskertomusmerkinta/tapahtuma/kuvaus"
	if filepath.Base(r.File) != "welfare-batch.ndjson" || r.Line != 3 || r.EntryID != "W-LONG" || r.Field != path || !strings.Contains(r.Reason, path) {
		t.Errorf("quarantine reason %+v", r)
	}
	for _, personal := range []string{secret, "010114A919P", "Oppilas", "Kuraattori", "Kaisa"} {
		if strings.Contains(string(text), personal) {
			t.Errorf("quarantine reason carries personal data %q: %s", personal, text)
		}
	}

	jobs, err := q.Jobs(ctx, queue.JobFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	root := cfg.Organisations[0].DocumentRoot
	entries := map[string]int{}
	shortRelationship := false
	for _, j := range jobs {
		entries[j.Delivery.EntryID]++
		shortRelationship = shortRelationship || j.Delivery.DocumentID == documents.RelationshipDocumentID(root, "ASK-SHORT", 1)
		if j.Delivery.EntryID == "W-LONG" || j.Delivery.DocumentID == documents.RelationshipDocumentID(root, "ASK-LONG", 1) {
			t.Errorf("job of the refused entry queued: %+v", j.Delivery)
		}
	}
	for _, id := range []string{"PSY-1", "W-SHORT", "PSY-2"} {
		if entries[id] == 0 {
			t.Errorf("no job for %s (jobs by entry %v)", id, entries)
		}
	}
	if !shortRelationship {
		t.Error("the ingested welfare entry's relationship document is not queued")
	}
	if seen, err := q.Seen(ctx, "W-LONG", 1); err != nil || seen {
		t.Errorf("the refused entry is in the ledger as read: %v %v", seen, err)
	}

	// The real schema accepts the same line: the stricter one made it fail.
	restore()
	dir2 := t.TempDir()
	cfg2, b2, q2 := ingestSetup(t, dir2)
	in2 := NewIngester(cfg2, b2, q2, clock.NewManual(testNow), slog.New(slog.DiscardHandler), Hooks{})
	sum2, err := in2.IngestFile(ctx, writeBatch(t, dir2, "again.ndjson", []string{bad}))
	if err != nil || sum2.Rejected != 0 || sum2.ByOutcome[documents.OutcomeSubmit] != 1 {
		t.Errorf("with the real schema: %+v %v", sum2, err)
	}
}

func dig(t *testing.T, m map[string]any, keys ...string) map[string]any {
	t.Helper()
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			t.Fatalf("schema has no %s", k)
		}
		m = next
	}
	return m
}
