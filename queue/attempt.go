package queue

import (
	"context"
	"strings"

	"github.com/riverqueue/river/rivertype"
)

// Attempt is what a Submitter may know about the delivery's attempts: its
// number, and how the earlier ones ended. The worker puts it in the
// context of Submit (AttemptFrom reads it), so the Submitter interface
// stays one method.
type Attempt struct {
	// Number is 1 for the first attempt; 0 when the caller is not the
	// queue (nothing is known).
	Number int
	// Earlier holds the result Code of each earlier attempt, oldest first;
	// "" where an attempt left none (its process died, it was interrupted
	// while sending): such an attempt may or may not have reached Kanta.
	Earlier []string
}

type attemptKey struct{}

// WithAttempt returns ctx carrying a.
func WithAttempt(ctx context.Context, a Attempt) context.Context {
	return context.WithValue(ctx, attemptKey{}, a)
}

// AttemptFrom returns the attempt in ctx (zero when none).
func AttemptFrom(ctx context.Context) Attempt {
	a, _ := ctx.Value(attemptKey{}).(Attempt)
	return a
}

// attemptOf reads a job's attempt from River's row: the errors River
// recorded are the worker's resultError texts ("kanta retry: CODE
// DETAIL"), one per failed attempt; a rescued or interrupted attempt
// recorded something else, or nothing.
func attemptOf(job *rivertype.JobRow) Attempt {
	a := Attempt{Number: job.Attempt}
	if job.Attempt <= 1 {
		return a
	}
	a.Earlier = make([]string, job.Attempt-1)
	for _, e := range job.Errors {
		if e.Attempt < 1 || e.Attempt >= job.Attempt {
			continue
		}
		a.Earlier[e.Attempt-1] = resultCode(e.Error)
	}
	return a
}

// resultCode is the Code in a resultError text, "" for any other text.
func resultCode(msg string) string {
	rest, ok := strings.CutPrefix(msg, "kanta ")
	if !ok {
		return ""
	}
	_, rest, ok = strings.Cut(rest, ": ")
	if !ok {
		return ""
	}
	// Codes are upper-case words (AE, HTTP_503, TRANSPORT); the text
	// after one is a detail code or the wrapped error.
	end := strings.IndexFunc(rest, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_')
	})
	if end < 0 {
		end = len(rest)
	}
	return rest[:end]
}
