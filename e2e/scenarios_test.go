package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

var scenarioFiles = []string{"../fixtures/scenarios/psychologist.ndjson", "../fixtures/scenarios/welfare-officer.ndjson"}

type expectation struct {
	entry          string
	revision       int
	atAug31, atNov string
}

func expectations(t *testing.T) []expectation {
	f, err := os.Open("../fixtures/scenarios/expected.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []expectation
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		rev, _ := strconv.Atoi(c[2])
		out = append(out, expectation{c[1], rev, c[3], c[4]})
	}
	return out
}

// idsOf are the document ids of the expectations picked.
func idsOf(exp []expectation, pick func(expectation) bool) map[string]bool {
	ids := map[string]bool{}
	for _, e := range exp {
		if pick(e) {
			ids[documents.DocumentID(documentRoot, e.entry, e.revision)] = true
		}
	}
	return ids
}

// scenarioRelationshipDocs are the client relationship documents the picked
// welfare officer entries of the scenarios call for, each once.
func scenarioRelationshipDocs(t *testing.T, exp []expectation, pick func(expectation) bool) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, f := range scenarioFiles {
		for _, rel := range relationshipDocuments(t, f, idsOf(exp, pick)) {
			for _, id := range rel {
				out[id] = true
			}
		}
	}
	return out
}

func sent(decision string) bool { return decision == "submit" || decision == "invalidate" }

// TestScenariosEndToEnd: the day before the social welfare go-live,
// psychologists' entries are delivered and welfare officers' held; a daemon
// whose clock passes midnight delivers the held ones without operator
// action; amendments arrive in order; the audit trail answers; no log line
// carries personal data.
func TestScenariosEndToEnd(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			m := startMock(t, t.TempDir(), "")
			s := newSite(t, m, backend, backendDSN(t, backend), "")
			for _, f := range scenarioFiles {
				s.copyToSpool(f)
			}
			exp := expectations(t)
			id := func(e expectation) string { return documents.DocumentID(documentRoot, e.entry, e.revision) }

			// 1. once, on 2026-08-31 at noon: rejections in the fixtures → exit 3.
			code, out := s.run([]string{"KANTA_GATEWAY_NOW=2026-08-31T12:00:00+03:00"}, "once", "--timeout", "2m")
			if code != 3 {
				t.Fatalf("once exit %d, want 3 (the fixtures hold rejections):\n%s\n%s", code, out, tail(s.logs.String()))
			}
			docs := m.documents()
			for _, e := range exp {
				_, stored := docs[id(e)]
				if stored != sent(e.atAug31) {
					t.Errorf("on 2026-08-31 %s#%d (%s): stored %v", e.entry, e.revision, e.atAug31, stored)
				}
			}
			held := s.jobs("scheduled")
			wantHeld := 0
			for _, e := range exp {
				if e.atAug31 == "hold" {
					wantHeld++
				}
			}
			// Each held welfare officer entry's relationship document is
			// held with it, once per relationship.
			wantHeld += len(scenarioRelationshipDocs(t, exp, func(e expectation) bool { return e.atAug31 == "hold" }))
			if len(held) != wantHeld {
				t.Errorf("%d held jobs, want %d", len(held), wantHeld)
			}

			// 2. The daemon, started 8 s before midnight: the held entries go
			// when the clock passes 2026-09-01 00:00 Helsinki time.
			_, stop := s.daemon([]string{"KANTA_GATEWAY_NOW=2026-08-31T23:59:52+03:00"})
			want := 0
			for _, e := range exp {
				if sent(e.atNov) {
					want++
				}
			}
			relDocs := scenarioRelationshipDocs(t, exp, func(e expectation) bool { return sent(e.atNov) })
			want += len(relDocs)
			docs = m.waitDocuments(want, 90*time.Second)
			if code := stop(); code != 0 {
				t.Errorf("daemon exit %d after SIGINT, want 0", code)
			}
			for _, e := range exp {
				d, stored := docs[id(e)]
				if stored != sent(e.atNov) {
					t.Errorf("after go-live %s#%d (%s): stored %v", e.entry, e.revision, e.atNov, stored)
					continue
				}
				if stored && e.atAug31 == "hold" && !d.ReceivedAt.After(time.Now().Add(-2*time.Minute)) {
					t.Errorf("%s#%d received %v: before the daemon ran", e.entry, e.revision, d.ReceivedAt)
				}
			}
			if len(docs) != want {
				t.Errorf("mock holds %d documents, want %d", len(docs), want)
			}
			for id := range relDocs {
				if d, ok := docs[id]; !ok || d.ServiceRequest != "SP1" {
					t.Errorf("client relationship document %s: stored %v, %+v", id, ok, d)
				}
			}
			// Every welfare officer entry after its relationship's document.
			for _, f := range scenarioFiles {
				for entryDoc, rel := range relationshipDocuments(t, f, idsOf(exp, func(e expectation) bool { return sent(e.atNov) })) {
					if e, r := docs[entryDoc], docs[rel[0]]; e.Sequence <= r.Sequence {
						t.Errorf("%s stored (%d) before its relationship document %s (%d)", entryDoc, e.Sequence, rel[0], r.Sequence)
					}
				}
			}

			// 3. Versions arrived in order.
			for _, entry := range []string{"SCN-PSY-14", "SCN-KUR-13"} {
				var versions []storedDoc
				for _, d := range docs {
					if d.SetID == documents.SetID(documentRoot, entry) {
						versions = append(versions, d)
					}
				}
				sort.Slice(versions, func(i, j int) bool { return versions[i].Version < versions[j].Version })
				for i := 1; i < len(versions); i++ {
					if versions[i].ReceivedAt.Before(versions[i-1].ReceivedAt) {
						t.Errorf("%s version %d received before version %d", entry, versions[i].Version, versions[i-1].Version)
					}
				}
				if len(versions) < 2 {
					t.Errorf("%s: %d versions stored", entry, len(versions))
				}
			}
			if d := docs[documents.DocumentID(documentRoot, "SCN-PSY-14", 3)]; !d.EnteredInError || d.Interaction != "RCMR_IN100016FI01" {
				t.Errorf("invalidation of SCN-PSY-14: %+v", d)
			}
			for _, d := range docs {
				if d.Archive == "social" && d.AuthorRole != "school_welfare_officer" || d.Archive == "patient" && d.AuthorRole != "psychologist" {
					t.Errorf("registers mixed: %+v", d)
				}
			}

			// 4. The audit trail answers without logs.
			code, out = s.run(nil, "audit", "--entry", "SCN-PSY-14", "--json")
			var events []map[string]any
			if code != 0 || json.Unmarshal([]byte(out), &events) != nil {
				t.Fatalf("audit exit %d: %s", code, out)
			}
			disclosed := map[string]int{}
			for _, e := range events {
				// The mock answers the accept family (CA) by default; AA
				// is the application family's "done".
				if e["archive"] == "patient" && e["register"] == "health_care_patient" && (e["ack_code"] == "CA" || e["ack_code"] == "AA") {
					disclosed[e["event"].(string)]++
				}
			}
			if disclosed["accepted"] != 2 || disclosed["invalidated"] != 1 {
				t.Errorf("audit of SCN-PSY-14: %v, want 2 accepted versions and 1 invalidation: %s", disclosed, out)
			}
			code, out = s.run(nil, "audit", "--hetu", hetuOf(t, scenarioFiles[0], "SCN-PSY-14"), "--json")
			events = nil
			if code != 0 || json.Unmarshal([]byte(out), &events) != nil || len(events) < 3 {
				t.Errorf("audit --hetu: exit %d, %d events: %s", code, len(events), out)
			}
			for _, e := range events {
				if _, has := e["hetu"]; has {
					t.Errorf("audit JSON repeats the identity code: %v", e)
				}
			}
			code, out = s.run(nil, "audit", "--entry", "SCN-KUR-03")
			if code != 0 || !strings.Contains(out, "skipped") {
				t.Errorf("audit of the skipped closed relationship: exit %d\n%s", code, out)
			}
			code, out = s.run(nil, "audit", "--entry", "SCN-PSY-10")
			if code != 0 || !strings.Contains(out, "rejected") {
				t.Errorf("audit of the rejected delayed entry: exit %d\n%s", code, out)
			}

			// 5. A re-exported batch yields nothing twice.
			s.copyToSpool(scenarioFiles[0])
			code, out = s.run(nil, "once", "--timeout", "1m")
			if !strings.Contains(out, "0 documents queued") {
				t.Errorf("re-export queued documents again (exit %d):\n%s", code, out)
			}
			if n := len(m.documents()); n != want {
				t.Errorf("after re-export the mock holds %d documents, want %d", n, want)
			}

			// 6. The logs of the whole run hold no identity code, name or text.
			scanLogs(t, s.logs.String(), personalData(t, scenarioFiles...))
		})
	}
}

