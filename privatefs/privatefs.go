// Package privatefs keeps the gateway's data at rest private to its own
// user: children's records (the queue database, the mock's archive, the
// quarantine and the done batches) live in 0700 directories as 0600 files,
// whatever the umask or the mode a directory was created with. A directory
// or file found more open is tightened, with a warning naming the path, so
// that an operator learns that it was readable before.
package privatefs

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

const (
	// DirMode is the mode of every directory holding personal data.
	DirMode fs.FileMode = 0o700
	// FileMode is the mode of every file holding personal data.
	FileMode fs.FileMode = 0o600
)

// Dir makes dir exist as a directory with DirMode: created (with missing
// parents, also 0700) when absent, tightened when it exists more open. Only
// dir itself is tightened: its parents may be shared (/var/lib).
func Dir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("private directory %s: %w", dir, err)
	}
	return tighten(dir, DirMode, log)
}

// DirAndFiles is Dir, and File for every regular file directly inside:
// the check at start of a directory that earlier versions (or an operator)
// may have left open.
func DirAndFiles(dir string, log *slog.Logger) error {
	if err := Dir(dir, log); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("private directory %s: %w", dir, err)
	}
	var errs []error
	for _, e := range ents {
		if e.Type().IsRegular() {
			errs = append(errs, File(filepath.Join(dir, e.Name()), log))
		}
	}
	return errors.Join(errs...)
}

// File tightens an existing file to FileMode; a missing file is no error.
func File(path string, log *slog.Logger) error {
	err := tighten(path, FileMode, log)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Create makes path exist as an (empty, when new) file with FileMode, so
// that a program creating it later with its own mode (SQLite: 0644 less
// the umask) finds it private, and tightens it when it exists.
func Create(path string, log *slog.Logger) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, FileMode)
	switch {
	case errors.Is(err, fs.ErrExist):
		// Not opened for writing: a reader (queue ls) need not write it.
	case err != nil:
		return fmt.Errorf("private file %s: %w", path, err)
	default:
		if err := f.Close(); err != nil {
			return fmt.Errorf("private file %s: %w", path, err)
		}
	}
	return tighten(path, FileMode, log)
}

// tighten removes every permission beyond want (group and others), and
// warns when it did.
func tighten(path string, want fs.FileMode, log *slog.Logger) error {
	info, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return fmt.Errorf("private %s: %w", path, err)
	}
	have := info.Mode().Perm()
	if have&^want == 0 {
		return nil
	}
	if err := os.Chmod(path, have&want); err != nil {
		return fmt.Errorf("private %s: tighten mode %#o: %w", path, have, err)
	}
	if log == nil {
		log = slog.Default()
	}
	log.Warn("data at rest was readable by others; mode tightened", "path", path, "mode", fmt.Sprintf("%#o", have), "now", fmt.Sprintf("%#o", have&want))
	return nil
}
