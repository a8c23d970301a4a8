package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/helsinki-student-welfare/kanta-gateway/gateway"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// withQueue opens the configured queue for inspection only.
func (a *app) withQueue(fn func(ctx context.Context, q queue.Operator) error) error {
	if err := a.load(); err != nil {
		return err
	}
	// Retries and cancels are audited with who ran the command.
	ctx := queue.WithActor(context.Background(), cliActor())
	svc, err := gateway.Open(ctx, a.cfg, a.clock, a.logger, gateway.ModeInspect)
	if err != nil {
		return usageErr(err)
	}
	defer svc.Close(ctx)
	return fn(ctx, svc.Queue)
}

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (a *app) queueCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{Use: "queue", Short: "Inspect and act on delivery jobs (dead letters above all) without SQL"}
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON for scripts")

	var state, entry string
	var limit int
	ls := &cobra.Command{
		Use:   "ls [--state S]",
		Short: "List jobs: " + strings.Join(queue.States, ", "),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if state != "" && !validState(state) {
				return usageErr(fmt.Errorf("--state %q: one of %s", state, strings.Join(queue.States, ", ")))
			}
			return a.withQueue(func(ctx context.Context, q queue.Operator) error {
				jobs, err := q.Jobs(ctx, queue.JobFilter{State: state, EntryID: entry, Limit: limit})
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(jobsJSON(jobs))
				}
				tw := tabwriter.NewWriter(a.out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATE\tENTRY\tVERSION\tARCHIVE\tROUTE\tATTEMPT\tSCHEDULED\tLAST ANSWER / WAITING FOR")
				for _, j := range jobs {
					fmt.Fprintf(tw, "%d\t%s\t%s#%d\t%d\t%s\t%s\t%d/%d\t%s\t%s\n", j.ID, j.State, j.Delivery.EntryID, j.Delivery.Revision,
						j.Delivery.Version, j.Delivery.Archive, j.Delivery.Route, j.Attempt, j.MaxAttempts,
						j.ScheduledAt.In(a.cfg.Location()).Format("2006-01-02 15:04"), lastAnswer(j))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(a.out, "%d jobs\n", len(jobs))
				return nil
			})
		},
	}
	ls.Flags().StringVar(&state, "state", "", "only jobs in this state")
	ls.Flags().StringVar(&entry, "entry", "", "only jobs of this entry id")
	ls.Flags().IntVar(&limit, "limit", 100, "at most this many jobs")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one job: its document, attempts, errors and Kanta's answer",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := jobID(args[0])
			if err != nil {
				return err
			}
			return a.withQueue(func(ctx context.Context, q queue.Operator) error {
				j, err := q.Job(ctx, id)
				if err != nil {
					return notFound(err, id)
				}
				if asJSON {
					return a.printJSON(jobJSON(*j))
				}
				loc := a.cfg.Location()
				fmt.Fprintf(a.out, "job %d: %s\n", j.ID, j.State)
				fmt.Fprintf(a.out, "  entry          %s revision %d\n", j.Delivery.EntryID, j.Delivery.Revision)
				fmt.Fprintf(a.out, "  document       %s (set %s, version %d)\n", j.Delivery.DocumentID, j.Delivery.SetID, j.Delivery.Version)
				fmt.Fprintf(a.out, "  archive        %s, register %s, author role %s\n", j.Delivery.Archive, j.Delivery.Register, j.Delivery.Role)
				fmt.Fprintf(a.out, "  route          %s (%s), %d bytes\n", j.Delivery.Route, j.Delivery.Interaction, j.PayloadBytes)
				if j.Delivery.After != "" {
					fmt.Fprintf(a.out, "  after          %s (set %s)\n", j.Delivery.AfterWhat, j.Delivery.After)
				}
				fmt.Fprintf(a.out, "  attempts       %d of %d\n", j.Attempt, j.MaxAttempts)
				fmt.Fprintf(a.out, "  created        %s\n  scheduled      %s\n", fmtTime(j.CreatedAt, loc), fmtTime(j.ScheduledAt, loc))
				if !j.FinalizedAt.IsZero() {
					fmt.Fprintf(a.out, "  finished       %s\n", fmtTime(j.FinalizedAt, loc))
				}
				fmt.Fprintf(a.out, "  delivery       %s\n", j.DeliveryState)
				if j.AckCode != "" {
					fmt.Fprintf(a.out, "  Kanta answered %s %s: %s\n", j.AckCode, j.AckDetail, j.AckText)
				}
				if j.WaitReason != "" {
					fmt.Fprintf(a.out, "  waiting        %s\n", j.WaitReason)
				}
				for _, e := range j.Errors {
					fmt.Fprintf(a.out, "  attempt %d at %s: %s\n", e.Attempt, fmtTime(e.At, loc), e.Error)
				}
				return nil
			})
		},
	}

	var allDead bool
	retry := &cobra.Command{
		Use:   "retry ID | --all-dead",
		Short: "Send a dead (or cancelled) job again; the document bytes are unchanged",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if allDead == (len(args) == 1) {
				return usageErr(errors.New("give a job ID or --all-dead"))
			}
			return a.withQueue(func(ctx context.Context, q queue.Operator) error {
				if allDead {
					n, err := q.RetryAllDead(ctx)
					if err != nil {
						return err
					}
					return a.report(asJSON, map[string]any{"retried": n}, fmt.Sprintf("%d dead jobs made available again", n))
				}
				id, err := jobID(args[0])
				if err != nil {
					return err
				}
				if err := q.Retry(ctx, id); err != nil {
					return notFound(err, id)
				}
				return a.report(asJSON, map[string]any{"retried": id}, fmt.Sprintf("job %d made available again", id))
			})
		},
	}
	retry.Flags().BoolVar(&allDead, "all-dead", false, "retry every dead job")

	cancel := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a job that has not been delivered",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := jobID(args[0])
			if err != nil {
				return err
			}
			return a.withQueue(func(ctx context.Context, q queue.Operator) error {
				if err := q.Cancel(ctx, id); err != nil {
					return notFound(err, id)
				}
				return a.report(asJSON, map[string]any{"cancelled": id}, fmt.Sprintf("job %d cancelled", id))
			})
		},
	}
	cmd.AddCommand(ls, show, retry, cancel)
	return cmd
}

