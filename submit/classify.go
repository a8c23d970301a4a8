package submit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/queue"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// This file is the one place that decides what an answer from Kanta means
// for a delivery: done, try again later, or never.

// Result codes of answers that are not acknowledgements (an
// acknowledgement's code is its typeCode: CA, CE, CR, AA, AE, AR).
const (
	CodeTransport = "TRANSPORT" // no answer: connection failed, dropped or timed out
	CodeCancelled = "CANCELLED" // stopped before sending
	CodeCircuit   = "CIRCUIT_OPEN"
	// CodeRateLimited: our own rate limiter held the request back past
	// the attempt's deadline; nothing was sent (Result.Refused).
	CodeRateLimited = "RATE_LIMITED"
	CodeBadPayload  = "BAD_PAYLOAD"
	// CodeUnreadable: an answer came but says nothing we can read (Detail
	// says what it was). Transient, capped by kanta.max_unreadable_answers.
	CodeUnreadable = "UNREADABLE_ANSWER"
	// CodeUnreadableCap: the cap was reached; the delivery is dead.
	CodeUnreadableCap = "UNREADABLE_ANSWERS"
	// CodeSOAPFault: a SOAP Fault blaming the server (1.1 Server, 1.2
	// Receiver): transient like a 5xx.
	CodeSOAPFault = "SOAP_FAULT"
	// CodeStored: the stored-document query found the document; the
	// delivery is done without sending it again.
	CodeStored = "STORED"
	// CodeQueryError: the query's answer was an application error (AE).
	CodeQueryError = "QUERY_ERROR"
	// CodeQueryRefused: Kanta refused the query itself (CR/AR or QE):
	// permanent, the configured query interaction is likely wrong.
	CodeQueryRefused = "QUERY_REFUSED"
)

// Details of CodeUnreadable: what the answer was.
const (
	UnreadableEmpty        = "EMPTY_BODY"
	UnreadableHTML         = "HTML_PAGE"
	UnreadableSOAPFault    = "SOAP_FAULT"
	UnreadableNotXML       = "NOT_XML"
	UnreadableNotAck       = "NOT_AN_ACK"
	UnreadableOtherMessage = "OTHER_MESSAGE" // acknowledges another message, or answers about another document
)

// definitive are the codes that say an attempt did not store the
// document: after only such attempts a resend needs no query first.
// Everything else (a transport error, an unreadable answer, a proxy's
// 502/504, an attempt that left no code because its process died) may have
// stored it.
var definitive = map[string]bool{
	string(wire.AckError): true, string(wire.AckCommitError): true,
	string(wire.AckRejected): true, string(wire.AckCommitReject): true,
	"HTTP_429": true, CodeCircuit: true, CodeRateLimited: true, CodeQueryRefused: true,
}

// NeedsQuery reports whether an attempt must ask Kanta whether the document
// is already stored before sending it: some earlier attempt may have
// reached Kanta without its answer reaching us.
func NeedsQuery(a queue.Attempt) bool {
	if a.Number <= 1 {
		return false
	}
	if len(a.Earlier) < a.Number-1 {
		return true // attempts we know nothing about
	}
	for _, c := range a.Earlier {
		if !definitive[c] {
			return true
		}
	}
	return false
}

// trailingUnreadable counts the unreadable answers that ended the latest
// attempts, in a row.
func trailingUnreadable(a queue.Attempt) int {
	n := 0
	for i := len(a.Earlier) - 1; i >= 0 && a.Earlier[i] == CodeUnreadable; i-- {
		n++
	}
	return n
}

// Classify turns one HTTP exchange into a delivery result. resp is nil when
// the request failed in transport (err set).
func Classify(route string, resp *http.Response, body []byte, err error, now time.Time) queue.Result {
	return classify(route, resp, body, err, now, "")
}

