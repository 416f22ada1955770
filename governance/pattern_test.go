package governance

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

func TestPatternMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"GET /items/{id}", "GET /items/{id}", true},
		{"GET /items/{id}", "GET /items/{id}x", false},
		{"*", "", true},
		{"*", "anything/at all", true},
		{"GET *", "GET /a/b", true},
		{"GET *", "POST /a", false},
		{"*/healthz", "GET /healthz", true},
		{"*/admin/*", "POST /admin/kill", true},
		{"*/admin/*", "POST /administer", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "acb", false},
		{"ab*ba", "aba", false},
		{"a**b", "ab", true},
		{`a\*b`, "a*b", true},
		{`a\*b`, "axb", false},
		{`a\\*`, `a\xyz`, true},
		{"/pkg.Svc/*", "/pkg.Svc/Get", true},
	}
	for _, tc := range tests {
		p, err := compilePattern("Pattern", tc.pat)
		require.NoError(t, err, "%q", tc.pat)
		assert.Equal(t, tc.want, p.match(tc.s), "%q.match(%q)", tc.pat, tc.s)
		assert.Equal(t, tc.want, refMatch(tc.pat, tc.s), "reference %q.match(%q)", tc.pat, tc.s)
	}
}

func TestPatternInvalid(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", `a\`, `a\b`, "a\nb", "a\x7fb", "\xff", "a\u0085b", strings.Repeat("a", MaxPatternLen+1)} {
		err := ValidatePattern(s)
		var ce *baldur.ConfigError
		if assert.ErrorAs(t, err, &ce, "ValidatePattern(%q)", s) {
			assert.Equal(t, "Pattern", ce.Field, "ValidatePattern(%q) = %v", s, err)
		}
	}
}

// refMatch is an obviously correct (exponential) reference matcher.
func refMatch(pat, s string) bool {
	if pat == "" {
		return s == ""
	}
	switch {
	case pat[0] == '*':
		for i := 0; i <= len(s); i++ {
			if refMatch(pat[1:], s[i:]) {
				return true
			}
		}
		return false
	case pat[0] == '\\' && len(pat) > 1:
		return s != "" && s[0] == pat[1] && refMatch(pat[2:], s[1:])
	}
	return s != "" && s[0] == pat[0] && refMatch(pat[1:], s[1:])
}

func FuzzPattern(f *testing.F) {
	for _, seed := range [][2]string{
		{"GET /items/*", "GET /items/1"}, {"a*b*c", "aXbYc"}, {`a\*`, "a*"}, {"**", ""}, {`\\*x`, `\yx`}, {"*a*a*a*a", "aaaaaaab"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pat, s string) {
		p, err := compilePattern("Pattern", pat)
		if err != nil {
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce, "error is not a ConfigError on Pattern")
			require.Equal(t, "Pattern", ce.Field, "error %v is not a ConfigError on Pattern", err)
			return
		}
		if len(pat) > 24 || len(s) > 48 { // keep the reference matcher fast
			p.match(s)
			return
		}
		require.Equal(t, refMatch(pat, s), p.match(s), "%q.match(%q) against the reference", pat, s)
	})
}