func (a *app) report(asJSON bool, v any, text string) error {
	if asJSON {
		return a.printJSON(v)
	}
	fmt.Fprintln(a.out, text)
	return nil
}

// cliActor names the person running a queue command in the audit trail.
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli:uid " + strconv.Itoa(os.Getuid())
}

func validState(s string) bool {
	for _, st := range queue.States {
		if st == s {
			return true
		}
	}
	return false
}

func jobID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErr(fmt.Errorf("job ID %q: not a positive number", s))
	}
	return id, nil
}

func notFound(err error, id int64) error {
	if errors.Is(err, queue.ErrNotFound) {
		return &exitError{ExitFailure, fmt.Errorf("job %d not found", id)}
	}
	return err
}

func lastAnswer(j queue.JobInfo) string {
	switch {
	case j.WaitReason != "":
		return j.WaitReason
	case j.AckCode != "":
		return strings.TrimSpace(j.AckCode + " " + j.AckDetail + " " + j.AckText)
	case len(j.Errors) > 0:
		return j.Errors[len(j.Errors)-1].Error
	}
	return ""
}

func fmtTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(loc).Format(time.RFC3339)
}

// jobView is the JSON form of a job (no payload: it carries personal data).
type jobView struct {
	ID            int64                `json:"id"`
	State         string               `json:"state"`
	EntryID       string               `json:"entry_id"`
	Revision      int                  `json:"revision"`
	DocumentID    string               `json:"document_id"`
	SetID         string               `json:"set_id"`
	Version       int                  `json:"version"`
	Archive       string               `json:"archive"`
	Register      string               `json:"register"`
	Role          string               `json:"role"`
	Route         string               `json:"route"`
	Interaction   string               `json:"interaction"`
	PayloadBytes  int                  `json:"payload_bytes"`
	Attempt       int                  `json:"attempt"`
	MaxAttempts   int                  `json:"max_attempts"`
	CreatedAt     time.Time            `json:"created_at"`
	ScheduledAt   time.Time            `json:"scheduled_at"`
	AttemptedAt   *time.Time           `json:"attempted_at,omitempty"`
	FinalizedAt   *time.Time           `json:"finalized_at,omitempty"`
	DeliveryState string               `json:"delivery_state"`
	AckCode       string               `json:"ack_code,omitempty"`
	AckDetail     string               `json:"ack_detail,omitempty"`
	AckText       string               `json:"ack_text,omitempty"`
	WaitReason    string               `json:"wait_reason,omitempty"`
	After         string               `json:"after,omitempty"` // prerequisite document set
	Errors        []queue.AttemptError `json:"errors,omitempty"`
}

