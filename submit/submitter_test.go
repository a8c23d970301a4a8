package submit

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

const documentID = "1.2.246.10.2012566.10.1.99.1"

// frame is an archive request as far as the submitter reads it: the
// transmission wrapper (the payload proper is not its business).
var frame = []byte(`<?xml version="1.0" encoding="UTF-8"?><RCMR_IN200002FI01 xmlns="urn:hl7-org:v3" ITSVersion="XML_1.0"><id root="` + requestID + `"/>` +
	`<creationTime value="20260901120000"/><versionCode code="V3-2006"/><interactionId root="2.16.840.1.113883.1.6" extension="RCMR_IN200002FI01"/>` +
	`<processingCode code="D"/><processingModeCode code="T"/><acceptAckCode code="ER"/>` +
	`<receiver typeCode="RCV"><device><id root="1.2.246.556.18007.2"/></device></receiver>` +
	`<sender typeCode="SND"><device><id root="` + senderOID + `"/></device></sender><controlActProcess/></RCMR_IN200002FI01>`)

// fakeKanta answers archive messages and stored-document queries with
// what the test scripts, and records what it was sent.
type fakeKanta struct {
	t        *testing.T
	envelope wire.Envelope
	mu       sync.Mutex
	archive  int // archive messages received
	queries  []*wire.StoredQuery
	actions  []string
	// answer writes the archive message's answer; query the query's.
	answer func(w http.ResponseWriter)
	query  func(w http.ResponseWriter, q *wire.StoredQuery)
}

func (f *fakeKanta) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	action, err := f.envelope.CheckHeaders(r.Header)
	if err != nil {
		f.t.Errorf("request headers: %v", err)
	}
	o, err := wire.Open(body)
	if err != nil || o.Envelope != f.envelope {
		f.t.Errorf("request envelope %s (want %s): %v", o.Envelope, f.envelope, err)
	}
	f.mu.Lock()
	f.actions = append(f.actions, action)
	f.mu.Unlock()
	if o.Root.Local == wire.DefaultQueryInteraction {
		q, err := wire.ParseStoredQuery(body, "")
		if err != nil {
			f.t.Errorf("query: %v", err)
			return
		}
		f.mu.Lock()
		f.queries = append(f.queries, q)
		f.mu.Unlock()
		f.query(w, q)
		return
	}
	f.mu.Lock()
	f.archive++
	f.mu.Unlock()
	f.answer(w)
}

func (f *fakeKanta) counts() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.archive, len(f.queries)
}

func answerWith(status int, body []byte) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.WriteHeader(status)
		w.Write(body)
	}
}

func storedAnswer(code string) func(http.ResponseWriter, *wire.StoredQuery) {
	return func(w http.ResponseWriter, q *wire.StoredQuery) {
		a := wire.StoredAnswer{MessageID: "ans", TargetMessageID: q.MessageID, TargetExtension: q.Extension,
			ProcessingCode: q.ProcessingCode, ReceiverOID: q.SenderOID, ResponseCode: code}
		if code == wire.QueryFound {
			a.DocumentID = q.DocumentID
		}
		w.Write(wire.BuildStoredAnswer(a))
	}
}

