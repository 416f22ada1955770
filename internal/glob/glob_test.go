package glob_test

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/baldur-go/baldur/internal/glob"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "GET /api/items/{id}", true},
		{"GET /api/*", "GET /api/items/{id}", true},
		{"GET /api/*", "POST /api/items", false},
		{"*/items/*", "GET /api/items/{id}", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "acb", false},
		{"**", "x", true},
		{"a", "aa", false},
		{"/pkg.Svc/*", "/pkg.Svc/Get", true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, glob.Match(tt.pattern, tt.s), "%q ~ %q", tt.pattern, tt.s)
	}
}

// FuzzMatch compares Match with the regular expression the pattern means.
func FuzzMatch(f *testing.F) {
	f.Add("a*b", "axxb")
	f.Add("*/x/*", "/a/x/b")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 64 || len(s) > 256 {
			return
		}
		// regexp works on UTF-8 runes; compare on valid UTF-8 only.
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return
		}
		parts := strings.Split(pattern, "*")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		re := regexp.MustCompile(`(?s)\A` + strings.Join(parts, ".*") + `\z`)
		assert.Equal(t, re.MatchString(s), glob.Match(pattern, s), "%q ~ %q", pattern, s)
	})
}

func TestMatchAllocatesNothing(t *testing.T) {
	var ok bool
	allocs := testing.AllocsPerRun(100, func() { ok = glob.Match("GET /api/*/x", "GET /api/items/x") })
	assert.True(t, ok)
	assert.Zero(t, allocs)
}
