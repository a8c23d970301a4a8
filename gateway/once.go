package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// OnceResult is what one `once` pass did: the spool pass summed over its
// batches, and the queue afterwards.
type OnceResult struct {
	Batches, Lines, Rejected, Deliveries, AlreadyRead int
	// Corrupt batches quarantined, spool entries refused (not regular
	// files), rejected lines that could not be written to the quarantine.
	Corrupt, Refused, QuarantineFailed int
	Stats                              queue.Stats
	Took                               time.Duration
}

// Progress follows a once pass as it goes (the terminal's display).
type Progress interface {
	// Ingested: the spool has been read to its end.
	Ingested(pass *SpoolPass)
	// Stop: nothing due is in flight any more (or the wait gave up).
	Stop()
}

// OnceOptions are once's flags and what its caller wires in.
type OnceOptions struct {
	// Timeout bounds the wait for in-flight documents.
	Timeout time.Duration
	// Progress, when set, starts a display over the opened, started
	// service; it runs while the spool is read and documents are sent.
	Progress func(ctx context.Context, svc *Service) Progress
}

// Once ingests the spool, submits everything due and waits until nothing
// due is in flight (or opts.Timeout). A queue store that cannot be opened
// is a RunFailure with no result. When the pass ran but did not finish
// (the spool pass cut short, documents still in flight at the timeout),
// the result comes with a RunFailure; a failure to read the queue's
// statistics afterwards is a RunFailure with no result.
func Once(ctx context.Context, cfg *config.Config, clk clock.Clock, log *slog.Logger, opts OnceOptions) (*OnceResult, error) {
	start := time.Now()
	svc, err := Open(ctx, cfg, clk, log, ModeSubmit)
	if errors.Is(err, queue.ErrUnavailable) {
		// Not the configuration's fault: a scheduler runs once again.
		return nil, &RunFailure{err}
	}
	if err != nil {
		return nil, err
	}
	defer svc.Close(context.Background())
	if err := svc.Reschedule(ctx); err != nil {
		return nil, err
	}
	if err := svc.Queue.Start(ctx); err != nil {
		return nil, err
	}
	var progress Progress = noProgress{}
	if opts.Progress != nil {
		progress = opts.Progress(ctx, svc)
	}
	pass, ingestErr := svc.Ingester.IngestSpool(ctx)
	progress.Ingested(pass)
	waitCtx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	waitErr := svc.Queue.WaitIdle(waitCtx)
	progress.Stop()
	stopCtx, cancelStop := context.WithTimeout(context.Background(), cfg.Kanta.Timeout+5*time.Second)
	defer cancelStop()
	_ = svc.Queue.Stop(stopCtx)

	res := &OnceResult{Batches: len(pass.Batches), Refused: pass.Refused}
	for _, s := range pass.Batches {
		res.Lines += s.Lines
		res.Rejected += s.Rejected
		res.Deliveries += s.Deliveries
		res.AlreadyRead += s.AlreadyRead
		res.QuarantineFailed += s.QuarantineFailed
		if s.Corrupt != "" {
			res.Corrupt++
		}
	}
	st, statsErr := svc.Queue.Stats(context.Background())
	res.Stats, res.Took = st, time.Since(start)
	switch {
	case ingestErr != nil:
		return res, &RunFailure{ingestErr}
	case waitErr != nil:
		return res, &RunFailure{fmt.Errorf("documents still in flight after %s: %w", opts.Timeout, waitErr)}
	case statsErr != nil:
		return nil, &RunFailure{statsErr}
	}
	return res, nil
}

// noProgress is the display without a terminal: nothing.
type noProgress struct{}

func (noProgress) Ingested(*SpoolPass) {}
func (noProgress) Stop()               {}
