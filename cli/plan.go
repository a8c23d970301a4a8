package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/helsinki-student-welfare/kanta-gateway/adapter"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/gateway"
)

// PlanLine is one line of `plan` output: what the gateway would do with an
// entry revision. It carries no personal data.
type PlanLine struct {
	File            string       `json:"file"`
	Line            int          `json:"line"`
	EntryID         string       `json:"entry_id"`
	Revision        int          `json:"revision"`
	Decision        string       `json:"decision"`
	Archive         string       `json:"archive,omitempty"`
	Register        string       `json:"register,omitempty"`
	Role            string       `json:"role,omitempty"`
	NotBefore       *time.Time   `json:"not_before,omitempty"`
	MyKanta         *PlanMyKanta `json:"mykanta,omitempty"`
	GuardianVisible bool         `json:"guardian_visible"`
	Confidentiality string       `json:"confidentiality,omitempty"`
	Reason          string       `json:"reason"`
	ReasonClass     string       `json:"reason_class"`
	Field           string       `json:"field,omitempty"`
}

type PlanMyKanta struct {
	Display     string `json:"display"`
	ReleaseDate string `json:"release_date,omitempty"`
}

func (a *app) planCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "plan FILE...",
		Short: "Show, entry by entry, what would be sent to which archive, when, and with which flags (dry run)",
		Long: `plan reads export batches (NDJSON or gzip NDJSON) and prints one JSON object per
entry revision on stdout: its decision (submit, hold, skip, reject, invalidate, or
already_read for a revision the input repeats), archive, not-before time, MyKanta
display and release date, guardian visibility, confidentiality and reason. The
decisions are the ingestion's own (the same decide and build step, unsigned, with
the input read so far as its history). A summary goes to stderr. Nothing is sent
or stored.
Exit status: 0 when every line got a decision (rejections are decisions), 1 when a
file could not be read, 2 for usage or configuration errors.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if err := a.load(); err != nil {
				return err
			}
			return a.plan(files)
		},
	}
}

func (a *app) plan(files []string) error {
	now := a.clock.Now()
	w := bufio.NewWriterSize(a.out, 64<<10)
	enc := json.NewEncoder(w)
	sum, err := gateway.Plan(context.Background(), a.cfg, a.clock, files, func(l gateway.PlannedLine) error {
		return enc.Encode(planLine(l, a.cfg.Location()))
	})
	if err != nil {
		return usageErr(err)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	printPlanSummary(a.errOut, sum, now, a.cfg.Location())
	if sum.ReadErr != nil {
		return &exitError{ExitFailure, sum.ReadErr}
	}
	return nil
}

// planLine is a line of plan's output for l.
func planLine(l gateway.PlannedLine, loc *time.Location) PlanLine {
	switch {
	case l.AlreadyRead:
		return PlanLine{File: l.File, Line: l.Line, EntryID: l.Entry.ID, Revision: l.Entry.Revision,
			Decision: gateway.DecisionAlreadyRead, Reason: "revision already read earlier in the input: nothing is recorded", ReasonClass: gateway.DecisionAlreadyRead}
	case l.Entry == nil:
		return rejectionLine(l.Rejection)
	}
	pl := decisionLine(l.File, l.Line, l.Entry, l.Decision, loc)
	if l.Rejection != nil {
		pl.Field = l.Rejection.Field
	}
	return pl
}

func rejectionLine(rj *adapter.Rejection) PlanLine {
	return PlanLine{
		File: rj.File, Line: rj.Line, EntryID: rj.EntryID, Revision: rj.Revision,
		Decision: string(documents.OutcomeReject), Reason: rj.Reason,
		ReasonClass: string(documents.ReasonInvalidInput), Field: rj.Field,
	}
}

func decisionLine(file string, line int, e *documents.Entry, d documents.Decision, loc *time.Location) PlanLine {
	pl := PlanLine{
		File: file, Line: line, EntryID: e.ID, Revision: e.Revision,
		Decision: string(d.Outcome), Archive: string(d.Archive), Register: string(d.Register),
		Role: string(d.Role), GuardianVisible: d.GuardianVisible, Confidentiality: d.Confidentiality,
		Reason: d.Reason, ReasonClass: string(d.ReasonClass),
	}
	switch d.Outcome {
	case documents.OutcomeSubmit, documents.OutcomeHold, documents.OutcomeInvalidate:
		nb := d.NotBefore.In(loc)
		pl.NotBefore = &nb
		pl.MyKanta = &PlanMyKanta{Display: string(d.Display), ReleaseDate: d.ReleaseDate.String()}
	}
	return pl
}

// planDecisions are the decisions in the order the summary names them.
var planDecisions = []string{"submit", "hold", "invalidate", "skip", "reject", gateway.DecisionAlreadyRead}

// printPlanSummary prints the summary of a dry run (plan's and build's, on
// stderr).
func printPlanSummary(w io.Writer, s *gateway.PlanSummary, now time.Time, loc *time.Location) {
	fmt.Fprintf(w, "plan at %s: %d entry revisions:", now.Format(time.RFC3339), s.Lines)
	for _, d := range planDecisions {
		fmt.Fprintf(w, " %s %d", d, s.ByDecision[d])
	}
	fmt.Fprintln(w)
	archives := make([]string, 0, len(s.ByArchive))
	for a := range s.ByArchive {
		archives = append(archives, a)
	}
	sort.Strings(archives)
	for _, a := range archives {
		var parts []string
		for _, d := range planDecisions {
			if n := s.ByArchive[a][d]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", d, n))
			}
		}
		fmt.Fprintf(w, "  %s archive: %s\n", a, strings.Join(parts, ", "))
	}
	if !s.NextHold.IsZero() {
		fmt.Fprintf(w, "  next held release: %s\n", s.NextHold.In(loc).Format(time.RFC3339))
	}
}