func newSubmitter(t *testing.T, f *fakeKanta, tweak func(*Config)) *Submitter {
	t.Helper()
	hs := httptest.NewServer(f)
	t.Cleanup(hs.Close)
	cfg := Config{ArchiveURL: hs.URL, FHIRURL: hs.URL, Timeout: 2 * time.Second, Envelope: f.envelope,
		ArchiveAction: "urn:archive", QueryAction: "urn:query", QuickRetries: 2, BreakerFailures: 100}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func delivery() *queue.Delivery {
	return &queue.Delivery{DocumentID: documentID, Route: RouteCDA, Payload: frame}
}

func attempt(n int, earlier ...string) context.Context {
	return queue.WithAttempt(context.Background(), queue.Attempt{Number: n, Earlier: earlier})
}

// After an attempt left unanswered, the submitter asks before it sends;
// what the query finds decides, and a failing query never leads to a blind
// resend.
func TestQueryBeforeResend(t *testing.T) {
	accepted := ackBody(wire.AckCommitAccept, wire.DetailAccepted, requestID)
	for _, tc := range []struct {
		name         string
		query        func(http.ResponseWriter, *wire.StoredQuery)
		class        queue.Class
		code         string
		archivePosts int
	}{
		{"stored", storedAnswer(wire.QueryFound), queue.Duplicate, CodeStored, 0},
		{"not stored", storedAnswer(wire.QueryNotFound), queue.Accepted, "CA", 1},
		{"query error AE", storedAnswer(wire.QueryAppError), queue.Retry, CodeQueryError, 0},
		{"query malformed QE", storedAnswer(wire.QueryParamsError), queue.Permanent, CodeQueryRefused, 0},
		{"query refused CR", func(w http.ResponseWriter, q *wire.StoredQuery) {
			w.Write(ackBody(wire.AckCommitReject, wire.DetailUnknownInteraction, q.MessageID))
		}, queue.Permanent, CodeQueryRefused, 0},
		{"query CE", func(w http.ResponseWriter, q *wire.StoredQuery) {
			w.Write(ackBody(wire.AckCommitError, wire.DetailServiceUnavailable, q.MessageID))
		}, queue.Retry, "CE", 0},
		{"query HTML", func(w http.ResponseWriter, q *wire.StoredQuery) {
			w.Write([]byte("<html><title>Login</title></html>"))
		}, queue.Retry, CodeUnreadable, 0},
		{"query 503", func(w http.ResponseWriter, q *wire.StoredQuery) { w.WriteHeader(503) }, queue.Retry, "HTTP_503", 0},
		{"answer about another document", func(w http.ResponseWriter, q *wire.StoredQuery) {
			other := *q
			other.DocumentID = "1.2.3"
			storedAnswer(wire.QueryFound)(w, &other)
		}, queue.Retry, CodeUnreadable, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeKanta{t: t, envelope: wire.EnvelopeNone, answer: answerWith(200, accepted), query: tc.query}
			s := newSubmitter(t, f, nil)
			r := s.Submit(attempt(2, CodeTransport), delivery())
			if r.Class != tc.class || r.Code != tc.code {
				t.Fatalf("got %s %s (%s), want %s %s", r.Class, r.Code, r.Text, tc.class, tc.code)
			}
			posts, queries := f.counts()
			if posts != tc.archivePosts || queries != 1 {
				t.Errorf("%d archive posts and %d queries, want %d and 1", posts, queries, tc.archivePosts)
			}
			q := f.queries[0]
			if q.DocumentID != documentID || q.MessageID != requestID || q.Extension != "query-2" ||
				q.SenderOID != senderOID || q.ReceiverOID != hl7.OIDKantaDevice || q.ProcessingCode != "D" {
				t.Errorf("query %+v", q)
			}
		})
	}
}

func TestNoQueryOnFirstAttemptOrAfterDefiniteAnswers(t *testing.T) {
	accepted := ackBody(wire.AckCommitAccept, wire.DetailAccepted, requestID)
	f := &fakeKanta{t: t, envelope: wire.EnvelopeNone, answer: answerWith(200, accepted), query: storedAnswer(wire.QueryFound)}
	s := newSubmitter(t, f, nil)
	for _, ctx := range []context.Context{context.Background(), attempt(1), attempt(3, "CE", "HTTP_429")} {
		if r := s.Submit(ctx, delivery()); r.Class != queue.Accepted {
			t.Fatalf("got %+v", r)
		}
	}
	if posts, queries := f.counts(); posts != 3 || queries != 0 {
		t.Errorf("%d posts, %d queries; want 3 and 0", posts, queries)
	}
}

