package middleware_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/middleware"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted, err := middleware.ParseTrustedProxies("10.0.0.0/8", "::1", "fd00::/8")
	require.NoError(t, err)
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"untrusted peer ignores XFF", "1.2.3.4:5678", []string{"9.9.9.9"}, "1.2.3.4"},
		{"trusted peer uses XFF", "10.0.0.1:80", []string{"9.9.9.9"}, "9.9.9.9"},
		{"rightmost untrusted wins", "10.0.0.1:80", []string{"6.6.6.6, 9.9.9.9, 10.0.0.2"}, "9.9.9.9"},
		{"multiple header lines", "10.0.0.1:80", []string{"6.6.6.6", "7.7.7.7, 10.0.0.3"}, "7.7.7.7"},
		{"all trusted gives leftmost", "10.0.0.1:80", []string{"10.0.0.9, 10.0.0.2"}, "10.0.0.9"},
		{"malformed entry stops walk", "10.0.0.1:80", []string{"6.6.6.6, garbage, 10.0.0.2"}, "10.0.0.2"},
		{"empty XFF", "10.0.0.1:80", []string{""}, "10.0.0.1"},
		{"ipv6 peer", "[::1]:443", []string{"2001:db8::1"}, "2001:db8::1"},
		{"ipv6 untrusted", "[2001:db8::5]:443", []string{"1.1.1.1"}, "2001:db8::5"},
		{"no port", "1.2.3.4", nil, "1.2.3.4"},
		{"garbage remote", "not-an-ip", []string{"1.1.1.1"}, "not-an-ip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			assert.Equal(t, tc.want, trusted.ClientIP(r))
		})
	}
}

func TestClientIPBoundsHops(t *testing.T) {
	t.Parallel()
	trusted, err := middleware.ParseTrustedProxies("10.0.0.0/8")
	require.NoError(t, err)
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "6.6.6.6,"+strings.Repeat("10.0.0.2,", 10000)+"10.0.0.3")
	// The forged address beyond the hop bound is never reached.
	assert.NotEqual(t, "6.6.6.6", trusted.ClientIP(r))
}

func TestParseTrustedProxiesErrors(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"10.0.0.0/33", "nope", "1.2.3.4/x", ""} {
		_, err := middleware.ParseTrustedProxies(bad)
		var ce *baldur.ConfigError
		assert.True(t, errors.As(err, &ce), "%q: %v", bad, err)
	}
}

func TestKeyHeaderTruncatesAndFallsBack(t *testing.T) {
	t.Parallel()
	k := middleware.KeyHeader("x-tenant", func(*http.Request) string { return "fallback" })
	r := httptest.NewRequest("GET", "/", nil)
	assert.Equal(t, "fallback", k(r))
	r.Header.Set("X-Tenant", strings.Repeat("a", 5000))
	assert.Len(t, k(r), 256)
}

func FuzzClientIP(f *testing.F) {
	trusted, err := middleware.ParseTrustedProxies("10.0.0.0/8", "::1")
	require.NoError(f, err)
	f.Add("10.0.0.1:80", "1.2.3.4, 10.0.0.2")
	f.Add("[::1]:1", "::ffff:1.2.3.4,,, ,")
	f.Add("[", "[::1]:80")
	f.Add("10.0.0.1:80", strings.Repeat(",", 100))
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {xff}}}
		got := trusted.ClientIP(r)
		// The result is always a substring of what the request carried.
		require.True(t, strings.Contains(remote, got) || strings.Contains(xff, got),
			"ClientIP(%q, %q) = %q, not from the request", remote, xff, got)
	})
}

func FuzzTierHeader(f *testing.F) {
	trusted, err := middleware.ParseTrustedProxies("10.0.0.0/8")
	require.NoError(f, err)
	f.Add("critical", "/x")
	f.Add(strings.Repeat("z", 10000), "/recs/")
	f.Add("\x00", "")
	g := &fakeGate{kind: baldur.StageBulkhead}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "f", Gates: []baldur.Gate{g}})
	require.NoError(f, err)
	h := middleware.New(baldur.Static(p), middleware.WithTrustedProxies(trusted), middleware.WithTierHeader("X-Baldur-Tier"),
		middleware.WithTierRules(middleware.TierRule{Path: "/recs/", Tier: baldur.TierNonEssential}))(http.NotFoundHandler())
	f.Fuzz(func(t *testing.T, tier, path string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.Path = path
		r.RemoteAddr = "10.0.0.1:1"
		r.Header["X-Baldur-Tier"] = []string{tier}
		h.ServeHTTP(httptest.NewRecorder(), r)
		got := g.lastCall.Load().(baldur.Call).Tier
		require.True(t, got.Valid(), "invalid tier %v", got)
		if want, err := baldur.ParseTier(tier); err == nil {
			require.Equal(t, want, got, "trusted tier header %q", tier)
		}
	})
}

func TestKeyTrustedHeader(t *testing.T) {
	t.Parallel()
	trusted, err := middleware.ParseTrustedProxies("10.0.0.0/8")
	require.NoError(t, err)
	k := middleware.KeyTrustedHeader("X-Tenant", trusted, nil)
	tests := []struct{ remote, tenant, xff, want string }{
		{"1.2.3.4:1", "acme", "", "1.2.3.4"},     // untrusted peer: header ignored
		{"10.0.0.1:1", "acme", "", "acme"},       // trusted proxy sets it
		{"10.0.0.1:1", "", "9.9.9.9", "9.9.9.9"}, // absent: client IP through the proxy
		{"1.2.3.4:1", "", "9.9.9.9", "1.2.3.4"},  // untrusted XFF ignored
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.tenant != "" {
			r.Header.Set("X-Tenant", tc.tenant)
		}
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		assert.Equal(t, tc.want, k(r), "%+v", tc)
	}
}

func TestClientIPTrustingNobody(t *testing.T) {
	t.Parallel()
	var none middleware.TrustedProxies
	for remote, want := range map[string]string{
		"1.2.3.4:80":      "1.2.3.4",
		"[2001:db8::1]:1": "2001:db8::1",
		"1.2.3.4":         "1.2.3.4",
		"garbage":         "garbage",
		"":                "",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", "6.6.6.6")
		assert.Equal(t, want, none.ClientIP(r), remote)
	}
}
