package documents

import (
	"errors"
	"time"
)

// Henkilötunnus (Finnish personal identity code): DDMMYYCZZZQ where C is the
// century sign, ZZZ the individual number and Q the check character.

const hetuCheckChars = "0123456789ABCDEFHJKLMNPRSTUVWXY"

// Hetu errors say what is wrong without repeating the code itself, so they
// can go to logs and rejection reports.
var (
	ErrHetuFormat     = errors.New("identity code is not of the form DDMMYYCZZZQ")
	ErrHetuCentury    = errors.New("identity code has an unknown century sign")
	ErrHetuDate       = errors.New("identity code's date part is not a calendar date")
	ErrHetuIndividual = errors.New("identity code's individual number is out of range (002-999)")
	ErrHetuCheck      = errors.New("identity code's check character does not match")
)

// HetuInfo is what an identity code tells about its holder.
type HetuInfo struct {
	BirthDate  Date
	Individual int
}

// IsTestCode reports whether the individual number is in the range reserved
// for test identity codes (900-999).
func (h HetuInfo) IsTestCode() bool { return h.Individual >= 900 }

// ParseHetu validates an identity code: format, century sign, date, individual
// number and check character. It allocates nothing on the success path.
func ParseHetu(s string) (HetuInfo, error) {
	if len(s) != 11 {
		return HetuInfo{}, ErrHetuFormat
	}
	for i := 0; i < 6; i++ {
		if !isDigit(s[i]) {
			return HetuInfo{}, ErrHetuFormat
		}
	}
	for i := 7; i < 10; i++ {
		if !isDigit(s[i]) {
			return HetuInfo{}, ErrHetuFormat
		}
	}
	var century int
	switch s[6] {
	case '+':
		century = 1800
	case '-', 'Y', 'X', 'W', 'V', 'U':
		century = 1900
	case 'A', 'B', 'C', 'D', 'E', 'F':
		century = 2000
	default:
		return HetuInfo{}, ErrHetuCentury
	}
	day := num2(s[0:2])
	month := num2(s[2:4])
	year := century + num2(s[4:6])
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, time.Month(month)) {
		return HetuInfo{}, ErrHetuDate
	}
	individual := int(s[7]-'0')*100 + int(s[8]-'0')*10 + int(s[9]-'0')
	if individual < 2 {
		return HetuInfo{}, ErrHetuIndividual
	}
	n := 0
	for _, i := range [...]int{0, 1, 2, 3, 4, 5, 7, 8, 9} {
		n = n*10 + int(s[i]-'0')
	}
	if hetuCheckChars[n%31] != s[10] {
		return HetuInfo{}, ErrHetuCheck
	}
	return HetuInfo{BirthDate: Date{year, time.Month(month), day}, Individual: individual}, nil
}

// HetuCheckChar computes the check character for the first ten characters
// of an identity code (used by the fixture generator).
func HetuCheckChar(first10 string) byte {
	n := 0
	for _, i := range [...]int{0, 1, 2, 3, 4, 5, 7, 8, 9} {
		n = n*10 + int(first10[i]-'0')
	}
	return hetuCheckChars[n%31]
}

// HetuCenturySign returns the sign for a birth year (the newest sign of each
// century: '-', 'A'; '+' for the 1800s).
func HetuCenturySign(year int) byte {
	switch {
	case year < 1900:
		return '+'
	case year < 2000:
		return '-'
	default:
		return 'A'
	}
}

// MaskHetu keeps the birth date part and masks the rest, as Kanta's display
// forms do (180418*****).
func MaskHetu(s string) string {
	if len(s) < 6 {
		return "*****"
	}
	return s[:6] + "*****"
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func num2(s string) int   { return int(s[0]-'0')*10 + int(s[1]-'0') }

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