// TestDaemonServesMetrics scrapes the running daemon and checks the scrape
// with promtool.
func TestDaemonServesMetrics(t *testing.T) {
	m := startMock(t, t.TempDir(), "")
	addr := freePort(t)
	s := newSite(t, m, "sqlite", "", "")
	// metrics.listen from the environment overrides the file's "".
	env := []string{"KANTA_GATEWAY_METRICS_LISTEN=" + addr}
	s.copyToSpool(scenarioFiles[0])
	_, stop := s.daemon(env)
	m.waitDocuments(15, 60*time.Second)
	var body []byte
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), `kanta_gateway_submissions_total{archive="patient",outcome="accepted",route="cda"} 15`) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed 15 accepted submissions: %v\n%s", err, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: %v %v", path, err, resp)
		} else {
			resp.Body.Close()
		}
	}
	for _, want := range []string{"kanta_gateway_entries_read_total", "kanta_gateway_queue_jobs{state=\"dead\"}", "kanta_gateway_certificate_expiry_timestamp_seconds{subject=\"1.2.246.10.2012566.19.1\",usage=\"signing\"}",
		"kanta_gateway_circuit_breaker_state", "kanta_gateway_build_info", "go_goroutines", "process_resident_memory_bytes", "kanta_gateway_signing_duration_seconds_bucket"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if code := stop(); code != 0 {
		t.Errorf("daemon exit %d", code)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is required (scripts/test.sh installs it)")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(string(body))
	if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	for _, s := range personalData(t, scenarioFiles[0]) {
		if strings.Contains(string(body), s) {
			t.Errorf("metrics carry personal data %q", s)
		}
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}

// hetuOf finds an entry's identity code in a batch (tests only).
func hetuOf(t *testing.T, file, entryID string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		var e struct {
			EntryID string `json:"entry_id"`
			Client  struct{ Hetu string }
		}
		if json.Unmarshal([]byte(l), &e) == nil && e.EntryID == entryID {
			return e.Client.Hetu
		}
	}
	t.Fatalf("%s not in %s", entryID, file)
	return ""
}