// classify is Classify; requestID, when set, must be the acknowledged
// message if the acknowledgement names one.
func classify(route string, resp *http.Response, body []byte, err error, now time.Time, requestID string) queue.Result {
	if err != nil {
		return transportResult(err)
	}
	retryAfter := parseRetryAfter(resp.Header.Get("Retry-After"), now)
	if resp.StatusCode == http.StatusTooManyRequests {
		return queue.Result{Class: queue.Retry, Code: "HTTP_429", Text: "rate limited by Kanta", RetryAfter: retryAfter}
	}
	if route == RouteFHIR {
		if resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500 {
			return queue.Result{Class: queue.Retry, Code: "HTTP_" + strconv.Itoa(resp.StatusCode), Text: http.StatusText(resp.StatusCode), RetryAfter: retryAfter}
		}
		return classifyFHIR(resp, body)
	}
	ack, perr := wire.ParseAck(body)
	if perr != nil {
		return notAnAck(resp.StatusCode, body, perr, retryAfter, "")
	}
	if requestID != "" && ack.TargetMessageID != "" && ack.TargetMessageID != requestID {
		return queue.Result{Class: queue.Retry, Code: CodeUnreadable, Detail: UnreadableOtherMessage, RetryAfter: retryAfter,
			Text: fmt.Sprintf("HTTP %d: acknowledgement %s of another message", resp.StatusCode, ack.Code)}
	}
	return fromAck(ack, retryAfter)
}

// fromAck classifies a readable acknowledgement of either family.
func fromAck(ack *wire.Ack, retryAfter time.Duration) queue.Result {
	r := queue.Result{Code: string(ack.Code), Detail: ack.Detail, Text: mask(ack.Text, 200), RetryAfter: retryAfter}
	switch ack.Code.Outcome() {
	case wire.OutcomeDone:
		r.Class = queue.Accepted
		if ack.Duplicate {
			r.Class = queue.Duplicate
		}
	case wire.OutcomeRetry:
		r.Class = queue.Retry
	default:
		r.Class = queue.Permanent
	}
	return r
}

// notAnAck classifies an answer that is no acknowledgement (perr says
// why). A 408/5xx status or a SOAP Fault blaming the server is an outage:
// transient like any. Anything else (an HTML page behind a 200 or a 403, an
// empty body, a SOAP Fault blaming us, garbage) is unreadable: transient
// but capped, and described by an excerpt free of personal data. what
// prefixes the text ("stored-document query").
func notAnAck(status int, body []byte, perr error, retryAfter time.Duration, what string) queue.Result {
	prefix := fmt.Sprintf("HTTP %d", status)
	if what != "" {
		prefix = what + ": " + prefix
	}
	var fault *wire.Fault
	isFault := errors.As(perr, &fault)
	switch {
	case isFault && !fault.BlamesSender():
		return queue.Result{Class: queue.Retry, Code: CodeSOAPFault, RetryAfter: retryAfter,
			Text: fmt.Sprintf("%s: SOAP fault %s: %s", prefix, mask(fault.Code, 40), mask(fault.Reason, excerptMax))}
	case !isFault && (status == http.StatusRequestTimeout || status >= 500):
		r := queue.Result{Class: queue.Retry, Code: "HTTP_" + strconv.Itoa(status), RetryAfter: retryAfter,
			Text: strings.TrimSpace(prefix + " " + http.StatusText(status))}
		if e := excerpt(body); e != "" {
			r.Text += ": " + e
		}
		return r
	}
	r := queue.Result{Class: queue.Retry, Code: CodeUnreadable, RetryAfter: retryAfter}
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		r.Detail, r.Text = UnreadableEmpty, prefix+" with an empty body"
	case isFault:
		r.Detail = UnreadableSOAPFault
		r.Text = fmt.Sprintf("%s: SOAP fault %s: %s", prefix, mask(fault.Code, 40), mask(fault.Reason, excerptMax))
	case looksHTML(trimmed):
		r.Detail, r.Text = UnreadableHTML, fmt.Sprintf("%s: HTML page «%s»", prefix, excerpt(trimmed))
	default:
		if o, err := wire.Open(trimmed); err == nil {
			r.Detail = UnreadableNotAck
			r.Text = fmt.Sprintf("%s: XML message %s, not an acknowledgement", prefix, mask(o.Root.Local, 60))
		} else {
			r.Detail, r.Text = UnreadableNotXML, fmt.Sprintf("%s: not XML: «%s»", prefix, excerpt(trimmed))
		}
	}
	return r
}

// queryOutcome is what the stored-document query found.
type queryOutcome int

const (
	queryFailed    queryOutcome = iota // no usable answer: the result says why
	queryStored                        // stored: the result is the delivery's
	queryNotStored                     // not stored: send it
)

