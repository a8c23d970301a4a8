//go:build !cgo

package libxml2

import (
	"errors"
	"testing"
)

func TestWithoutCgoNewSaysSo(t *testing.T) {
	if _, err := New(); !errors.Is(err, ErrNoCgo) || Available {
		t.Fatalf("New() = %v, Available %v; want ErrNoCgo and false", err, Available)
	}
}