// Unreadable answers are retried, but only kanta.max_unreadable_answers
// in a row; then the delivery is dead with the reason, not resent 25 times.
func TestUnreadableAnswersAreCapped(t *testing.T) {
	page := []byte("<html><head><title>Palomuuri: pyyntö 77 estetty</title></head></html>")
	f := &fakeKanta{t: t, envelope: wire.EnvelopeNone, answer: answerWith(200, page),
		query: func(w http.ResponseWriter, _ *wire.StoredQuery) { w.Write(page) }}
	s := newSubmitter(t, f, func(c *Config) { c.MaxUnreadableAnswers = 3 })
	r := s.Submit(attempt(1), delivery())
	if r.Class != queue.Retry || r.Code != CodeUnreadable || r.Detail != UnreadableHTML || !strings.Contains(r.Text, "«Palomuuri: pyyntö # estetty»") {
		t.Fatalf("first: %+v", r)
	}
	// The second attempt asks first (the first answer may have hidden an
	// acknowledgement); the query's answer is unreadable too.
	if r := s.Submit(attempt(2, CodeUnreadable), delivery()); r.Class != queue.Retry || r.Code != CodeUnreadable {
		t.Fatalf("second: %+v", r)
	}
	r = s.Submit(attempt(3, CodeUnreadable, CodeUnreadable), delivery())
	if r.Class != queue.Permanent || r.Code != CodeUnreadableCap || !strings.Contains(r.Text, "3 unreadable answers in a row") {
		t.Fatalf("third: %+v", r)
	}
	// A readable answer in between starts the count again (the attempt
	// still asks first: an earlier answer was unreadable).
	if r := s.Submit(attempt(4, CodeUnreadable, CodeUnreadable, "CE"), delivery()); r.Class != queue.Retry {
		t.Fatalf("after a readable answer: %+v", r)
	}
	if posts, queries := f.counts(); posts != 1 || queries != 3 {
		t.Errorf("%d archive posts and %d queries, want 1 and 3 (attempts 2-4 ask first and stop at the unreadable answer)", posts, queries)
	}
}

// The envelope is configuration: each one carries the message and the
// query with its content type and action.
func TestEnvelopes(t *testing.T) {
	for _, env := range []wire.Envelope{wire.EnvelopeNone, wire.EnvelopeSOAP11, wire.EnvelopeSOAP12} {
		t.Run(string(env), func(t *testing.T) {
			f := &fakeKanta{t: t, envelope: env, query: storedAnswer(wire.QueryNotFound),
				answer: func(w http.ResponseWriter) {
					w.Header().Set("Content-Type", env.ResponseContentType())
					w.Write(env.Wrap(ackBody(wire.AckCommitAccept, wire.DetailAccepted, requestID)))
				}}
			s := newSubmitter(t, f, nil)
			if r := s.Submit(attempt(2, CodeTransport), delivery()); r.Class != queue.Accepted || r.Code != "CA" {
				t.Fatalf("got %+v", r)
			}
			if env != wire.EnvelopeNone && (len(f.actions) != 2 || f.actions[0] != "urn:query" || f.actions[1] != "urn:archive") {
				t.Errorf("actions %q", f.actions)
			}
		})
	}
}

// A connection dropped after the request went out is not resent in place
// (the quick retries are for connections that never opened).
func TestNoQuickResendOfADroppedRequest(t *testing.T) {
	f := &fakeKanta{t: t, envelope: wire.EnvelopeNone, answer: func(w http.ResponseWriter) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}}
	s := newSubmitter(t, f, nil)
	r := s.Submit(attempt(1), delivery())
	if r.Class != queue.Retry || r.Code != CodeTransport {
		t.Fatalf("got %+v", r)
	}
	if posts, _ := f.counts(); posts != 1 {
		t.Errorf("document posted %d times in one attempt, want 1", posts)
	}
}

func TestNeverSent(t *testing.T) {
	hs := httptest.NewServer(http.NotFoundHandler())
	url := hs.URL
	hs.Close() // nothing listens: dialling fails
	_, err := http.Post(url, "text/xml", strings.NewReader("x"))
	if err == nil || !neverSent(err) {
		t.Errorf("refused connection: neverSent(%v) = false", err)
	}
	for _, e := range []error{io.ErrUnexpectedEOF, timeoutErr{}, context.DeadlineExceeded} {
		if neverSent(e) {
			t.Errorf("neverSent(%v) = true", e)
		}
	}
}
