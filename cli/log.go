package cli

import (
	"io"
	"log/slog"
	"os"

	"golang.org/x/term"
)

// newLogger logs JSON by default and text on a terminal. Callers only ever
// attach entry ids and revisions to lines about entries, never identity
// codes, names or text.
func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "text" || (format == "auto" && isTerminal(w)) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