func jobJSON(j queue.JobInfo) jobView {
	v := jobView{
		ID: j.ID, State: j.State, EntryID: j.Delivery.EntryID, Revision: j.Delivery.Revision,
		DocumentID: j.Delivery.DocumentID, SetID: j.Delivery.SetID, Version: j.Delivery.Version,
		Archive: string(j.Delivery.Archive), Register: string(j.Delivery.Register), Role: string(j.Delivery.Role),
		Route: j.Delivery.Route, Interaction: j.Delivery.Interaction, PayloadBytes: j.PayloadBytes,
		Attempt: j.Attempt, MaxAttempts: j.MaxAttempts, CreatedAt: j.CreatedAt, ScheduledAt: j.ScheduledAt,
		DeliveryState: j.DeliveryState, AckCode: j.AckCode, AckDetail: j.AckDetail, AckText: j.AckText,
		WaitReason: j.WaitReason, After: j.Delivery.After, Errors: j.Errors,
	}
	if !j.AttemptedAt.IsZero() {
		t := j.AttemptedAt
		v.AttemptedAt = &t
	}
	if !j.FinalizedAt.IsZero() {
		t := j.FinalizedAt
		v.FinalizedAt = &t
	}
	return v
}

func jobsJSON(jobs []queue.JobInfo) []jobView {
	out := make([]jobView, len(jobs))
	for i, j := range jobs {
		out[i] = jobJSON(j)
	}
	return out
}

func (a *app) auditCommand() *cobra.Command {
	var hetu, entry string
	var asJSON bool
	var limit int
	cmd := &cobra.Command{
		Use:   "audit --hetu CODE | --entry ID [--json]",
		Short: "What was disclosed to Kanta about a client (or of an entry), when, and under which register",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (hetu == "") == (entry == "") {
				return usageErr(errors.New("give exactly one of --hetu or --entry"))
			}
			return a.withQueue(func(ctx context.Context, q queue.Operator) error {
				evs, err := q.Audit(ctx, queue.AuditQuery{Hetu: hetu, EntryID: entry, Limit: limit})
				if err != nil {
					return err
				}
				if asJSON {
					type ev struct {
						Time       time.Time `json:"time"`
						Event      string    `json:"event"`
						EntryID    string    `json:"entry_id"`
						Revision   int       `json:"revision"`
						DocumentID string    `json:"document_id,omitempty"`
						Version    int       `json:"version,omitempty"`
						Archive    string    `json:"archive,omitempty"`
						Register   string    `json:"register,omitempty"`
						AuthorRole string    `json:"author_role,omitempty"`
						AckCode    string    `json:"ack_code,omitempty"`
						Actor      string    `json:"actor,omitempty"` // who retried or cancelled
					}
					out := make([]ev, len(evs))
					for i, e := range evs {
						out[i] = ev{e.Time, e.Event, e.EntryID, e.Revision, e.DocumentID, e.Version, string(e.Archive), string(e.Register), string(e.AuthorRole), e.AckCode, e.Actor}
					}
					return a.printJSON(out)
				}
				tw := tabwriter.NewWriter(a.out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TIME\tEVENT\tENTRY\tDOCUMENT\tVERSION\tARCHIVE\tREGISTER\tAUTHOR ROLE\tACK")
				for _, e := range evs {
					fmt.Fprintf(tw, "%s\t%s\t%s#%d\t%s\t%d\t%s\t%s\t%s\t%s\n", fmtTime(e.Time, a.cfg.Location()), e.Event, e.EntryID, e.Revision,
						dash(e.DocumentID), e.Version, dash(string(e.Archive)), dash(string(e.Register)), dash(string(e.AuthorRole)), dash(e.AckCode))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(a.out, "%d events\n", len(evs))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&hetu, "hetu", "", "the client's personal identity code")
	cmd.Flags().StringVar(&entry, "entry", "", "an entry id")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().IntVar(&limit, "limit", 1000, "at most this many events")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
