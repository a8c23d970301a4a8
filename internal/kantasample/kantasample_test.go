package kantasample

import (
	"bytes"
	"os"
	"testing"
)

// The paths name the very bytes embedded, and the sample is the message it
// is said to be.
func TestPathsAndBytesAgree(t *testing.T) {
	for path, want := range map[string][]byte{MessagePath(): Message(), SignerPath(): SignerPEM()} {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the embedded copy", path)
		}
	}
	if !bytes.Contains(Message(), []byte("RCMR_IN100002FI01")) || !bytes.Contains(SignerPEM(), []byte("BEGIN CERTIFICATE")) {
		t.Error("the sample files are not what their names say")
	}
	m := Message()
	m[0] = 'X'
	if Message()[0] == 'X' {
		t.Error("an edit of one caller's copy reached the next caller")
	}
}
