package submit

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/queue"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

const (
	requestID = "1.2.246.10.2012566.10.2.77.1"
	senderOID = "1.2.246.10.2012566.10.0.13.2.1"
)

func ackBody(code wire.AckCode, detail, target string) []byte {
	a := wire.NewAck(detail, "ack-1", target)
	a.Code, a.ReceiverOID = code, senderOID
	return wire.BuildAck(a)
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

var _ net.Error = timeoutErr{}

// TestClassifyEveryAnswer is the table of every kind of answer and what it
// means for the delivery.
func TestClassifyEveryAnswer(t *testing.T) {
	now := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	fault11c, _ := wire.BuildFault(wire.EnvelopeSOAP11, true, "Unable to parse message for 010100A998F")
	fault11s, _ := wire.BuildFault(wire.EnvelopeSOAP11, false, "backend down")
	fault12s, _ := wire.BuildFault(wire.EnvelopeSOAP12, true, "no such action")
	fault12r, _ := wire.BuildFault(wire.EnvelopeSOAP12, false, "backend down")
	html := []byte(`<!DOCTYPE html><html><head><title>Access denied - request 48213 blocked</title></head><body>Contact admin@example.fi</body></html>`)
	for _, tc := range []struct {
		name       string
		status     int
		header     http.Header
		body       []byte
		err        error
		class      queue.Class
		code       string
		detail     string
		retryAfter time.Duration
		text       string // substring of Text
	}{
		{name: "CA", status: 200, body: ackBody(wire.AckCommitAccept, wire.DetailAccepted, requestID), class: queue.Accepted, code: "CA", detail: wire.DetailAccepted},
		{name: "CA duplicate", status: 200, body: ackBody(wire.AckCommitAccept, wire.DetailDuplicate, requestID), class: queue.Duplicate, code: "CA"},
		{name: "CE", status: 200, body: ackBody(wire.AckCommitError, wire.DetailInternalError, requestID), class: queue.Retry, code: "CE"},
		{name: "CR", status: 200, body: ackBody(wire.AckCommitReject, wire.DetailSignatureInvalid, requestID), class: queue.Permanent, code: "CR", detail: wire.DetailSignatureInvalid},
		{name: "AA", status: 200, body: ackBody(wire.AckAccepted, wire.DetailAccepted, requestID), class: queue.Accepted, code: "AA"},
		{name: "AE", status: 200, body: ackBody(wire.AckError, wire.DetailVersionOutOfOrder, requestID), class: queue.Retry, code: "AE"},
		{name: "AR", status: 200, body: ackBody(wire.AckRejected, wire.DetailNotTestIdentity, requestID), class: queue.Permanent, code: "AR"},
		{name: "CA in SOAP 1.1", status: 200, body: wire.EnvelopeSOAP11.Wrap(ackBody(wire.AckCommitAccept, wire.DetailAccepted, requestID)), class: queue.Accepted, code: "CA"},
		{name: "CR in SOAP 1.2", status: 200, body: wire.EnvelopeSOAP12.Wrap(ackBody(wire.AckCommitReject, wire.DetailProfileViolation, requestID)), class: queue.Permanent, code: "CR"},
		{name: "AE in SOAP 1.2 on 503", status: 503, header: http.Header{"Retry-After": {"9"}}, body: wire.EnvelopeSOAP12.Wrap(ackBody(wire.AckError, wire.DetailServiceUnavailable, requestID)), class: queue.Retry, code: "AE", retryAfter: 9 * time.Second},
		{name: "ack of another message", status: 200, body: ackBody(wire.AckCommitAccept, wire.DetailAccepted, "other"), class: queue.Retry, code: CodeUnreadable, detail: UnreadableOtherMessage},
		{name: "HTML page 200", status: 200, body: html, class: queue.Retry, code: CodeUnreadable, detail: UnreadableHTML, text: "«Access denied - request # blocked»"},
		{name: "HTML page 403", status: 403, body: html, class: queue.Retry, code: CodeUnreadable, detail: UnreadableHTML, text: "HTTP 403"},
		{name: "HTML page 502", status: 502, body: html, class: queue.Retry, code: "HTTP_502", text: "Bad Gateway: Access denied"},
		{name: "empty body", status: 200, body: nil, class: queue.Retry, code: CodeUnreadable, detail: UnreadableEmpty},
		{name: "empty body 503", status: 503, body: []byte("  "), class: queue.Retry, code: "HTTP_503"},
		{name: "SOAP 1.1 Client fault", status: 500, body: fault11c, class: queue.Retry, code: CodeUnreadable, detail: UnreadableSOAPFault, text: "soap:Client: Unable to parse message for [id]"},
		{name: "SOAP 1.1 Server fault", status: 500, body: fault11s, class: queue.Retry, code: CodeSOAPFault, text: "backend down"},
		{name: "SOAP 1.2 Sender fault", status: 400, body: fault12s, class: queue.Retry, code: CodeUnreadable, detail: UnreadableSOAPFault},
		{name: "SOAP 1.2 Receiver fault", status: 500, body: fault12r, class: queue.Retry, code: CodeSOAPFault},
		{name: "garbage", status: 200, body: []byte("\x00\x17 ok 12345"), class: queue.Retry, code: CodeUnreadable, detail: UnreadableNotXML, text: "«ok #»"},
		{name: "other XML", status: 200, body: []byte(`<status xmlns="urn:x">up</status>`), class: queue.Retry, code: CodeUnreadable, detail: UnreadableNotAck, text: "status"},
		{name: "429 Retry-After seconds", status: 429, header: http.Header{"Retry-After": {"7"}}, body: html, class: queue.Retry, code: "HTTP_429", retryAfter: 7 * time.Second},
		{name: "503 Retry-After date", status: 503, header: http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, class: queue.Retry, code: "HTTP_503", retryAfter: 90 * time.Second},
		{name: "transport timeout", err: timeoutErr{}, class: queue.Retry, code: CodeTransport, text: "timed out"},
		{name: "deadline", err: context.DeadlineExceeded, class: queue.Retry, code: CodeTransport, text: "timed out"},
		{name: "connection reset", err: errors.New("read: connection reset by peer"), class: queue.Retry, code: CodeTransport},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var resp *http.Response
			if tc.err == nil {
				resp = &http.Response{StatusCode: tc.status, Header: tc.header}
				if resp.Header == nil {
					resp.Header = http.Header{}
				}
			}
			r := classify(RouteCDA, resp, tc.body, tc.err, now, requestID)
			if r.Class != tc.class || r.Code != tc.code {
				t.Fatalf("got %s %s (%s: %s), want %s %s", r.Class, r.Code, r.Detail, r.Text, tc.class, tc.code)
			}
			if tc.detail != "" && r.Detail != tc.detail {
				t.Errorf("detail %q, want %q", r.Detail, tc.detail)
			}
			if r.RetryAfter != tc.retryAfter {
				t.Errorf("RetryAfter %v, want %v", r.RetryAfter, tc.retryAfter)
			}
			if !strings.Contains(r.Text, tc.text) {
				t.Errorf("text %q lacks %q", r.Text, tc.text)
			}
			for _, leak := range []string{"010100A998F", "48213", "admin@example.fi"} {
				if strings.Contains(r.Text, leak) {
					t.Errorf("text %q leaks %q", r.Text, leak)
				}
			}
		})
	}
}

