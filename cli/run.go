package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/helsinki-student-welfare/kanta-gateway/console"
	"github.com/helsinki-student-welfare/kanta-gateway/gateway"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

func (a *app) runCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the gateway daemon: watch the spool, submit due documents, serve /metrics, /healthz, /readyz and the console",
		Long: `run is the daemon. It watches the spool directory (new batches are picked up within
spool.poll_interval) and/or reads batches on the cron schedule spool.schedule, submits
due documents through the durable queue, and serves /metrics, /healthz, /readyz and the
operators' console (/console/, metrics.console) on metrics.listen. SIGTERM or SIGINT
stops it gracefully: in-flight submissions finish or return to the queue.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.untilSignal(func(ctx context.Context) error { return a.daemon(ctx) })
		},
	}
}

// daemon runs gateway.RunDaemon with the operators' console wired in: the
// console sits above the gateway, so it is built here, over the service
// the daemon opens, and fed the batches each spool pass read.
func (a *app) daemon(ctx context.Context) error {
	batches := &console.BatchLog{}
	err := gateway.RunDaemon(ctx, a.cfg, a.clock, a.logger, gateway.DaemonOptions{
		Console: func(ctx context.Context, svc *gateway.Service) (http.Handler, error) {
			con, err := a.newConsole(ctx, svc, batches)
			if con == nil || err != nil {
				return nil, err
			}
			return con.Handler(), nil
		},
		SpoolPassed: func(pass *gateway.SpoolPass) { batches.Add(a.clock.Now(), pass.Batches) },
	})
	return runExit(err)
}

// runExit is the exit status of an error of the gateway's orchestration: a
// run that failed after its configuration was accepted (gateway.RunFailure)
// exits 1, anything else (configuration, listener, schedule) 2.
func runExit(err error) error {
	if err == nil {
		return nil
	}
	var rf *gateway.RunFailure
	if errors.As(err, &rf) {
		return &exitError{ExitFailure, err}
	}
	return usageErr(err)
}

// newConsole builds the operators' console (nil when it is off or there
// is no operations listener) and starts River UI's background services.
// Off loopback without users it refuses, whatever Validate let through.
func (a *app) newConsole(ctx context.Context, svc *gateway.Service, batches *console.BatchLog) (*console.Console, error) {
	cc := a.cfg.Metrics.Console
	if !cc.Enabled || a.cfg.Metrics.Listen == "" {
		return nil, nil
	}
	src := console.Source{Queue: svc.Queue, Location: a.cfg.Location(), Now: a.clock.Now, Certificates: svc.Certificates, Batches: batches}
	if svc.Submitter != nil {
		src.Breaker = func() string { return svc.Submitter.BreakerState().String() }
	}
	con, err := console.New(console.Options{Listen: a.cfg.Metrics.Listen, Users: cc.AllUsers(), SessionTTL: cc.SessionTTL, Logger: a.logger}, src)
	if err != nil {
		return nil, fmt.Errorf("metrics.console: %w", err)
	}
	if err := con.Start(ctx); err != nil {
		return nil, fmt.Errorf("metrics.console: %w", err)
	}
	return con, nil
}

func (a *app) onceCommand() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "once",
		Short: "Ingest every batch in the spool, submit everything due, wait until done, print a summary",
		Long: `once is for external schedulers. It ingests every batch in the spool, submits everything
due, and waits until nothing due is left in flight (or --timeout). Exit status: 0 when all
due documents were acknowledged, 3 when any entry was rejected, a batch was corrupt (it is
quarantined), a spool entry is not a regular file (it is refused, never opened) or any
document is dead-lettered, 4 when none of these but some due document waits for a later
retry (the summary names the earliest retry: run once again then), 2 on configuration
errors, 1 otherwise (e.g. the timeout, or a rejected line that could not be written to the
quarantine). The summary is printed in every case but a configuration error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.untilSignal(func(ctx context.Context) error { return a.once(ctx, timeout) })
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "give up waiting after this long")
	cmd.Flags().StringVar(&a.onceLogFile, "log-file", "kanta-gateway-once.log", "on a terminal: the log file (0600, appended); the screen shows progress, warnings and a report")
	return cmd
}

