package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"

	"github.com/helsinki-student-welfare/kanta-gateway/gateway"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

func init() {
	extraCommands = append(extraCommands, (*app).runCommand, (*app).onceCommand)
}

func (a *app) runCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the gateway daemon: watch the spool, submit due documents, serve /metrics, /healthz and /readyz",
		Long: `run is the daemon. It watches the spool directory (new batches are picked up within
spool.poll_interval) and/or reads batches on the cron schedule spool.schedule, submits
due documents through the durable queue, and serves /metrics, /healthz and /readyz on
metrics.listen. SIGTERM or SIGINT stops it gracefully: in-flight submissions finish or
return to the queue.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.untilSignal(func(ctx context.Context) error { return a.daemon(ctx) })
		},
	}
}

func (a *app) daemon(ctx context.Context) error {
	svc, err := a.openService(ctx)
	if err != nil {
		return err
	}
	defer svc.Close(context.Background())
	if err := svc.Reschedule(ctx); err != nil {
		return err
	}
	var ready atomic.Bool
	health := &storeHealth{probe: svc.Queue.ProbeWrite, every: storeProbeInterval, onChange: svc.Metrics.StoreWritable, log: a.logger}
	health.check(ctx)
	go health.watch(ctx)
	srv, err := a.serveOps(svc, &ready, health)
	if err != nil {
		return usageErr(err)
	}
	if err := svc.Queue.Start(ctx); err != nil {
		return err
	}
	ready.Store(true)
	a.logger.Info("gateway running", "spool", a.cfg.Spool.Dir, "queue", a.cfg.Queue.Backend, "environment", a.cfg.Environment, "metrics", a.cfg.Metrics.Listen)

	scan := make(chan struct{}, 1)
	trigger := func() {
		select {
		case scan <- struct{}{}:
		default:
		}
	}
	var sched *cron.Cron
	if a.cfg.Spool.Schedule != "" {
		sched = cron.New()
		if _, err := sched.AddFunc(a.cfg.Spool.Schedule, trigger); err != nil {
			return usageErr(fmt.Errorf("spool.schedule: %w", err))
		}
		sched.Start()
		defer sched.Stop()
	}
	watch := a.cfg.Spool.Schedule == "" // without a schedule, watch the spool
	tick := time.NewTicker(a.cfg.Spool.PollInterval)
	defer tick.Stop()
	trigger()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			if watch {
				trigger()
			}
		case <-scan:
			if _, err := svc.Ingester.IngestSpool(ctx); err != nil && ctx.Err() == nil {
				a.logger.Error("spool pass incomplete", "error", err)
			}
		}
	}
	ready.Store(false)
	a.logger.Info("stopping: in-flight submissions finish or return to the queue")
	stopCtx, cancel := context.WithTimeout(context.Background(), a.cfg.Kanta.Timeout+5*time.Second)
	defer cancel()
	err = svc.Queue.Stop(stopCtx)
	if srv != nil {
		_ = srv.Shutdown(stopCtx)
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	a.logger.Info("gateway stopped")
	return nil
}

// Start-up retries while the queue store is unavailable: from the first
// wait to the longest, doubling.
var storeRetryFirst, storeRetryMax = time.Second, 30 * time.Second

// openService opens the gateway for the daemon. While the queue store is
// unavailable (PostgreSQL unreachable, the SQLite file's directory not
// creatable) it retries with backoff and serves /healthz as alive and
// /readyz as not ready, instead of exiting with a configuration error.
func (a *app) openService(ctx context.Context) (*gateway.Service, error) {
	var waiting *http.Server
	defer func() {
		if waiting != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = waiting.Shutdown(sctx)
			cancel()
		}
	}()
	wait := storeRetryFirst
	for {
		svc, err := gateway.Open(ctx, a.cfg, a.clock, a.logger, gateway.ModeSubmit)
		if err == nil {
			return svc, nil
		}
		if !errors.Is(err, queue.ErrUnavailable) {
			return nil, usageErr(err)
		}
		if ctx.Err() != nil {
			return nil, &exitError{ExitFailure, fmt.Errorf("stopped before the queue store became available: %w", err)}
		}
		if waiting == nil && a.cfg.Metrics.Listen != "" {
			ln, lerr := net.Listen("tcp", a.cfg.Metrics.Listen)
			if lerr != nil {
				return nil, usageErr(fmt.Errorf("metrics.listen: %w", lerr))
			}
			mux := http.NewServeMux()
			mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
			mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "queue store unavailable", http.StatusServiceUnavailable)
			})
			waiting = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
			go func() { _ = waiting.Serve(ln) }()
		}
		a.logger.Error("queue store unavailable at start: not ready, retrying", "backend", a.cfg.Queue.Backend, "error", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return nil, &exitError{ExitFailure, fmt.Errorf("stopped before the queue store became available: %w", err)}
		case <-time.After(wait):
		}
		wait = min(2*wait, storeRetryMax)
	}
}

// serveOps serves /metrics, /healthz and /readyz.
func (a *app) serveOps(svc *gateway.Service, ready *atomic.Bool, health *storeHealth) (*http.Server, error) {
	if a.cfg.Metrics.Listen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", a.cfg.Metrics.Listen)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen: %w", err)
	}
	// Timeouts, body and connection limits: metrics.server.
	lim := a.cfg.Metrics.Server
	srv := lim.Server(opsHandler(svc, ready, health))
	srv.Addr = ln.Addr().String()
	go func() { _ = srv.Serve(lim.Listener(ln)) }()
	return srv, nil
}

// opsHandler is /metrics, /healthz and /readyz. Ready means started, the
// queue's statistics readable and its last write probe committed.
func opsHandler(svc *gateway.Service, ready *atomic.Bool, health *storeHealth) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(svc.Metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		if !health.writable.Load() {
			http.Error(w, "queue store cannot write", http.StatusServiceUnavailable)
			return
		}
		if _, err := svc.Queue.Stats(ctx); err != nil {
			http.Error(w, "queue unreachable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
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

// onceResult is what one `once` pass did.
type onceResult struct {
	batches, lines, rejected, deliveries, alreadyRead int
	corrupt, refused, quarantineFailed                int
	stats                                             queue.Stats
	took                                              time.Duration
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
	res.print(a, a.out)
	if a.term != nil {
		a.term.reportRejections(a.out, a.cfg.Spool.QuarantineDir)
		a.term.reportLog(a.out)
	}
	return res.exit(a)
}

// exit is once's verdict: 0 only when every due document was
// acknowledged; rejections and dead letters (3) come before documents
// left for a later retry (4), since those need an operator and these only
// another run.
func (r *onceResult) exit(a *app) error {
	if r.rejected > 0 || r.stats.Dead > 0 || r.corrupt > 0 || r.refused > 0 {
		return &exitError{ExitRejected, fmt.Errorf("%d entries rejected, %d corrupt batches quarantined, %d spool entries refused, %d documents dead-lettered (see `kanta-gateway queue ls --state dead`)",
			r.rejected, r.corrupt, r.refused, r.stats.Dead)}
	}
	if n := r.stats.Retrying; n > 0 {
		when := "not scheduled yet"
		if !r.stats.NextRetry.IsZero() {
			when = "the earliest at " + r.stats.NextRetry.In(a.cfg.Location()).Format(time.RFC3339)
		}
		return &exitError{ExitRetryLater, fmt.Errorf("%d documents not acknowledged yet, left for a retry (%s): run once again then (see `kanta-gateway queue ls`)", n, when)}
	}
	return nil
}

// runOnce ingests the spool, submits everything due and waits until
// nothing due is in flight.
func (a *app) runOnce(ctx context.Context, timeout time.Duration) (*onceResult, error) {
	start := time.Now()
	svc, err := gateway.Open(ctx, a.cfg, a.clock, a.logger, gateway.ModeSubmit)
	if errors.Is(err, queue.ErrUnavailable) {
		// Not the configuration's fault: a scheduler runs once again.
		return nil, &exitError{ExitFailure, err}
	}
	if err != nil {
		return nil, usageErr(err)
	}
	defer svc.Close(context.Background())
	if err := svc.Reschedule(ctx); err != nil {
		return nil, err
	}
	if err := svc.Queue.Start(ctx); err != nil {
		return nil, err
	}
	display := a.startDisplay(ctx, svc) // a terminal only
	pass, ingestErr := svc.Ingester.IngestSpool(ctx)
	display.ingested(pass)
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	waitErr := svc.Queue.WaitIdle(waitCtx)
	display.stop()
	stopCtx, cancelStop := context.WithTimeout(context.Background(), a.cfg.Kanta.Timeout+5*time.Second)
	defer cancelStop()
	_ = svc.Queue.Stop(stopCtx)

	res := &onceResult{batches: len(pass.Batches), refused: pass.Refused}
	for _, s := range pass.Batches {
		res.lines += s.Lines
		res.rejected += s.Rejected
		res.deliveries += s.Deliveries
		res.alreadyRead += s.AlreadyRead
		res.quarantineFailed += s.QuarantineFailed
		if s.Corrupt != "" {
			res.corrupt++
		}
	}
	st, statsErr := svc.Queue.Stats(context.Background())
	res.stats, res.took = st, time.Since(start)
	switch {
	case ingestErr != nil:
		res.print(a, a.out)
		return res, &exitError{ExitFailure, ingestErr}
	case waitErr != nil:
		res.print(a, a.out)
		return res, &exitError{ExitFailure, fmt.Errorf("documents still in flight after %s: %w", timeout, waitErr)}
	case statsErr != nil:
		return res, &exitError{ExitFailure, statsErr}
	}
	return res, nil
}

func (r *onceResult) print(a *app, w io.Writer) {
	fmt.Fprintf(w, "once: %d batches, %d lines: %d documents queued, %d already read, %d rejected (%.1fs)\n",
		r.batches, r.lines, r.deliveries, r.alreadyRead, r.rejected, r.took.Seconds())
	if r.corrupt > 0 || r.refused > 0 || r.quarantineFailed > 0 {
		fmt.Fprintf(w, "spool: %d corrupt batches quarantined, %d entries refused (not regular files), %d rejected lines NOT quarantined\n",
			r.corrupt, r.refused, r.quarantineFailed)
	}
	st := r.stats
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