func TestExcerptIsShortAndMasked(t *testing.T) {
	long := "<html><body><p>" + strings.Repeat("word ", 100) + "</p></body></html>"
	if e := excerpt([]byte(long)); len([]rune(e)) > excerptMax || !strings.HasSuffix(e, "…") {
		t.Errorf("excerpt of a long page: %q (%d runes)", e, len([]rune(e)))
	}
	for in, want := range map[string]string{
		"<title>Virhe 131052-308T</title>":                         "Virhe [id]",
		"<title> Maintenance &amp; upgrade\n until 14:00 </title>": "Maintenance & upgrade until #:#",
		"<html><script>var x=1</script><h1>Blocked</h1></html>":    "Blocked",
		"plain text 0401234567 from x@y.fi":                        "plain text # from [email]",
	} {
		if got := excerpt([]byte(in)); got != want {
			t.Errorf("excerpt(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNeedsQuery(t *testing.T) {
	for _, tc := range []struct {
		a    queue.Attempt
		want bool
	}{
		{queue.Attempt{}, false},
		{queue.Attempt{Number: 1}, false},
		{queue.Attempt{Number: 2, Earlier: []string{CodeTransport}}, true},
		{queue.Attempt{Number: 2, Earlier: []string{CodeUnreadable}}, true},
		{queue.Attempt{Number: 2, Earlier: []string{"HTTP_504"}}, true},
		{queue.Attempt{Number: 2, Earlier: []string{""}}, true}, // died mid-attempt
		{queue.Attempt{Number: 3}, true},                        // nothing known
		{queue.Attempt{Number: 3, Earlier: []string{"CE", "HTTP_429"}}, false},
		{queue.Attempt{Number: 3, Earlier: []string{"AE", CodeCircuit}}, false},
		{queue.Attempt{Number: 4, Earlier: []string{CodeTransport, "AE", "AE"}}, true},
	} {
		if got := NeedsQuery(tc.a); got != tc.want {
			t.Errorf("NeedsQuery(%+v) = %v, want %v", tc.a, got, tc.want)
		}
	}
}
