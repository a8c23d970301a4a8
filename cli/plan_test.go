package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// scenario is one row of fixtures/scenarios/expected.tsv.
type scenario struct {
	file, entry, revision string
	atAug31, atNov22      string
	guardian, what        string
}

func loadScenarios(t *testing.T) []scenario {
	t.Helper()
	f, err := os.Open("../fixtures/scenarios/expected.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []scenario
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 7 {
			t.Fatalf("expected.tsv: bad row %q", sc.Text())
		}
		out = append(out, scenario{c[0], c[1], c[2], c[3], c[4], c[5], c[6]})
	}
	return out
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func planLines(t *testing.T, stdout string) map[string]PlanLine {
	t.Helper()
	got := map[string]PlanLine{}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var pl PlanLine
		if err := json.Unmarshal([]byte(l), &pl); err != nil {
			t.Fatalf("plan output line is not JSON: %q", l)
		}
		got[fmt.Sprintf("%s#%d", pl.EntryID, pl.Revision)] = pl
	}
	return got
}

// TestPlanScenarios runs `plan` over the scenario batches on the day before
// the social welfare go-live and on 2026-11-22, and checks every entry's
// decision and guardian visibility against expected.tsv.
func TestPlanScenarios(t *testing.T) {
	files := []string{"../fixtures/scenarios/psychologist.ndjson", "../fixtures/scenarios/welfare-officer.ndjson"}
	scenarios := loadScenarios(t)
	if len(scenarios) < 30 {
		t.Fatalf("only %d scenarios", len(scenarios))
	}
	for _, now := range []string{"2026-08-31T12:00:00+03:00", "2026-11-22T12:00:00+02:00"} {
		code, stdout, stderr := runCLI(t, "plan", "--now", now, files[0], files[1])
		if code != 0 {
			t.Fatalf("plan exit %d: %s", code, stderr)
		}
		got := planLines(t, stdout)
		if len(got) != len(scenarios) {
			t.Errorf("at %s: %d plan lines, want %d", now, len(got), len(scenarios))
		}
		for _, s := range scenarios {
			pl, ok := got[s.entry+"#"+s.revision]
			if !ok {
				t.Errorf("%s#%s missing from plan", s.entry, s.revision)
				continue
			}
			want := s.atNov22
			if strings.HasPrefix(now, "2026-08") {
				want = s.atAug31
			}
			if pl.Decision != want {
				t.Errorf("at %s %s#%s (%s): decision %s (%s), want %s", now, s.entry, s.revision, s.what, pl.Decision, pl.Reason, want)
			}
			if s.guardian != "-" && fmt.Sprint(pl.GuardianVisible) != s.guardian {
				t.Errorf("%s#%s (%s): guardian_visible %v, want %s", s.entry, s.revision, s.what, pl.GuardianVisible, s.guardian)
			}
			if pl.File == "" || pl.Line == 0 || pl.Reason == "" {
				t.Errorf("%s#%s: plan line lacks file, line or reason: %+v", s.entry, s.revision, pl)
			}
		}
		// Spot checks of the fields operators read.
		if pl := got["SCN-KUR-01#1"]; strings.HasPrefix(now, "2026-08") && (pl.NotBefore == nil || pl.NotBefore.Format("2006-01-02T15:04:05Z07:00") != "2026-09-01T00:00:00+03:00") {
			t.Errorf("held welfare entry not before %v, want 2026-09-01T00:00:00+03:00", pl.NotBefore)
		}
		if pl := got["SCN-PSY-09#1"]; pl.MyKanta == nil || pl.MyKanta.Display != "delayed" || pl.MyKanta.ReleaseDate != "2026-12-31" {
			t.Errorf("delayed entry mykanta %+v", pl.MyKanta)
		}
		if pl := got["SCN-PSY-01#1"]; pl.Archive != "patient" || pl.Confidentiality != "5" {
			t.Errorf("psychologist entry archive %s confidentiality %s", pl.Archive, pl.Confidentiality)
		}
		if pl := got["SCN-KUR-08#1"]; pl.Archive != "social" || pl.Confidentiality != "6" {
			t.Errorf("welfare entry archive %s confidentiality %s", pl.Archive, pl.Confidentiality)
		}
		if !strings.Contains(stderr, "entry revisions") {
			t.Errorf("no summary on stderr: %q", stderr)
		}
	}
}

