package mockkanta

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
	gwsubmit "github.com/helsinki-student-welfare/kanta-gateway/submit"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// post sends body with the headers of envelope env and the given action.
func post(t testing.TB, url string, env wire.Envelope, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/archive/v1/messages", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	env.SetHeaders(req.Header, "urn:test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// The accept acknowledgement names the request's devices swapped: sender
// Kanta's device (the request's receiver), receiver the request's sender
// (kanta-domain.md 8.1, HL7 Finland V3 messaging guide: both required).
func TestAcceptAckSwapsDevices(t *testing.T) {
	_, hs := newTestServer(t, trusted())
	e := entry("ACK-1", documents.RolePsychologist, "2014-01-01")
	b := build(t, spec{entry: e, decision: decide(e, true)})
	req, err := wire.ReadHeader(b.message)
	if err != nil {
		t.Fatal(err)
	}
	ack := submit(t, hs.URL, b.message)
	if ack.Code != wire.AckCommitAccept || ack.Interaction != hl7.InteractionAck ||
		ack.SenderOID != req.ReceiverOID || ack.ReceiverOID != req.SenderOID || ack.TargetMessageID != req.MessageID {
		t.Fatalf("ack %+v for request %+v", ack, req)
	}
	// A refusal before reading (an outage) still names the devices.
	_, hs2 := newTestServer(t, Config{TrustRoots: testPKI.roots, Faults: Faults{ErrorRate: 1}})
	_, body, err := postRaw(t, http.DefaultClient, hs2.URL, b.message)
	if err != nil {
		t.Fatal(err)
	}
	ack, err = wire.ParseAck(body)
	if err != nil || ack.Code != wire.AckCommitError || ack.ReceiverOID != req.SenderOID {
		t.Fatalf("fault ack %+v, %v", ack, err)
	}
}

func TestApplicationAckFamily(t *testing.T) {
	cfg := trusted()
	cfg.AckFamily = wire.FamilyApplication
	_, hs := newTestServer(t, cfg)
	e := entry("ACK-2", documents.RolePsychologist, "2014-01-01")
	if ack := submit(t, hs.URL, build(t, spec{entry: e, decision: decide(e, true)}).message); ack.Code != wire.AckAccepted {
		t.Fatalf("ack %+v, want AA", ack)
	}
	if _, err := New(Config{AckFamily: "commit"}); err == nil {
		t.Error("unknown family accepted")
	}
}

// The mock speaks the envelope it is started with: acknowledgements in it,
// and a SOAP Fault for a request it cannot open.
func TestEnvelopes(t *testing.T) {
	e := entry("ENV-1", documents.RolePsychologist, "2014-01-01")
	msg := build(t, spec{entry: e, decision: decide(e, true)}).message
	for _, env := range []wire.Envelope{wire.EnvelopeSOAP11, wire.EnvelopeSOAP12} {
		t.Run(string(env), func(t *testing.T) {
			cfg := trusted()
			cfg.Envelope = env
			_, hs := newTestServer(t, cfg)
			resp, body := post(t, hs.URL, env, env.Wrap(msg))
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != env.ResponseContentType() {
				t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			o, err := wire.Open(body)
			if err != nil || o.Envelope != env {
				t.Fatalf("answer envelope %s, %v", o.Envelope, err)
			}
			ack, err := wire.ParseAck(body)
			if err != nil || ack.Code != wire.AckCommitAccept || ack.Detail != wire.DetailAccepted {
				t.Fatalf("ack %+v, %v", ack, err)
			}

			other := wire.EnvelopeSOAP11
			if env == other {
				other = wire.EnvelopeSOAP12
			}
			wantStatus := 500
			if env == wire.EnvelopeSOAP12 {
				wantStatus = 400 // a 1.2 Sender fault
			}
			for name, req := range map[string]struct {
				headers wire.Envelope
				body    []byte
			}{
				"bare message":        {env, msg},
				"other SOAP version":  {env, other.Wrap(msg)},
				"other content type":  {other, env.Wrap(msg)},
				"garbage in envelope": {env, []byte("<<<")},
			} {
				resp, body := post(t, hs.URL, req.headers, req.body)
				o, err := wire.Open(body)
				if resp.StatusCode != wantStatus || err != nil || o.Fault == nil || !o.Fault.BlamesSender() || o.Envelope != env {
					t.Errorf("%s: %d %+v %v\n%s", name, resp.StatusCode, o, err, body)
				}
			}
		})
	}
}

// The stored-document query is answered from the archive store.
func TestStoredQuery(t *testing.T) {
	for _, env := range []wire.Envelope{wire.EnvelopeNone, wire.EnvelopeSOAP12} {
		cfg := trusted()
		cfg.Envelope = env
		s, hs := newTestServer(t, cfg)
		e := entry("QRY-1", documents.RolePsychologist, "2014-01-01")
		b := build(t, spec{entry: e, decision: decide(e, true)})
		req, _ := wire.ReadHeader(b.message)
		ask := func() *wire.StoredAnswer {
			q := wire.BuildStoredQuery(wire.StoredQuery{MessageID: req.MessageID, Extension: "query-2", ProcessingCode: req.ProcessingCode,
				SenderOID: req.SenderOID, DocumentID: b.id})
			_, body := post(t, hs.URL, env, env.Wrap(q))
			a, err := wire.ParseStoredAnswer(body)
			if err != nil {
				t.Fatalf("%s: %v\n%s", env, err, body)
			}
			if a.TargetMessageID != req.MessageID || a.TargetExtension != "query-2" || a.ReceiverOID != req.SenderOID {
				t.Errorf("%s: answer %+v", env, a)
			}
			return a
		}
		if a := ask(); a.Stored() || a.ResponseCode != wire.QueryNotFound {
			t.Errorf("%s: before archiving: %+v", env, a)
		}
		_, body := post(t, hs.URL, env, env.Wrap(b.message))
		if ack, err := wire.ParseAck(body); err != nil || ack.Code != wire.AckCommitAccept {
			t.Fatalf("%s: archive: %+v %v", env, ack, err)
		}
		if a := ask(); !a.Stored() || a.DocumentID != b.id {
			t.Errorf("%s: after archiving: %+v", env, a)
		}
		if st := s.Stats(); st.Queries["stored"] != 1 || st.Queries["not_stored"] != 1 || st.Accepted != 1 {
			t.Errorf("%s: stats %+v", env, st)
		}
	}
}

// The acknowledgement of an archived document is lost (the mock drops the
// connection after storing it). The retry asks first, learns the document
// is stored, and settles the delivery without posting the document again.
func TestLostAckSettledByQuery(t *testing.T) {
	for _, env := range []wire.Envelope{wire.EnvelopeNone, wire.EnvelopeSOAP11} {
		t.Run(string(env), func(t *testing.T) {
			cfg := trusted()
			cfg.Envelope = env
			cfg.Faults = Faults{AckLostRate: 1}
			s, hs := newTestServer(t, cfg)
			sub, err := gwsubmit.New(gwsubmit.Config{ArchiveURL: hs.URL + "/archive/v1/messages", Timeout: 5 * time.Second,
				Envelope: env, QuickRetries: 2})
			if err != nil {
				t.Fatal(err)
			}
			e := entry("LOST-1", documents.RolePsychologist, "2014-01-01")
			b := build(t, spec{entry: e, decision: decide(e, true)})
			d := &queue.Delivery{DocumentID: b.id, SetID: b.setID, Version: 1, Route: queue.RouteCDA, Payload: b.message}

			r1 := sub.Submit(queue.WithAttempt(context.Background(), queue.Attempt{Number: 1}), d)
			if r1.Class != queue.Retry || r1.Code != gwsubmit.CodeTransport {
				t.Fatalf("attempt 1: %+v", r1)
			}
			if err := s.SetFaults(Faults{}); err != nil {
				t.Fatal(err)
			}
			r2 := sub.Submit(queue.WithAttempt(context.Background(), queue.Attempt{Number: 2, Earlier: []string{r1.Code}}), d)
			if r2.Class != queue.Duplicate || r2.Code != gwsubmit.CodeStored {
				t.Fatalf("attempt 2: %+v", r2)
			}
			st := s.Stats()
			if st.Accepted != 1 || st.Duplicates != 0 || st.Faults[faultAckLost] != 1 || st.Queries["stored"] != 1 {
				t.Errorf("stats %+v: want one document received, one lost ack, one query that found it", st)
			}
			if v, _ := getDocument(t, hs.URL, b.id); v.Submissions != 1 {
				t.Errorf("document received %d times, want 1", v.Submissions)
			}
		})
	}
}
