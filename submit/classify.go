package submit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/queue"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// This file is the one place that decides what an answer from Kanta means
// for a delivery: done, try again later, or never.

// Classify turns one HTTP exchange into a delivery result. resp is nil when
// the request failed in transport (err set).
func Classify(route string, resp *http.Response, body []byte, err error, now time.Time) queue.Result {
	if err != nil {
		return queue.Result{Class: queue.Retry, Code: "TRANSPORT", Text: transportText(err), Err: err}
	}
	retryAfter := parseRetryAfter(resp.Header.Get("Retry-After"), now)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return queue.Result{Class: queue.Retry, Code: "HTTP_429", Text: "rate limited by Kanta", RetryAfter: retryAfter}
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return queue.Result{Class: queue.Retry, Code: "HTTP_" + strconv.Itoa(resp.StatusCode), Text: http.StatusText(resp.StatusCode), RetryAfter: retryAfter}
	}
	if route == RouteFHIR {
		return classifyFHIR(resp, body)
	}
	if resp.StatusCode != http.StatusOK {
		return queue.Result{Class: queue.Permanent, Code: "HTTP_" + strconv.Itoa(resp.StatusCode), Text: http.StatusText(resp.StatusCode) + ": " + snippet(body)}
	}
	ack, perr := wire.ParseAck(body)
	if perr != nil {
		// A garbled answer may come from a proxy in trouble; the resend is
		// byte-identical, so trying again is safe.
		return queue.Result{Class: queue.Retry, Code: "BAD_ACK", Text: "unreadable acknowledgement: " + perr.Error()}
	}
	r := queue.Result{Code: string(ack.Code), Detail: ack.Detail, Text: ack.Text, RetryAfter: retryAfter}
	switch ack.Code {
	case wire.AckAccepted:
		r.Class = queue.Accepted
		if ack.Duplicate {
			r.Class = queue.Duplicate
		}
	case wire.AckError:
		r.Class = queue.Retry
	default:
		r.Class = queue.Permanent
	}
	return r
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

func transportText(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
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