func TestPlanNeverPrintsPersonalData(t *testing.T) {
	code, stdout, stderr := runCLI(t, "plan", "--now", "2026-11-22T12:00:00+02:00", "../fixtures/scenarios/psychologist.ndjson", "../fixtures/malformed/catalogue.ndjson", "../fixtures/hostile/catalogue.ndjson")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.ContainsAny(stdout+stderr, "\x1b\x00\x07") {
		t.Errorf("plan output holds a raw control character")
	}
	for _, secret := range []string{"150315A9011", "010114A", "Oppilas", "Tapaaminen", "Öhman", "150315A914E", "150315A123X", "Salaisenkorpi", "Vihamielinen", "Luottamuksellinen"} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("plan output contains personal data %q", secret)
		}
	}
}

func TestPlanExitCodes(t *testing.T) {
	if code, _, _ := runCLI(t, "plan"); code != ExitUsage {
		t.Errorf("no files: exit %d, want %d", code, ExitUsage)
	}
	if code, _, _ := runCLI(t, "plan", "--now", "yesterday", "../fixtures/scenarios/psychologist.ndjson"); code != ExitUsage {
		t.Errorf("bad --now: exit %d, want %d", code, ExitUsage)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("environment: staging\n"), 0o600)
	if code, _, stderr := runCLI(t, "plan", "--config", bad, "../fixtures/scenarios/psychologist.ndjson"); code != ExitUsage || !strings.Contains(stderr, "environment") {
		t.Errorf("bad config: exit %d (%s), want %d naming the key", code, stderr, ExitUsage)
	}
	if code, _, _ := runCLI(t, "plan", filepath.Join(t.TempDir(), "missing.ndjson")); code != ExitFailure {
		t.Errorf("missing file: exit %d, want %d", code, ExitFailure)
	}
}

func TestNowFromEnvironment(t *testing.T) {
	t.Setenv("KANTA_GATEWAY_NOW", "2026-08-31T12:00:00+03:00")
	code, stdout, stderr := runCLI(t, "plan", "../fixtures/scenarios/welfare-officer.ndjson")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got := planLines(t, stdout)["SCN-KUR-01#1"].Decision; got != "hold" {
		t.Errorf("with KANTA_GATEWAY_NOW before go-live: %s, want hold", got)
	}
}

func TestConfigCheck(t *testing.T) {
	code, stdout, stderr := runCLI(t, "config", "check")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "environment: test") || !strings.Contains(stdout, "go_live: \"2026-09-01\"") && !strings.Contains(stdout, "go_live: 2026-09-01") {
		t.Errorf("effective configuration not printed:\n%s", stdout)
	}
	p := filepath.Join(t.TempDir(), "gw.yaml")
	os.WriteFile(p, []byte("queue:\n  backend: postgres\n  postgres_dsn: postgres://gw:s3cret@db/kanta\n"), 0o600)
	code, stdout, stderr = runCLI(t, "config", "check", "--config", p)
	if code != 0 || strings.Contains(stdout, "s3cret") || !strings.Contains(stdout, "redacted") {
		t.Errorf("exit %d, secret not redacted:\n%s%s", code, stdout, stderr)
	}
	os.WriteFile(p, []byte("queue:\n  workers: 0\n"), 0o600)
	if code, _, stderr := runCLI(t, "config", "check", "--config", p); code != ExitUsage || !strings.Contains(stderr, "queue.workers") {
		t.Errorf("invalid config: exit %d, %q", code, stderr)
	}
}