// classifyQuery reads the answer to the stored-document query for
// documentID sent as queryID/queryExt.
func classifyQuery(resp *http.Response, body []byte, err error, now time.Time, documentID, queryID, queryExt string) (queue.Result, queryOutcome) {
	const what = "stored-document query"
	if err != nil {
		r := transportResult(err)
		r.Text = what + ": " + r.Text
		return r, queryFailed
	}
	retryAfter := parseRetryAfter(resp.Header.Get("Retry-After"), now)
	if resp.StatusCode == http.StatusTooManyRequests {
		return queue.Result{Class: queue.Retry, Code: "HTTP_429", Text: what + ": rate limited by Kanta", RetryAfter: retryAfter}, queryFailed
	}
	ans, qerr := wire.ParseStoredAnswer(body)
	if qerr == nil {
		if ans.TargetMessageID != queryID || (ans.TargetExtension != "" && ans.TargetExtension != queryExt) ||
			(ans.Stored() && ans.DocumentID != documentID) {
			return queue.Result{Class: queue.Retry, Code: CodeUnreadable, Detail: UnreadableOtherMessage, RetryAfter: retryAfter,
				Text: what + ": the answer is about another query or document"}, queryFailed
		}
		switch ans.ResponseCode {
		case wire.QueryFound:
			return queue.Result{Class: queue.Duplicate, Code: CodeStored, Detail: ans.ResponseCode,
				Text: "Kanta already holds the document (asked after an attempt left unanswered); not sent again"}, queryStored
		case wire.QueryNotFound:
			return queue.Result{}, queryNotStored
		case wire.QueryParamsError:
			return queue.Result{Class: queue.Permanent, Code: CodeQueryRefused, Detail: ans.ResponseCode,
				Text: what + " refused as malformed (queryResponseCode QE); check kanta.query_interaction"}, queryFailed
		default:
			return queue.Result{Class: queue.Retry, Code: CodeQueryError, Detail: ans.ResponseCode, RetryAfter: retryAfter,
				Text: what + ": application error (queryResponseCode AE)"}, queryFailed
		}
	}
	ack, aerr := wire.ParseAck(body)
	if aerr != nil {
		return notAnAck(resp.StatusCode, body, aerr, retryAfter, what), queryFailed
	}
	if ack.TargetMessageID != "" && ack.TargetMessageID != queryID {
		return queue.Result{Class: queue.Retry, Code: CodeUnreadable, Detail: UnreadableOtherMessage, RetryAfter: retryAfter,
			Text: what + ": acknowledgement of another message"}, queryFailed
	}
	switch ack.Code.Outcome() {
	case wire.OutcomeRetry:
		r := fromAck(ack, retryAfter)
		r.Text = what + ": " + r.Text
		return r, queryFailed
	case wire.OutcomePermanent:
		return queue.Result{Class: queue.Permanent, Code: CodeQueryRefused, Detail: ack.Detail,
			Text: fmt.Sprintf("Kanta refused the %s (%s %s); check kanta.query_interaction: %s", what, ack.Code, mask(ack.Detail, 40), mask(ack.Text, 120))}, queryFailed
	}
	// An acceptance without an answer: an asynchronous query, which this
	// gateway cannot wait for.
	return queue.Result{Class: queue.Retry, Code: CodeUnreadable, Detail: UnreadableNotAck, RetryAfter: retryAfter,
		Text: fmt.Sprintf("%s: HTTP %d: acknowledgement %s without an answer", what, resp.StatusCode, ack.Code)}, queryFailed
}

// classifyFHIR reads the FHIR route's statuses: 201 created, 200 the same
// Bundle again, other 4xx permanent.
func classifyFHIR(resp *http.Response, body []byte) queue.Result {
	code := "HTTP_" + strconv.Itoa(resp.StatusCode)
	switch resp.StatusCode {
	case http.StatusCreated:
		return queue.Result{Class: queue.Accepted, Code: code, Text: "created"}
	case http.StatusOK:
		return queue.Result{Class: queue.Duplicate, Code: code, Text: "already stored"}
	}
	return queue.Result{Class: queue.Permanent, Code: code, Text: snippet(body)}
}

// parseRetryAfter reads delta-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func transportResult(err error) queue.Result {
	return queue.Result{Class: queue.Retry, Code: CodeTransport, Text: transportText(err), Err: err}
}

func transportText(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timed out waiting for Kanta"
	default:
		return fmt.Sprintf("transport error: %v", err)
	}
}

func snippet(b []byte) string {
	const max = 300
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
