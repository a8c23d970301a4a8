package gateway

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/config"
)

// Plan over the scenario batches on the day before the social welfare
// go-live, without the command line: every line is counted once under
// the decision expected.tsv names for that day, per archive for the lines
// an archive was decided for (psychologists' in the patient archive,
// welfare officers' in the social one), and the next held release is the
// go-live. A file that cannot be read is in ReadErr, after the lines of
// the files before it.
func TestPlanSummaryCountsTheScenarios(t *testing.T) {
	want := map[string]int{}
	perFile := map[string]map[string]int{}
	f, err := os.Open("../fixtures/scenarios/expected.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		want[c[3]]++
		if perFile[c[0]] == nil {
			perFile[c[0]] = map[string]int{}
		}
		perFile[c[0]][c[3]]++
	}
	cfg := config.Default()
	at := time.Date(2026, 8, 31, 12, 0, 0, 0, time.FixedZone("EEST", 3*3600))
	files := []string{"../fixtures/scenarios/psychologist.ndjson", "../fixtures/scenarios/welfare-officer.ndjson", filepath.Join(t.TempDir(), "missing.ndjson")}
	var seen int
	sum, err := Plan(context.Background(), &cfg, clock.NewOffset(at), files, func(PlannedLine) error { seen++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for d, n := range want {
		total += n
		if sum.ByDecision[d] != n {
			t.Errorf("%s: %d lines, want %d (summary %v)", d, sum.ByDecision[d], n, sum.ByDecision)
		}
	}
	if sum.Lines != total || seen != total {
		t.Errorf("%d lines counted, %d passed on, want %d", sum.Lines, seen, total)
	}
	for archive, file := range map[string]string{"patient": "psychologist.ndjson", "social": "welfare-officer.ndjson"} {
		for _, d := range []string{"submit", "hold", "invalidate"} {
			if got := sum.ByArchive[archive][d]; got != perFile[file][d] {
				t.Errorf("%s archive %s: %d, want %d (%v)", archive, d, got, perFile[file][d], sum.ByArchive)
			}
		}
	}
	if goLive := time.Date(2026, 9, 1, 0, 0, 0, 0, cfg.Location()); !sum.NextHold.Equal(goLive) {
		t.Errorf("next held release %v, want %v", sum.NextHold, goLive)
	}
	if sum.ReadErr == nil || !strings.Contains(sum.ReadErr.Error(), "missing.ndjson") {
		t.Errorf("ReadErr %v, want the missing file named", sum.ReadErr)
	}
}
