package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// RunFailure wraps an error that stopped a run after its configuration was
// accepted, one that the next run may not meet: the queue store
// unavailable, a spool pass cut short, documents still in flight at the
// timeout. Every other error of RunDaemon and Once is the configuration's
// or the environment's (a bad schedule, a listener that cannot bind), as
// the command line has always reported them (cli: exit 1 for a
// RunFailure, 2 otherwise).
type RunFailure struct{ Err error }

func (e *RunFailure) Error() string { return e.Err.Error() }
func (e *RunFailure) Unwrap() error { return e.Err }

// errStoppedBeforeStore: the daemon was stopped while it waited for its
// queue store.
var errStoppedBeforeStore = errors.New("stopped before the queue store became available")

// DaemonOptions are what the daemon's caller wires in. The console sits
// above the gateway (it reads the gateway's service), so the daemon gets
// it as a constructor and a callback rather than importing it.
type DaemonOptions struct {
	// Console builds the operators' console over the opened service; the
	// daemon serves its handler under /console/ on metrics.listen. Nil, or
	// a nil handler: no console.
	Console func(ctx context.Context, svc *Service) (http.Handler, error)
	// SpoolPassed is called after every spool pass with what it read.
	SpoolPassed func(pass *SpoolPass)
}

// RunDaemon is the `run` command: it opens the gateway (waiting while the
// queue store is unavailable), serves /metrics, /healthz, /readyz and the
// console, ingests the spool on its watch or cron schedule and submits due
// documents until ctx ends; then in-flight submissions finish or return to
// the queue.
func RunDaemon(ctx context.Context, cfg *config.Config, clk clock.Clock, log *slog.Logger, opts DaemonOptions) error {
	svc, err := openService(ctx, cfg, clk, log)
	if err != nil {
		return err
	}
	defer svc.Close(context.Background())
	if err := svc.Reschedule(ctx); err != nil {
		return err
	}
	var ready atomic.Bool
	health := &storeHealth{probe: svc.Queue.ProbeWrite, every: storeProbeInterval, onChange: svc.Metrics.StoreWritable, log: log}
	health.check(ctx)
	go health.watch(ctx)
	var con http.Handler
	if opts.Console != nil {
		if con, err = opts.Console(ctx, svc); err != nil {
			return err
		}
	}
	srv, err := serveOps(cfg, svc, &ready, health, con)
	if err != nil {
		return err
	}
	if err := svc.Queue.Start(ctx); err != nil {
		return err
	}
	ready.Store(true)
	log.Info("gateway running", "spool", cfg.Spool.Dir, "queue", cfg.Queue.Backend, "environment", cfg.Environment, "metrics", cfg.Metrics.Listen)

	scan := make(chan struct{}, 1)
	trigger := func() {
		select {
		case scan <- struct{}{}:
		default:
		}
	}
	var sched *cron.Cron
	if cfg.Spool.Schedule != "" {
		sched = cron.New()
		if _, err := sched.AddFunc(cfg.Spool.Schedule, trigger); err != nil {
			return fmt.Errorf("spool.schedule: %w", err)
		}
		sched.Start()
		defer sched.Stop()
	}
	watch := cfg.Spool.Schedule == "" // without a schedule, watch the spool
	tick := time.NewTicker(cfg.Spool.PollInterval)
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
			pass, err := svc.Ingester.IngestSpool(ctx)
			if pass != nil && opts.SpoolPassed != nil {
				opts.SpoolPassed(pass)
			}
			if err != nil && ctx.Err() == nil {
				log.Error("spool pass incomplete", "error", err)
			}
		}
	}
	ready.Store(false)
	log.Info("stopping: in-flight submissions finish or return to the queue")
	stopCtx, cancel := context.WithTimeout(context.Background(), cfg.Kanta.Timeout+5*time.Second)
	defer cancel()
	err = svc.Queue.Stop(stopCtx)
	if srv != nil {
		_ = srv.Shutdown(stopCtx)
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	log.Info("gateway stopped")
	return nil
}

// Start-up retries while the queue store is unavailable: from the first
// wait to the longest, doubling.
var storeRetryFirst, storeRetryMax = time.Second, 30 * time.Second

// openService opens the gateway for the daemon. While the queue store is
// unavailable (PostgreSQL unreachable, the SQLite file's directory not
// creatable) it retries with backoff and serves /healthz as alive and
// /readyz as not ready, instead of exiting with a configuration error.
func openService(ctx context.Context, cfg *config.Config, clk clock.Clock, log *slog.Logger) (*Service, error) {
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
		svc, err := Open(ctx, cfg, clk, log, ModeSubmit)
		if err == nil {
			return svc, nil
		}
		if !errors.Is(err, queue.ErrUnavailable) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, &RunFailure{fmt.Errorf("%w: %w", errStoppedBeforeStore, err)}
		}
		if waiting == nil && cfg.Metrics.Listen != "" {
			ln, lerr := net.Listen("tcp", cfg.Metrics.Listen)
			if lerr != nil {
				return nil, fmt.Errorf("metrics.listen: %w", lerr)
			}
			mux := http.NewServeMux()
			mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
			mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "queue store unavailable", http.StatusServiceUnavailable)
			})
			waiting = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
			go func() { _ = waiting.Serve(ln) }()
		}
		log.Error("queue store unavailable at start: not ready, retrying", "backend", cfg.Queue.Backend, "error", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return nil, &RunFailure{fmt.Errorf("%w: %w", errStoppedBeforeStore, err)}
		case <-time.After(wait):
		}
		wait = min(2*wait, storeRetryMax)
	}
}

// serveOps serves /metrics, /healthz and /readyz, and the console under
// /console/ when con is not nil.
func serveOps(cfg *config.Config, svc *Service, ready *atomic.Bool, health *storeHealth, con http.Handler) (*http.Server, error) {
	if cfg.Metrics.Listen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.Metrics.Listen)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen: %w", err)
	}
	// Timeouts, body and connection limits: metrics.server.
	lim := cfg.Metrics.Server
	h := opsHandler(svc, ready, health)
	if con != nil {
		mux := http.NewServeMux()
		mux.Handle("/", h)
		mux.Handle("/console", con)
		mux.Handle("/console/", con)
		h = mux
	}
	srv := lim.Server(h)
	srv.Addr = ln.Addr().String()
	go func() { _ = srv.Serve(lim.Listener(ln)) }()
	return srv, nil
}

// opsHandler is /metrics, /healthz and /readyz. Ready means started, the
// queue's statistics readable and its last write probe committed.
func opsHandler(svc *Service, ready *atomic.Bool, health *storeHealth) http.Handler {
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
