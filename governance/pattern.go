package governance

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/clip"
)

// MaxPatternLen bounds an operation or service pattern, in bytes.
const MaxPatternLen = 256

// pattern is a compiled glob: '*' matches any run of characters (slashes
// included), '\*' and '\\' are a literal star and backslash. Nothing else is
// special, so route patterns such as "GET /items/{id}" match themselves.
//
// Only '*' is supported on purpose: with a single wildcard the leftmost
// greedy match below is exact and linear in practice, which keeps a check
// per call cheap and predictable (no backtracking blow-up).
type pattern struct {
	raw   string
	parts []string // literal runs between stars; len(parts) == stars+1
}

// compilePattern validates and compiles s. field names the configuration
// field in the returned *baldur.ConfigError.
func compilePattern(field, s string) (pattern, error) {
	bad := func(reason string) (pattern, error) {
		return pattern{}, &baldur.ConfigError{Field: field, Value: quote(clip.String(s)), Reason: reason}
	}
	if s == "" {
		return bad("must not be empty")
	}
	if len(s) > MaxPatternLen {
		return bad("longer than 256 bytes")
	}
	if !utf8.ValidString(s) {
		return bad("is not valid UTF-8")
	}
	var parts []string
	var cur strings.Builder
	star := false // the previous token was an unescaped star
	for i := 0; i < len(s); i++ {
		ch := s[i]
		wasStar := star
		star = false
		switch {
		case ch == '\\':
			if i+1 == len(s) || (s[i+1] != '*' && s[i+1] != '\\') {
				return bad(`backslash must escape '*' or '\'`)
			}
			i++
			cur.WriteByte(s[i])
		case ch == '*':
			star = true
			if wasStar { // consecutive stars mean the same as one
				continue
			}
			parts = append(parts, cur.String())
			cur.Reset()
		case ch < utf8.RuneSelf && unicode.IsControl(rune(ch)):
			return bad("contains a control character")
		default:
			cur.WriteByte(ch)
		}
	}
	parts = append(parts, cur.String())
	for _, r := range s {
		if r >= utf8.RuneSelf && unicode.IsControl(r) {
			return bad("contains a control character")
		}
	}
	return pattern{raw: s, parts: parts}, nil
}

// ValidatePattern reports whether s is a valid kill-switch or exemption
// pattern, as a *baldur.ConfigError naming field "Pattern" when it is not.
func ValidatePattern(s string) error {
	_, err := compilePattern("Pattern", s)
	return err
}

// match reports whether s matches the whole pattern.
func (p *pattern) match(s string) bool {
	parts := p.parts
	if len(parts) == 1 {
		return s == parts[0]
	}
	first, last := parts[0], parts[len(parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[len(first) : len(s)-len(last)]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return true
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			b.WriteString("\\?")
			continue
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
