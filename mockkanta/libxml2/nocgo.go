//go:build !cgo

package libxml2

import "errors"

// Available reports whether this build has the in-process validator.
const Available = false

// ErrNoCgo is what New returns in a build without cgo.
var ErrNoCgo = errors.New("libxml2: this binary was built without cgo (CGO_ENABLED=0); the in-process CDA schema validator needs cgo and libxml2-dev")

// Validator is the cgo build's validator; without cgo it cannot be made.
type Validator struct{}

// New fails: there is no libxml2 in this build.
func New() (*Validator, error) { return nil, ErrNoCgo }

// ValidateCDA is never reached (New fails).
func (v *Validator) ValidateCDA([]byte) error { return ErrNoCgo }

// Close does nothing.
func (v *Validator) Close() error { return nil }
