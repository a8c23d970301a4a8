package queue

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/riverqueue/river/rivertype"
)

func TestAttemptOfJob(t *testing.T) {
	errText := func(r Result) string { return resultError(r).Error() }
	job := &rivertype.JobRow{Attempt: 5, Errors: []rivertype.AttemptError{
		{Attempt: 1, Error: errText(Result{Class: Retry, Code: "TRANSPORT", Text: "timed out", Err: errors.New("Post: EOF")})},
		{Attempt: 2, Error: errText(Result{Class: Retry, Code: "CE", Detail: "SERVICE_UNAVAILABLE"})},
		{Attempt: 3, Error: "Stuck job rescued by JobRescuer"},
		// attempt 4 left nothing
	}}
	got := attemptOf(job)
	want := Attempt{Number: 5, Earlier: []string{"TRANSPORT", "CE", "", ""}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("attemptOf = %+v, want %+v", got, want)
	}
	if a := attemptOf(&rivertype.JobRow{Attempt: 1}); a.Number != 1 || a.Earlier != nil {
		t.Errorf("first attempt = %+v", a)
	}
	ctx := WithAttempt(context.Background(), want)
	if a := AttemptFrom(ctx); !reflect.DeepEqual(a, want) {
		t.Errorf("AttemptFrom = %+v", a)
	}
	if a := AttemptFrom(context.Background()); a.Number != 0 {
		t.Errorf("AttemptFrom without = %+v", a)
	}
}
