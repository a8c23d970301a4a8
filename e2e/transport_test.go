package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/gen"
)

// TestEnvelopesAndLostAcks runs the real binaries once per transport
// envelope (the mock speaks only the one it is started with, so a
// mismatch would fail every delivery). Every acknowledgement is lost at
// first: the mock stores each document and drops the connection. The
// gateway's retries ask whether the document is stored (the query's
// answers are lost too while the fault lasts) and, once answers get
// through, settle those deliveries from the query: each document reaches
// the mock exactly once, never posted a second time.
func TestEnvelopesAndLostAcks(t *testing.T) {
	for _, tc := range []struct{ envelope, family string }{
		{"none", "accept"},
		{"soap11", "accept"},
		{"soap12", "application"},
	} {
		t.Run(tc.envelope, func(t *testing.T) {
			m := startMock(t, t.TempDir(), `{"ack_lost_rate":1}`, "--envelope", tc.envelope, "--ack-family", tc.family)
			s := newSite(t, m, "sqlite", "", "")
			batch := filepath.Join(t.TempDir(), "generated.ndjson")
			f, err := os.Create(batch)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := gen.Write(f, gen.Options{N: 12, Seed: 5}); err != nil {
				t.Fatal(err)
			}
			f.Close()
			want := dueDocuments(t, s, batch)
			addRelationshipDocuments(t, batch, want)
			if len(want) < 5 {
				t.Fatalf("only %d due documents", len(want))
			}
			s.copyToSpool(batch)
			env := []string{"KANTA_GATEWAY_NOW=" + crashNow, "KANTA_GATEWAY_KANTA_ENVELOPE=" + tc.envelope,
				"KANTA_GATEWAY_KANTA_SOAP_ACTION=urn:kanta-gateway:archive", "KANTA_GATEWAY_KANTA_BREAKER_OPEN_FOR=1s"}
			_, stop := s.daemon(env)

			// Documents arrive while every answer is lost (a later version
			// waits for its predecessor's acknowledgement, so not all of
			// them); retries ask and lose their answers too.
			var stats struct {
				Accepted   int            `json:"accepted"`
				Duplicates int            `json:"duplicates"`
				Faults     map[string]int `json:"faults"`
				Queries    map[string]int `json:"queries"`
			}
			deadline := time.Now().Add(time.Minute)
			for {
				m.get("/api/v1/stats", &stats)
				if stats.Accepted >= 3 && stats.Faults["ack_lost"] >= stats.Accepted+3 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("stats %+v: documents did not arrive with their answers lost\n%s", stats, tail(s.logs.String()))
				}
				time.Sleep(200 * time.Millisecond)
			}
			arrivedUnanswered := stats.Accepted
			m.put("/api/v1/faults", `{}`)
			deadline = time.Now().Add(90 * time.Second)
			for len(s.jobs("done")) < len(want) && time.Now().Before(deadline) {
				time.Sleep(300 * time.Millisecond)
			}
			if code := stop(); code != 0 {
				t.Errorf("daemon exit %d", code)
			}
			if done := len(s.jobs("done")); done != len(want) {
				t.Fatalf("%d of %d deliveries done\n%s", done, len(want), tail(s.logs.String()))
			}
			for id, d := range m.documents() {
				if !want[id] {
					t.Errorf("unexpected document %s", id)
				}
				if d.Submissions != 1 {
					t.Errorf("document %s posted %d times, want once", id, d.Submissions)
				}
			}
			m.get("/api/v1/stats", &stats)
			if stats.Accepted != len(want) || stats.Duplicates != 0 || stats.Queries["stored"] < arrivedUnanswered {
				b, _ := json.Marshal(stats)
				t.Errorf("mock stats %s: want %d accepted, no duplicates, the %d unanswered ones settled by a query", b, len(want), arrivedUnanswered)
			}
			if stats.Faults["soap_fault"] != 0 {
				t.Errorf("the mock refused %d requests in the wrong envelope", stats.Faults["soap_fault"])
			}
			scanLogs(t, s.logs.String(), personalData(t, batch))
		})
	}
}
