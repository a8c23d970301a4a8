package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// once exits 0 only when every due document was acknowledged: a document
// left for a retry (an archive that answered something unreadable) is exit
// 4 with the earliest retry named, and a rejection or dead letter is 3
// whatever else waits.
func TestOnceExitStatus(t *testing.T) {
	cfg := config.Default()
	a := &app{cfg: &cfg}
	retryAt := time.Date(2026, 9, 1, 9, 30, 0, 0, time.UTC)
	waiting := queue.Stats{Depth: map[string]int{queue.StateDone: 4, queue.StateRetryable: 1}, Retrying: 1, NextRetry: retryAt}
	for _, tc := range []struct {
		name string
		res  onceResult
		code int
		says string
	}{
		{"all acknowledged", onceResult{stats: queue.Stats{Depth: map[string]int{queue.StateDone: 5}}}, ExitOK, ""},
		{"one left for a retry", onceResult{stats: waiting}, ExitRetryLater, "1 documents not acknowledged yet"},
		{"rejected and one waiting", onceResult{rejected: 1, stats: waiting}, ExitRejected, "1 entries rejected"},
	} {
		err := tc.res.exit(a)
		code := ExitOK
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		} else if err != nil {
			code = ExitFailure
		}
		if code != tc.code || (tc.says != "" && !strings.Contains(err.Error(), tc.says)) {
			t.Errorf("%s: exit %d (%v), want %d saying %q", tc.name, code, err, tc.code, tc.says)
		}
	}
	var out bytes.Buffer
	r := onceResult{stats: waiting}
	r.print(a, &out)
	want := "earliest retry " + retryAt.In(cfg.Location()).Format(time.RFC3339)
	if !strings.Contains(out.String(), want) || strings.Contains(out.String(), "held release") {
		t.Errorf("summary %q: want %q and no held release", out.String(), want)
	}
}
