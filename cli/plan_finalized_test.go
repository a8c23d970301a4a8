package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlanRejectsFinalizedAtAhead: plan reads at its --now as ingestion
// reads at its clock, so an entry finalized years after it is a rejection
// naming file, line and field, not a hold for years without a word.
func TestPlanRejectsFinalizedAtAhead(t *testing.T) {
	raw, err := os.ReadFile("../fixtures/scenarios/psychologist.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(raw), "\n")
	i := strings.Index(first, `"finalized_at":`)
	if i < 0 {
		t.Fatal("no finalized_at in the first scenario line")
	}
	i += len(`"finalized_at":`)
	j := i + strings.Index(first[i:], `"`) + 1 // the value's first character
	k := j + strings.Index(first[j:], `"`)
	ahead := strings.Replace(first[:j]+"2036-11-20T10:15:00+02:00"+first[k:], "SCN-PSY-01", "SCN-PSY-AHEAD", 1)
	batch := filepath.Join(t.TempDir(), "ahead.ndjson")
	if err := os.WriteFile(batch, []byte(first+"\n"+ahead+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "plan", "--now", "2026-11-22T12:00:00+02:00", batch)
	if code != 0 {
		t.Fatalf("plan exit %d: %s", code, stderr)
	}
	var lines []PlanLine
	for _, pl := range planLines(t, stdout) {
		lines = append(lines, pl)
	}
	if len(lines) != 2 {
		t.Fatalf("%d plan lines, want 2: %s", len(lines), stdout)
	}
	var rejected *PlanLine
	for i := range lines {
		if lines[i].Line == 2 {
			rejected = &lines[i]
		} else if lines[i].Decision == "reject" {
			t.Errorf("line %d rejected: %+v", lines[i].Line, lines[i])
		}
	}
	if rejected == nil || rejected.Decision != "reject" || rejected.Field != "finalized_at" || rejected.File != batch ||
		!strings.Contains(rejected.Reason, "after the time of reading") {
		t.Fatalf("line 2: %+v", rejected)
	}
}
