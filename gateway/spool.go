package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// ProcessingDirName is the directory inside the spool where a batch is
// claimed while it is read: one claim directory per batch, holding the
// batch under its own name. A rename within one file system is atomic, so
// a batch is claimed before a byte of it is read, and a new file the
// exporter renames into the spool under the same name is a new batch in
// the spool, never moved to done/ unread.
const ProcessingDirName = "processing"

// isBatchName says whether a spool entry is named like a complete batch.
// The exporter renames a batch into place when it is complete.
func isBatchName(n string) bool {
	return strings.HasSuffix(n, ".ndjson") || strings.HasSuffix(n, ".ndjson.gz")
}

// SpoolBatches lists complete batches in the spool directory, oldest
// first: regular files named .ndjson or .ndjson.gz. Anything else under
// such a name (a symbolic link, FIFO, device or directory) is no batch; it
// is listed in refused and never opened.
func SpoolBatches(dir string) (batches []string, refused []RefusedEntry, err error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	type batch struct {
		path string
		mod  int64
	}
	var out []batch
	for _, e := range ents {
		n := e.Name()
		if !isBatchName(n) {
			continue
		}
		// The directory entry's type, without following a link: a FIFO
		// is not opened (an open would wait for a writer for ever).
		if !e.Type().IsRegular() {
			refused = append(refused, RefusedEntry{Path: filepath.Join(dir, n), Kind: fileKind(e.Type())})
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
	for _, b := range out {
		batches = append(batches, b.path)
	}
	return batches, refused, nil
}

// RefusedEntry is a spool entry named like a batch that is not a regular
// file.
type RefusedEntry struct {
	Path string
	Kind string // "symbolic link", "FIFO", "device", "directory", ...
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m.IsDir():
		return "directory"
	case m.IsRegular():
		return "regular file"
	}
	return "special file"
}

// SpoolPass is what one pass over the spool did.
type SpoolPass struct {
	Batches []*BatchSummary
	// Refused counts spool entries named like batches that are not
	// regular files (each is logged once per process).
	Refused int
}

// IngestSpool ingests every batch in the spool: first the claims left in
// processing/ that no live reader holds (a crash, or a pass that failed
// half-way), then the new batches, each claimed before it is opened. A
// fully read batch moves to the done directory; a corrupt one to the
// quarantine directory. A batch that fails half-way stays claimed; its
// read revisions are in the ledger, so the next pass only takes what is
// left.
func (in *Ingester) IngestSpool(ctx context.Context) (*SpoolPass, error) {
	pass := &SpoolPass{}
	batches, refused, err := SpoolBatches(in.cfg.Spool.Dir)
	if err != nil {
		return pass, err
	}
	claims, claimRefused, err := in.leftClaims()
	if err != nil {
		return pass, err
	}
	refused = append(refused, claimRefused...)
	pass.Refused = len(refused)
	in.reportRefused(refused, true)

	var errs []error
	read := func(claimed string) bool {
		sum, err := in.ingestClaimed(ctx, claimed)
		if sum != nil {
			pass.Batches = append(pass.Batches, sum)
		}
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			in.log.Error("batch not fully read; it stays claimed in the spool's processing directory and is read again on the next pass",
				"file", filepath.Base(claimed), "error", err)
			errs = append(errs, err)
		}
		return true
	}
	for _, c := range claims {
		if !read(c) {
			return pass, ctx.Err()
		}
	}
	for _, b := range batches {
		if err := ctx.Err(); err != nil {
			return pass, err
		}
		claimed, err := in.claim(b)
		if errors.Is(err, os.ErrNotExist) {
			continue // another replica claimed it first
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("claim %s: %w", filepath.Base(b), err))
			continue
		}
		if !read(claimed) {
			return pass, ctx.Err()
		}
	}
	return pass, errors.Join(errs...)
}

// claim renames a batch into a claim directory of its own in processing/.
func (in *Ingester) claim(batch string) (string, error) {
	proc := filepath.Join(in.cfg.Spool.Dir, ProcessingDirName)
	if err := os.MkdirAll(proc, 0o700); err != nil {
		return "", err
	}
	cd, err := os.MkdirTemp(proc, "claim-")
	if err != nil {
		return "", err
	}
	claimed := filepath.Join(cd, filepath.Base(batch))
	if err := os.Rename(batch, claimed); err != nil {
		_ = os.Remove(cd)
		return "", err
	}
	return claimed, nil
}

// leftClaims lists the batches claimed in processing/ that are still
// there: left by a crash, or by a pass that failed. A claim a live reader
// holds is skipped when it is opened (ingestClaimed takes a lock).
func (in *Ingester) leftClaims() (claims []string, refused []RefusedEntry, err error) {
	proc := filepath.Join(in.cfg.Spool.Dir, ProcessingDirName)
	dirs, err := os.ReadDir(proc)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, d := range dirs {
		if !d.IsDir() || !strings.HasPrefix(d.Name(), "claim-") {
			continue
		}
		cd := filepath.Join(proc, d.Name())
		ents, err := os.ReadDir(cd)
		if err != nil {
			continue // finished and removed meanwhile
		}
		if len(ents) == 0 {
			// A crash between making the claim directory and the rename,
			// or a claim being made right now: remove it once it is old.
			if info, err := d.Info(); err == nil && time.Since(info.ModTime()) > time.Minute {
				_ = os.Remove(cd)
			}
			continue
		}
		for _, e := range ents {
			p := filepath.Join(cd, e.Name())
			if !e.Type().IsRegular() {
				refused = append(refused, RefusedEntry{Path: p, Kind: fileKind(e.Type())})
				continue
			}
			claims = append(claims, p)
		}
	}
	return claims, refused, nil
}

