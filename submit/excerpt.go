package submit

import (
	"bytes"
	"html"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// An answer that is not an acknowledgement is reported to the operator
// with a short excerpt, so "the firewall's login page" can be told from
// "a SOAP fault" at a glance. The excerpt is not allowed to carry personal
// data: it is at most excerptMax characters, taken from the page title or
// the first words of text, with identity-code-shaped text, e-mail
// addresses and every run of digits masked.

const excerptMax = 80

var (
	// henkilötunnus: DDMMYY, century sign, individual number, check character.
	hetuShape  = regexp.MustCompile(`(?i)\b\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]\b`)
	emailShape = regexp.MustCompile(`\S+@\S+`)
	digitRun   = regexp.MustCompile(`\d+`)
	htmlTitle  = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	markup     = regexp.MustCompile(`(?s)<!--.*?-->|<script.*?</script>|<style.*?</style>|<[^>]*>`)
)

// looksHTML reports whether body is an HTML page rather than an XML message.
func looksHTML(body []byte) bool {
	head := bytes.ToLower(body[:min(len(body), 512)])
	return bytes.Contains(head, []byte("<!doctype html")) || bytes.Contains(head, []byte("<html")) ||
		bytes.Contains(head, []byte("<title"))
}

// excerpt is the operator-safe summary of an unreadable answer: an HTML
// page's title (or its first words), otherwise the first words of text.
func excerpt(body []byte) string {
	s := string(body[:min(len(body), 64<<10)])
	if looksHTML(body) {
		if m := htmlTitle.FindStringSubmatch(s); m != nil && strings.TrimSpace(m[1]) != "" {
			s = m[1]
		}
	}
	s = html.UnescapeString(markup.ReplaceAllString(s, " "))
	return mask(s, excerptMax)
}

// mask collapses white space, drops control characters, masks personal-
// data-shaped text and cuts the result to at most max characters.
func mask(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (unicode.IsControl(r) && !unicode.IsSpace(r)) {
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	s = hetuShape.ReplaceAllString(s, "[id]")
	s = emailShape.ReplaceAllString(s, "[email]")
	s = digitRun.ReplaceAllString(s, "#")
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = strings.TrimSpace(string(r[:max-1])) + "…"
	}
	return s
}
