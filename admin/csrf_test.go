package admin_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/admin"
)

// browserRequest is one request as a browser (or curl) would send it to the
// admin server on 127.0.0.1. host replaces the Host header ("" keeps the
// listener's address); hdr are extra header pairs.
type browserRequest struct {
	name   string
	method string
	path   string
	host   string
	ctype  string
	key    string
	hdr    []string
	want   int
}

// The attacks a page in the operator's browser can mount on a loopback admin
// server that allows keyless requests: a no-cors text/plain POST (no preflight),
// a cross-site POST from an older browser that sends Origin but no
// Sec-Fetch-Site, and DNS rebinding (same-origin as far as the browser knows,
// with the attacker's name in Host). None may throw a switch or read the status;
// curl-shaped requests with a loopback Host keep working.
func TestBrowserShapedRequests(t *testing.T) {
	t.Parallel()
	const killAll = `{"scope":"all","reason":"pwned"}`
	crossSite := []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "no-cors", "Sec-Fetch-Dest", "empty"}
	tests := []browserRequest{
		{name: "no-cors text/plain POST", method: http.MethodPost, path: "/killswitch", ctype: "text/plain;charset=UTF-8",
			hdr: crossSite, want: http.StatusForbidden},
		{name: "cross-site JSON POST", method: http.MethodPost, path: "/killswitch", ctype: "application/json",
			hdr: crossSite, want: http.StatusForbidden},
		{name: "cross-site POST without Sec-Fetch-Site", method: http.MethodPost, path: "/killswitch", ctype: "text/plain",
			hdr: []string{"Origin", "https://evil.example"}, want: http.StatusForbidden},
		{name: "same-site POST from another port", method: http.MethodPost, path: "/killswitch", ctype: "application/json",
			hdr: []string{"Origin", "http://127.0.0.1:1", "Sec-Fetch-Site", "same-site"}, want: http.StatusForbidden},
		{name: "opaque origin", method: http.MethodPost, path: "/killswitch", ctype: "application/json",
			hdr: []string{"Origin", "null"}, want: http.StatusForbidden},
		{name: "cross-site DELETE", method: http.MethodDelete, path: "/killswitch", ctype: "application/json",
			hdr: crossSite, want: http.StatusForbidden},
		{name: "rebinding POST", method: http.MethodPost, path: "/killswitch", host: "rebind.evil.example:8080", ctype: "application/json",
			hdr: []string{"Origin", "http://rebind.evil.example:8080", "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors"}, want: http.StatusForbidden},
		{name: "rebinding GET /status", method: http.MethodGet, path: "/status", host: "rebind.evil.example:8080",
			hdr: []string{"Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors"}, want: http.StatusForbidden},
		{name: "rebinding Host without port", method: http.MethodGet, path: "/status", host: "evil.example", want: http.StatusForbidden},
		{name: "loopback-looking name", method: http.MethodGet, path: "/status", host: "127.0.0.1.evil.example", want: http.StatusForbidden},
		{name: "curl form POST", method: http.MethodPost, path: "/killswitch", ctype: "application/x-www-form-urlencoded", want: http.StatusUnsupportedMediaType},
		{name: "POST without Content-Type", method: http.MethodPost, path: "/killswitch", want: http.StatusUnsupportedMediaType},
		{name: "text/plain with a key", method: http.MethodPost, path: "/killswitch", ctype: "text/plain", key: operatorKey, want: http.StatusUnsupportedMediaType},
		{name: "JSON look-alike type", method: http.MethodPost, path: "/killswitch", ctype: "application/json-seq", want: http.StatusUnsupportedMediaType},

		{name: "curl JSON POST", method: http.MethodPost, path: "/killswitch", ctype: "application/json", want: http.StatusOK},
		{name: "JSON with charset", method: http.MethodPost, path: "/killswitch", ctype: "application/json; charset=utf-8", want: http.StatusOK},
		{name: "Host localhost", method: http.MethodPost, path: "/killswitch", host: "localhost:9090", ctype: "application/json", want: http.StatusOK},
		{name: "Host LOCALHOST without port", method: http.MethodGet, path: "/status", host: "LOCALHOST", want: http.StatusOK},
		{name: "Host [::1]", method: http.MethodGet, path: "/status", host: "[::1]:9090", want: http.StatusOK},
		{name: "Host 127.1.2.3", method: http.MethodGet, path: "/status", host: "127.1.2.3", want: http.StatusOK},
		{name: "same-origin browser POST", method: http.MethodPost, path: "/killswitch", ctype: "application/json",
			hdr: []string{"Sec-Fetch-Site", "same-origin"}, want: http.StatusOK},
		{name: "typed in the address bar", method: http.MethodGet, path: "/status",
			hdr: []string{"Sec-Fetch-Site", "none"}, want: http.StatusOK},
		{name: "cross-site GET is a read", method: http.MethodGet, path: "/status", hdr: crossSite, want: http.StatusOK},
		{name: "a key does not need a loopback Host", method: http.MethodPost, path: "/killswitch", host: "admin.internal:9090",
			ctype: "application/json", key: operatorKey, want: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, false, func(c *admin.Config) { c.AllowNoKeyFromLoopback = true })
			ts := httptest.NewServer(e.srv)
			defer ts.Close()
			body := ""
			if tt.method != http.MethodGet {
				body = killAll
				if tt.method == http.MethodDelete {
					body = `{"scope":"all"}`
				}
			}
			req, err := http.NewRequest(tt.method, ts.URL+tt.path, strings.NewReader(body))
			require.NoError(t, err)
			if tt.host != "" {
				req.Host = tt.host
			}
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			if tt.key != "" {
				req.Header.Set(admin.KeyHeader, tt.key)
			}
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				req.Header.Set(tt.hdr[i], tt.hdr[i+1])
			}
			resp, err := overClient.Do(req)
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			assert.Equal(t, tt.want, resp.StatusCode, "%s", b)
			if resp.StatusCode != http.StatusOK {
				assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), "%s", b)
			}
			if tt.method == http.MethodPost && tt.want != http.StatusOK {
				kss := e.status(t, viewerKey)["governance"].(map[string]any)["kill_switches"]
				assert.Empty(t, kss, "a refused request threw a kill switch")
			}
		})
	}
}
