package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/adapter"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/gen"
)

// crashNow puts every generated entry past its not-before date, welfare
// officers' included.
const crashNow = "2027-01-10T12:00:00+02:00"

// faults: 10% errors (503), 5% timeouts, 5% lost acknowledgements.
const crashFaults = `{"error_rate":0.10,"error_status":503,"timeout_rate":0.05,"ack_lost_rate":0.05,"seed":7}`

// TestCrashRecovery kills the gateway with SIGKILL at random moments of a
// 2,000-entry run, several times, restarting it each time, while the mock
// injects 20% errors, timeouts and lost acknowledgements. At the end every
// due version is stored exactly once, nothing is missing, nothing is dead.
func TestCrashRecovery(t *testing.T) {
	for _, tc := range []struct {
		name     string
		backend  string
		replicas int
	}{
		{"sqlite", "sqlite", 1},
		{"postgres", "postgres", 1},
		{"postgres-two-replicas", "postgres", 2},
	} {
		t.Run(tc.name, func(t *testing.T) { crashRun(t, tc.backend, tc.replicas) })
	}
}

func crashRun(t *testing.T, backend string, replicas int) {
	m := startMock(t, t.TempDir(), crashFaults)
	s := newSite(t, m, backend, backendDSN(t, backend), "")
	batch := filepath.Join(t.TempDir(), "generated.ndjson")
	f, err := os.Create(batch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gen.Write(f, gen.Options{N: 2000, Seed: 42}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want := dueDocuments(t, s, batch)
	if len(want) < 1500 {
		t.Fatalf("only %d due documents in the generated batch", len(want))
	}
	// Welfare officer entries after go-live: each relationship's document
	// is due too, and stored before every entry of its relationship.
	relOf, rels := addRelationshipDocuments(t, batch, want)
	if rels < 20 {
		t.Fatalf("only %d client relationship documents due in the generated batch", rels)
	}
	s.copyToSpool(batch)

	env := []string{"KANTA_GATEWAY_NOW=" + crashNow}
	rng := rand.New(rand.NewPCG(1, 2))
	kills := 0
	for round := 0; round < 5; round++ {
		var procs []*exec.Cmd
		for r := 0; r < replicas; r++ {
			cmd, _ := s.daemon(env)
			procs = append(procs, cmd)
		}
		time.Sleep(time.Duration(1000+rng.IntN(3000)) * time.Millisecond)
		for _, p := range procs {
			if replicas > 1 && rng.IntN(3) == 0 {
				continue // sometimes only one replica dies
			}
			_ = p.Process.Kill() // SIGKILL: no cleanup of any kind
			kills++
		}
		for _, p := range procs {
			_ = p.Process.Kill()
			_ = p.Wait()
		}
	}
	if kills < 5 {
		t.Fatalf("only %d kills", kills)
	}
	mid := len(m.documents())

	// Let it finish: the faults stay on.
	var stops []func() int
	for r := 0; r < replicas; r++ {
		_, stop := s.daemon(env)
		stops = append(stops, stop)
	}
	docs := m.waitDocuments(len(want), 6*time.Minute)
	for _, stop := range stops {
		if code := stop(); code != 0 {
			t.Errorf("daemon exit %d after SIGINT", code)
		}
	}
	t.Logf("%s: %d kills; %d of %d documents stored before the last start; %d at the end", backend, kills, mid, len(want), len(docs))

	missing := 0
	for id := range want {
		if _, ok := docs[id]; !ok {
			missing++
		}
	}
	extra := 0
	resent := 0
	for id, d := range docs {
		if !want[id] {
			extra++
		}
		if d.Submissions > 1 {
			resent++
		}
	}
	if missing > 0 || extra > 0 {
		t.Errorf("%d due documents missing, %d unexpected documents stored", missing, extra)
	}
	// Relationship first: version 1 of each entry's relationship document
	// was stored before the entry (the mock's storage order), and it is a
	// relationship document (SP1), the entry a client document (SP17).
	early := 0
	for entryDoc, r := range relOf {
		e, okE := docs[entryDoc]
		v1, okR := docs[r[0]]
		if !okE || !okR {
			continue // counted as missing above
		}
		if v1.ServiceRequest != "SP1" || e.ServiceRequest != "SP17" {
			t.Errorf("service requests: relationship %q, entry %q", v1.ServiceRequest, e.ServiceRequest)
		}
		if v1.Sequence >= e.Sequence {
			early++
		}
	}
	if early > 0 {
		t.Errorf("%d welfare officer entries stored before their client relationship document", early)
	}
	if dead := s.jobs("dead"); len(dead) > 0 {
		b, _ := json.Marshal(dead[:min(3, len(dead))])
		t.Errorf("%d dead letters, want none: %s", len(dead), b)
	}
	var stats struct {
		Faults map[string]int `json:"faults"`
	}
	m.get("/api/v1/stats", &stats)
	if stats.Faults["error"] == 0 || stats.Faults["timeout"] == 0 || stats.Faults["ack_lost"] == 0 {
		t.Errorf("faults were not injected: %v", stats.Faults)
	}
	t.Logf("faults injected %v; %d documents received more than once (stored once)", stats.Faults, resent)
	scanLogs(t, s.logs.String(), personalData(t, batch))
}

// relationshipDocuments maps each due welfare officer entry's document id
// to the ids of the client relationship document versions it calls for
// (version 1, and 2 when the relationship has closed).
func relationshipDocuments(t *testing.T, batch string, due map[string]bool) map[string][]string {
	t.Helper()
	r, err := adapter.Open(batch, adapter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := map[string][]string{}
	for {
		it, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		e := it.Entry
		if e == nil || e.Author.Role != documents.RoleSchoolWelfareOfficer || !due[documents.DocumentID(documentRoot, e.ID, e.Revision)] {
			continue
		}
		var ids []string
		for _, rd := range documents.RelationshipDocuments(e) {
			ids = append(ids, documents.RelationshipDocumentID(documentRoot, rd.Relationship.ID, rd.Version))
		}
		if len(ids) > 0 {
			out[documents.DocumentID(documentRoot, e.ID, e.Revision)] = ids
		}
	}
}

// addRelationshipDocuments adds to due the client relationship documents
// its welfare officer entries call for, and returns them by entry document
// and how many were added.
func addRelationshipDocuments(t *testing.T, batch string, due map[string]bool) (map[string][]string, int) {
	t.Helper()
	relOf := relationshipDocuments(t, batch, due)
	added := 0
	for _, r := range relOf {
		for _, id := range r {
			if !due[id] {
				due[id] = true
				added++
			}
		}
	}
	return relOf, added
}

// dueDocuments asks `plan` (same clock) which revisions are sent, and maps
// them to their deterministic document ids.
func dueDocuments(t *testing.T, s *site, batch string) map[string]bool {
	t.Helper()
	code, out := s.run(nil, "plan", "--now", crashNow, batch)
	if code != 0 {
		t.Fatalf("plan exit %d", code)
	}
	want := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var pl struct {
			EntryID  string `json:"entry_id"`
			Revision int    `json:"revision"`
			Decision string `json:"decision"`
		}
		if err := json.Unmarshal([]byte(l), &pl); err != nil {
			t.Fatal(err)
		}
		if sent(pl.Decision) {
			want[documents.DocumentID(documentRoot, pl.EntryID, pl.Revision)] = true
		}
	}
	return want
}
