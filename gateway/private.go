package gateway

import (
	"log/slog"
	"os"

	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/privatefs"
)

// privateDir makes a directory of personal data (quarantine, done) exist
// as 0700, tightening one found more open.
func privateDir(dir string, log *slog.Logger) error { return privatefs.Dir(dir, log) }

// privateFile makes a file of personal data 0600: a batch renamed into
// done/ keeps the exporter's mode otherwise. Every batch comes so: no
// warning.
func privateFile(path string) error { return os.Chmod(path, privatefs.FileMode) }

// CheckPrivateDirs is the check at start: the quarantine and done
// directories, and the files already in them, are tightened to 0700 and
// 0600, each tightening warned about with its path.
func CheckPrivateDirs(cfg *config.Config, log *slog.Logger) error {
	for _, dir := range []string{cfg.Spool.QuarantineDir, cfg.Spool.DoneDir} {
		if dir == "" {
			continue
		}
		if err := privatefs.DirAndFiles(dir, log); err != nil {
			return err
		}
	}
	return nil
}