// reportRefused logs each refused spool entry once while it stays (by
// name and kind), not on every poll. With all, refused is the whole
// pass's list: entries gone since are forgotten (reported again if they
// come back), so the set stays as small as the spool.
func (in *Ingester) reportRefused(refused []RefusedEntry, all bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	seen := in.refused
	if seen == nil || all {
		in.refused = map[RefusedEntry]bool{}
	}
	for _, r := range refused {
		was := seen[r]
		in.refused[r] = true
		if was {
			continue
		}
		in.log.Error("spool entry refused: only regular files are batches; it is not opened, move it away",
			"file", filepath.Base(r.Path), "kind", r.Kind)
	}
}

// errBusy says that a live reader holds a claim.
var errBusy = errors.New("claimed batch is being read by another reader")

// openClaimed opens a claimed batch without following a link and without
// waiting (a FIFO renamed over the batch between listing and claim would
// otherwise block the open), checks it is a regular file, and locks it so
// that no other reader (another replica's recovery pass) reads it at the
// same time. The lock goes with the process: a crash frees the claim.
func openClaimed(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, &notRegularError{kind: fileKind(info.Mode())}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errBusy
		}
		return nil, err
	}
	return f, nil
}

type notRegularError struct{ kind string }

func (e *notRegularError) Error() string { return "not a regular file: " + e.kind }

// ingestClaimed reads a claimed batch and moves it on: to done/ when read
// in full, to the quarantine directory when its stream is corrupt. On any
// other error it stays claimed.
func (in *Ingester) ingestClaimed(ctx context.Context, claimed string) (*BatchSummary, error) {
	name := filepath.Join(in.cfg.Spool.Dir, filepath.Base(claimed)) // as the exporter named it
	f, err := openClaimed(claimed)
	if errors.Is(err, errBusy) || errors.Is(err, os.ErrNotExist) {
		return nil, nil // another reader has it, or finished it
	}
	if nre, ok := errors.AsType[*notRegularError](err); ok {
		in.reportRefused([]RefusedEntry{{Path: claimed, Kind: nre.kind}}, false)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close() // also frees the lock
	if in.hookClaimed != nil {
		in.hookClaimed(name)
	}
	sum, err := in.ingestStream(ctx, f, name)
	if ce, ok := errors.AsType[*corruptBatchError](err); ok {
		// Corrupt: reading it again gives the same failure. Everything
		// before the failure is ingested; the batch is quarantined once,
		// with its reason.
		if qerr := in.quarantineBatch(claimed, name, ce); qerr != nil {
			return sum, qerr
		}
		sum.Corrupt = ce.Error()
		in.log.Error("batch is corrupt; it is quarantined", "file", filepath.Base(name), "lines_read", sum.Lines, "error", ce.err)
		return sum, nil
	}
	if err != nil {
		return sum, err
	}
	if err := moveDone(claimed, in.cfg.Spool.DoneDir); err != nil {
		return sum, err
	}
	_ = os.Remove(filepath.Dir(claimed))
	in.log.Info("batch read", "file", filepath.Base(name), "lines", sum.Lines, "deliveries", sum.Deliveries, "already_read", sum.AlreadyRead, "rejected", sum.Rejected)
	return sum, nil
}

// quarantineBatch moves a corrupt batch, whole, into the quarantine
// directory beside a reasons line saying why.
func (in *Ingester) quarantineBatch(claimed, name string, ce *corruptBatchError) error {
	q := in.newQuarantine(claimed)
	q.reason(quarantineReason{File: name, Line: ce.line, Reason: "batch is corrupt: " + ce.err.Error()})
	q.close()
	if q.err != nil {
		return fmt.Errorf("quarantine of corrupt batch %s: %w", filepath.Base(claimed), q.err)
	}
	dst := uniqueName(filepath.Join(in.cfg.Spool.QuarantineDir, q.base+"."+q.stamp+".corrupt"))
	if err := moveFile(claimed, dst); err != nil {
		return fmt.Errorf("quarantine of corrupt batch %s: %w", filepath.Base(claimed), err)
	}
	_ = os.Remove(filepath.Dir(claimed))
	return nil
}

func moveDone(path, doneDir string) error {
	if err := privateDir(doneDir, nil); err != nil {
		return err
	}
	// A re-export of the same name: keep both.
	dst := uniqueName(filepath.Join(doneDir, filepath.Base(path)))
	if err := moveFile(path, dst); err != nil {
		return err
	}
	return privateFile(dst)
}

// uniqueName is dst, or dst.1, dst.2, ... when taken.
func uniqueName(dst string) string {
	if _, err := os.Lstat(dst); err != nil {
		return dst
	}
	for i := 1; ; i++ {
		alt := fmt.Sprintf("%s.%d", dst, i)
		if _, err := os.Lstat(alt); errors.Is(err, os.ErrNotExist) {
			return alt
		}
	}
}

// moveFile renames, or copies and removes when dst is on another file
// system.
func moveFile(src, dst string) error {
	err := os.Rename(src, dst)
	if !errors.Is(err, syscall.EXDEV) {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(dst)
		return err
	}
	return os.Remove(src)
}
