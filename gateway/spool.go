package gateway

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// SpoolBatches lists complete batches in the spool directory, oldest
// first. The exporter renames a batch into place when it is complete, so
// only names ending in .ndjson or .ndjson.gz are read.
func SpoolBatches(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type batch struct {
		path string
		mod  int64
	}
	var out []batch
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !(strings.HasSuffix(n, ".ndjson") || strings.HasSuffix(n, ".ndjson.gz")) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // renamed away meanwhile
		}
		out = append(out, batch{filepath.Join(dir, n), info.ModTime().UnixNano()})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].mod != out[j].mod {
			return out[i].mod < out[j].mod
		}
		return out[i].path < out[j].path
	})
	paths := make([]string, len(out))
	for i, b := range out {
		paths[i] = b.path
	}
	return paths, nil
}

// IngestSpool ingests every batch in the spool and moves each fully read
// batch to the done directory. A batch that fails half-way stays in the
// spool; its read revisions are in the ledger, so the next pass only
// takes what is left.
func (in *Ingester) IngestSpool(ctx context.Context) ([]*BatchSummary, error) {
	batches, err := SpoolBatches(in.cfg.Spool.Dir)
	if err != nil {
		return nil, err
	}
	var sums []*BatchSummary
	var errs []error
	for _, b := range batches {
		sum, err := in.IngestFile(ctx, b)
		if errors.Is(err, os.ErrNotExist) {
			continue // another replica finished it and moved it away
		}
		if sum != nil {
			sums = append(sums, sum)
		}
		if err != nil {
			if ctx.Err() != nil {
				return sums, ctx.Err()
			}
			in.log.Error("batch not fully read; it stays in the spool", "file", filepath.Base(b), "error", err)
			errs = append(errs, err)
			continue
		}
		if err := moveDone(b, in.cfg.Spool.DoneDir); err != nil {
			errs = append(errs, err)
		}
		in.log.Info("batch read", "file", filepath.Base(b), "lines", sum.Lines, "deliveries", sum.Deliveries, "already_read", sum.AlreadyRead, "rejected", sum.Rejected)
	}
	return sums, errors.Join(errs...)
}

func moveDone(path, doneDir string) error {
	if doneDir == "" {
		return nil
	}
	if err := privateDir(doneDir, nil); err != nil {
		return err
	}
	dst := filepath.Join(doneDir, filepath.Base(path))
	if _, err := os.Stat(dst); err == nil {
		// A re-export of the same name: keep both.
		for i := 1; ; i++ {
			alt := fmt.Sprintf("%s.%d", dst, i)
			if _, err := os.Stat(alt); errors.Is(err, os.ErrNotExist) {
				dst = alt
				break
			}
		}
	}
	err := os.Rename(path, dst)
	if errors.Is(err, os.ErrNotExist) {
		return nil // another replica sharing the spool moved it first
	}
	if err != nil {
		return err
	}
	return privateFile(dst)
}
