package gateway

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// storeProbeInterval is how often the daemon checks that its queue store
// can write: /readyz and kanta_gateway_store_writable turn red within one
// interval of a disk filling up or a database turning read-only, and green
// within one interval of it recovering.
const storeProbeInterval = 5 * time.Second

// storeHealth is the daemon's view of whether its queue store can write,
// from a periodic write probe.
type storeHealth struct {
	writable atomic.Bool
	checked  atomic.Bool
	probe    func(context.Context) error
	every    time.Duration
	onChange func(bool) // the metric
	log      *slog.Logger
}

// check runs one probe and records its outcome.
func (h *storeHealth) check(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, max(h.every, time.Second))
	err := h.probe(pctx)
	cancel()
	if ctx.Err() != nil {
		return // stopping: say nothing
	}
	ok := err == nil
	// Logged when it changes (and the first time), not at every probe.
	if was := h.writable.Swap(ok); was != ok || !h.checked.Swap(true) {
		switch {
		case !ok:
			h.log.Error("queue store cannot write: not ready", "error", err)
		default:
			h.log.Info("queue store writes again: ready")
		}
	}
	if h.onChange != nil {
		h.onChange(ok)
	}
}

// watch probes until ctx ends.
func (h *storeHealth) watch(ctx context.Context) {
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.check(ctx)
		}
	}
}