func (a *app) once(ctx context.Context, timeout time.Duration) error {
	if a.onTerminal() {
		term, err := a.startTerminal(a.onceLogFile)
		if err != nil {
			return usageErr(err)
		}
		a.term = term
		defer term.close()
	}
	res, err := a.runOnce(ctx, timeout)
	if err != nil {
		return err
	}
	onceSummary{res}.print(a, a.out)
	if a.term != nil {
		a.term.reportRejections(a.out, a.cfg.Spool.QuarantineDir)
		a.term.reportLog(a.out)
	}
	return onceSummary{res}.exit(a)
}

// runOnce is gateway.Once with the terminal's display (on a terminal
// only); a pass that ran but did not finish prints its summary before the
// failure.
func (a *app) runOnce(ctx context.Context, timeout time.Duration) (*gateway.OnceResult, error) {
	opts := gateway.OnceOptions{Timeout: timeout}
	if a.term != nil {
		opts.Progress = func(ctx context.Context, svc *gateway.Service) gateway.Progress { return a.startDisplay(ctx, svc) }
	}
	res, err := gateway.Once(ctx, a.cfg, a.clock, a.logger, opts)
	if err != nil {
		if res != nil {
			onceSummary{res}.print(a, a.out)
		}
		return nil, runExit(err)
	}
	return res, nil
}

// onceSummary prints a once pass and turns it into once's exit status.
type onceSummary struct{ *gateway.OnceResult }

// exit is once's verdict: 0 only when every due document was
// acknowledged; rejections and dead letters (3) come before documents
// left for a later retry (4), since those need an operator and these only
// another run.
func (r onceSummary) exit(a *app) error {
	if r.Rejected > 0 || r.Stats.Dead > 0 || r.Corrupt > 0 || r.Refused > 0 {
		return &exitError{ExitRejected, fmt.Errorf("%d entries rejected, %d corrupt batches quarantined, %d spool entries refused, %d documents dead-lettered (see `kanta-gateway queue ls --state dead`)",
			r.Rejected, r.Corrupt, r.Refused, r.Stats.Dead)}
	}
	if n := r.Stats.Retrying; n > 0 {
		when := "not scheduled yet"
		if !r.Stats.NextRetry.IsZero() {
			when = "the earliest at " + r.Stats.NextRetry.In(a.cfg.Location()).Format(time.RFC3339)
		}
		return &exitError{ExitRetryLater, fmt.Errorf("%d documents not acknowledged yet, left for a retry (%s): run once again then (see `kanta-gateway queue ls`)", n, when)}
	}
	return nil
}

func (r onceSummary) print(a *app, w io.Writer) {
	fmt.Fprintf(w, "once: %d batches, %d lines: %d documents queued, %d already read, %d rejected (%.1fs)\n",
		r.Batches, r.Lines, r.Deliveries, r.AlreadyRead, r.Rejected, r.Took.Seconds())
	if r.Corrupt > 0 || r.Refused > 0 || r.QuarantineFailed > 0 {
		fmt.Fprintf(w, "spool: %d corrupt batches quarantined, %d entries refused (not regular files), %d rejected lines NOT quarantined\n",
			r.Corrupt, r.Refused, r.QuarantineFailed)
	}
	st := r.Stats
	fmt.Fprintf(w, "queue: done %d, scheduled %d, retryable %d, dead %d", st.Depth[queue.StateDone], st.Depth[queue.StateScheduled], st.Depth[queue.StateRetryable], st.Dead)
	if st.Retrying > 0 {
		fmt.Fprintf(w, ", waiting for a retry %d", st.Retrying)
		if !st.NextRetry.IsZero() {
			fmt.Fprintf(w, ", earliest retry %s", st.NextRetry.In(a.cfg.Location()).Format(time.RFC3339))
		}
	}
	if !st.NextScheduled.IsZero() {
		fmt.Fprintf(w, ", next held release %s", st.NextScheduled.In(a.cfg.Location()).Format(time.RFC3339))
	}
	fmt.Fprintln(w)
}
