package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// spool.max_finalized_ahead bounds how far finalized_at may lie after the
// time of reading: a day by default, set from the file, never 0 or less.
func TestMaxFinalizedAhead(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Spool.MaxFinalizedAhead != 24*time.Hour {
		t.Errorf("default %v, want 24h", c.Spool.MaxFinalizedAhead)
	}
	c, err = Load(writeFile(t, "spool:\n  max_finalized_ahead: 36h\n"))
	if err != nil || c.Spool.MaxFinalizedAhead != 36*time.Hour {
		t.Errorf("from the file: %v, %v", c.Spool.MaxFinalizedAhead, err)
	}
	for _, v := range []string{"0s", "-1h"} {
		_, err := Load(writeFile(t, "spool:\n  max_finalized_ahead: "+v+"\n"))
		var fe *FieldError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), "spool.max_finalized_ahead:") {
			t.Errorf("%s: error %v does not name spool.max_finalized_ahead", v, err)
		}
	}
}
