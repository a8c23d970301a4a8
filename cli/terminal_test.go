package cli

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"testing"
)

// TestScreenHandler: the screen shows warnings and errors, not info; a
// warning about one document (its ids as attributes, or on a logger made
// With them) stays in the log file and is counted; an error is shown even
// about one document; one kind of warning is shown sameWarningShown times.
func TestScreenHandler(t *testing.T) {
	var screen bytes.Buffer
	st := &screenState{sink: &screen, stderr: &screen, seen: map[string]int{}}
	log := slog.New(&screenHandler{st: st, text: slog.NewTextHandler(screenWriter{st}, &slog.HandlerOptions{Level: slog.LevelWarn})})

	log.Info("gateway running")
	log.Warn("entry rejected", "entry_id", "SCN-PSY-10", "revision", 1)
	log.With("document_id", "1.2.246.10.2012566.10.1.1").Warn("submission", "code", "CE")
	log.Error("rejected line NOT quarantined", "entry_id", "SCN-PSY-11")
	for i := 0; i < sameWarningShown+2; i++ {
		log.Warn("unconfirmed code in use", "code_name", "c"+strconv.Itoa(i))
	}
	got := screen.String()
	for _, want := range []string{"rejected line NOT quarantined", "code_name=c0", "code_name=c" + strconv.Itoa(sameWarningShown-1)} {
		if !strings.Contains(got, want) {
			t.Errorf("screen lacks %q:\n%s", want, got)
		}
	}
	for _, never := range []string{"gateway running", "entry rejected", "msg=submission", "code_name=c" + strconv.Itoa(sameWarningShown)} {
		if strings.Contains(got, never) {
			t.Errorf("screen shows %q:\n%s", never, got)
		}
	}
	if st.perDoc != 2 || st.suppressed != 2 {
		t.Errorf("counted %d per-document and %d repeated warnings, want 2 and 2", st.perDoc, st.suppressed)
	}
}