// config check shows each code's effective value, set from the file and
// from the environment, and refuses an unknown code name by name.
func TestConfigCheckShowsCodes(t *testing.T) {
	code, stdout, stderr := runCLI(t, "config", "check")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		`#   health.view.psychology: "000"  (1.2.246.537.6.12.2002)  [UNCONFIRMED, in use]`,
		`#   health.document_type: "1"  (1.2.246.537.5.5001.2011)` + "\n",
		`#   health.guardian_disclosure.consent_refused: "3"`,
		`#   frame.correction_reason: "1"`,
		`#   fhir.concealed.code: "NOPAT"  [UNCONFIRMED]`,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("config check lacks %q:\n%s", want, stdout)
		}
	}
	p := filepath.Join(t.TempDir(), "gw.yaml")
	os.WriteFile(p, []byte("documents:\n  codes:\n    health.view.psychology: \"321\"\n"), 0o600)
	if code, stdout, stderr = runCLI(t, "config", "check", "--config", p); code != 0 || !strings.Contains(stdout, `#   health.view.psychology: "321"  (1.2.246.537.6.12.2002)  [set by configuration; default unconfirmed]`) {
		t.Errorf("from the file: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Setenv("KANTA_GATEWAY_DOCUMENTS_CODES_HEALTH__PROFESSION__PSYCHOLOGIST", "777")
	if code, stdout, stderr = runCLI(t, "config", "check", "--config", p); code != 0 || !strings.Contains(stdout, `#   health.profession.psychologist: "777"`) || !strings.Contains(stdout, `health.view.psychology: "321"`) {
		t.Errorf("from the environment: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Setenv("KANTA_GATEWAY_DOCUMENTS_CODES_HEALTH__VIEW__PSYCOLOGY", "1")
	if code, _, stderr := runCLI(t, "config", "check"); code != ExitUsage || !strings.Contains(stderr, `"health.view.psycology"`) {
		t.Errorf("unknown code name: exit %d, %q", code, stderr)
	}
}

// plan decides as ingestion does (gateway.Planner is ingestion's own decide
// step): a revision the input repeats is read once, and an entry whose
// document cannot be built (an organiser with no configuration) is
// rejected naming the field, not planned for submission.
func TestPlanDecidesAsIngestion(t *testing.T) {
	raw, err := os.ReadFile("../fixtures/scenarios/psychologist.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	first := strings.SplitN(string(raw), "\n", 2)[0]
	var e struct {
		ID       string `json:"entry_id"`
		Revision int    `json:"revision"`
		Service  struct {
			Organiser string `json:"organiser_oid"`
		} `json:"service"`
	}
	if err := json.Unmarshal([]byte(first), &e); err != nil || e.Service.Organiser == "" {
		t.Fatalf("fixture's first line: %v", err)
	}
	unknown := strings.Replace(strings.Replace(first, e.Service.Organiser, "1.2.246.10.2012566.19.999", 1), fmt.Sprintf("%q", e.ID), `"PLAN-ORG"`, 1)
	batch := filepath.Join(t.TempDir(), "batch.ndjson")
	os.WriteFile(batch, []byte(first+"\n"+first+"\n"+unknown+"\n"), 0o600)
	code, stdout, stderr := runCLI(t, "plan", "--now", "2026-11-22T12:00:00+02:00", batch)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got []PlanLine
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var pl PlanLine
		if err := json.Unmarshal([]byte(l), &pl); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		got = append(got, pl)
	}
	if len(got) != 3 {
		t.Fatalf("%d plan lines, want 3:\n%s", len(got), stdout)
	}
	if got[0].Decision != "submit" || got[1].Decision != "already_read" || got[1].Line != 2 {
		t.Errorf("repeated revision: %+v then %+v, want submit then already_read", got[0], got[1])
	}
	if got[2].Decision != "reject" || got[2].EntryID != "PLAN-ORG" || got[2].Field != "service.organiser_oid" || !strings.Contains(got[2].Reason, "organiser") {
		t.Errorf("unknown organiser: %+v, want reject", got[2])
	}
	if !strings.Contains(stderr, "already_read 1") {
		t.Errorf("summary does not count the repeat: %q", stderr)
	}
}
