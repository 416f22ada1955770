package admin_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The console's files are served without a key (a navigation cannot send
// the header; they hold no data) under a strict policy: own origin only,
// no inline script or style, no framing.
func TestConsoleServesAssetsUnderStrictPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, nil)
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/console", "text/html", `<script src="console/assets/console.js" defer></script>`},
		{"/console/assets/console.js", "javascript", "textContent"},
		{"/console/assets/console.css", "text/css", ":root"},
	} {
		w := e.call(http.MethodGet, tc.path, "", "")
		require.Equal(t, http.StatusOK, w.Code, tc.path)
		assert.Contains(t, w.Header().Get("Content-Type"), tc.ctype, tc.path)
		assert.Contains(t, w.Body.String(), tc.contains, tc.path)
		csp := w.Header().Get("Content-Security-Policy")
		assert.Contains(t, csp, "default-src 'self'", tc.path)
		assert.Contains(t, csp, "script-src 'self';", tc.path)
		assert.Contains(t, csp, "frame-ancestors 'none'", tc.path)
		assert.NotContains(t, csp, "unsafe-inline", tc.path)
		assert.NotContains(t, csp, "unsafe-eval", tc.path)
		assert.Equal(t, "DENY", w.Header().Get("X-Frame-Options"), tc.path)
		assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"), tc.path)
	}
	for _, p := range []string{"/console/assets/nope.js", "/console/assets/..%2fconsole.go", "/console/assets/"} {
		w := e.call(http.MethodGet, p, "", "")
		assert.NotEqual(t, http.StatusOK, w.Code, p)
	}
}

// The page has no inline script, style attribute or event handler, and the
// script writes data only as text: the policy would refuse the former, and
// the latter would turn a hostile reason into markup.
func TestConsoleHasNoInlineCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, nil)
	page := e.call(http.MethodGet, "/console", "", "").Body.String()
	assert.NotRegexp(t, `<script>|<script [^>]*>[^<]|<style|style=| on[a-z]+=`, page)
	js := e.call(http.MethodGet, "/console/assets/console.js", "", "").Body.String()
	for _, bad := range []string{`\.innerHTML\b`, `\.outerHTML\b`, `insertAdjacentHTML\(`, `document\.write`, `\beval\(`, `new Function`, `\blocalStorage\.`, `document\.cookie`} {
		assert.False(t, regexp.MustCompile(bad).MatchString(js), "console.js uses %s", bad)
	}
}

// Every JSON answer forbids framing and loading anything.
func TestAPIAnswersCarrySecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, nil)
	for _, w := range []interface{ Header() http.Header }{
		e.call(http.MethodGet, "/status", viewerKey, ""),
		e.call(http.MethodGet, "/status", "", ""),
		e.op(http.MethodPost, "/killswitch", `{"scope":"all","reason":"r"}`),
	} {
		assert.Equal(t, "DENY", w.Header().Get("X-Frame-Options"))
		assert.True(t, strings.HasPrefix(w.Header().Get("Content-Security-Policy"), "default-src 'none'"))
	}
}

func TestAccessEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, nil)
	for _, tc := range []struct {
		key, want string
		invalid   bool
	}{
		{"", "PUBLIC", false},
		{viewerKey, "VIEWER", false},
		{operatorKey, "ADMIN", false}, // newEnv unlocks
		{"not-a-key-0123456789", "PUBLIC", true},
	} {
		w := e.call(http.MethodGet, "/access", tc.key, "")
		require.Equal(t, http.StatusOK, w.Code)
		m := decodeBody(t, w)
		assert.Equal(t, tc.want, m["access"], tc.key)
		assert.Equal(t, "anonymous", m["actor"])
		if tc.invalid {
			assert.Equal(t, true, m["invalid_key"])
		} else {
			assert.Nil(t, m["invalid_key"])
		}
	}
}
