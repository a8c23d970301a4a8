package documents

import (
	"errors"
	"strings"
	"testing"
)

func TestParseHetu(t *testing.T) {
	cases := []struct {
		code       string
		birth      string
		individual int
		err        error
	}{
		{"010114A921S", "2014-01-01", 921, nil},
		{"131052-308T", "1952-10-13", 308, nil},
		{"131052Y308T", "1952-10-13", 308, nil}, // newer 1900s sign
		{"010114B921S", "2014-01-01", 921, nil}, // newer 2000s sign
		{"290200A902D", "2000-02-29", 902, nil}, // leap day
		{"010185+999L", "1885-01-01", 999, nil},
		{"010114A921", "", 0, ErrHetuFormat},
		{"010114A921SS", "", 0, ErrHetuFormat},
		{"01O114A921S", "", 0, ErrHetuFormat},
		{"010114A9X1S", "", 0, ErrHetuFormat},
		{"010114G921S", "", 0, ErrHetuCentury},
		{"010114a921S", "", 0, ErrHetuCentury},
		{"290201A902N", "", 0, ErrHetuDate}, // 2001 is not a leap year
		{"320114A921S", "", 0, ErrHetuDate},
		{"011314A921S", "", 0, ErrHetuDate},
		{"010114A001S", "", 0, ErrHetuIndividual},
		{"010114A921T", "", 0, ErrHetuCheck},
	}
	for _, tc := range cases {
		info, err := ParseHetu(tc.code)
		if !errors.Is(err, tc.err) {
			t.Errorf("ParseHetu(%s): error %v, want %v", tc.code, err, tc.err)
			continue
		}
		if err != nil {
			if info != (HetuInfo{}) {
				t.Errorf("ParseHetu(%s): info %+v with an error", tc.code, info)
			}
			continue
		}
		if info.BirthDate != MustDate(tc.birth) || info.Individual != tc.individual {
			t.Errorf("ParseHetu(%s) = %+v, want %s / %d", tc.code, info, tc.birth, tc.individual)
		}
		if info.IsTestCode() != (tc.individual >= 900) {
			t.Errorf("ParseHetu(%s).IsTestCode() = %v", tc.code, info.IsTestCode())
		}
	}
}

func TestHetuCheckCharAgreesWithParse(t *testing.T) {
	for _, first10 := range []string{"010114A921", "131052-308", "290200A902", "311299-999", "010100A002"} {
		code := first10 + string(HetuCheckChar(first10))
		if _, err := ParseHetu(code); err != nil {
			t.Errorf("%s: %v", code, err)
		}
	}
}

func TestHetuErrorsHoldNoCode(t *testing.T) {
	for _, code := range []string{"010114A921T", "010114G921S", "320114A921S", "010114A001S", "0101"} {
		_, err := ParseHetu(code)
		if err == nil {
			t.Fatalf("%s accepted", code)
		}
		for _, part := range []string{code, code[:4]} {
			if len(part) >= 4 && strings.Contains(err.Error(), part) {
				t.Errorf("error %q repeats the code", err)
			}
		}
	}
}

func TestMaskHetu(t *testing.T) {
	if got := MaskHetu("010114A921S"); got != "010114*****" {
		t.Errorf("MaskHetu = %q", got)
	}
	if got := MaskHetu("01"); got != "*****" {
		t.Errorf("MaskHetu(short) = %q", got)
	}
}
