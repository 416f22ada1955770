package admin_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/admin"
)

// The identity header is believed only from a peer inside the trusted proxy
// prefixes: anyone else who sends X-Forwarded-Email is recorded as anonymous.
func TestIdentityOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	const email = "alice@example.com"
	tests := []struct {
		name      string
		peer      string
		wantActor string
	}{
		{"trusted proxy", "10.1.2.3:5000", email},
		{"proxy in a v4-mapped prefix", "192.0.2.44:5000", email},
		{"trusted v6 proxy", "[fd00::7]:5000", email},
		{"v4-mapped trusted proxy", "[::ffff:10.1.2.3]:5000", email},
		{"untrusted peer forges the header", "203.0.113.9:5000", baldur.AnonymousActor},
		{"loopback peer is not a trusted proxy", "127.0.0.1:5000", baldur.AnonymousActor},
		{"unparsable peer", "@", baldur.AnonymousActor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, false, trustProxies("10.0.0.0/8", "fd00::/8", "::ffff:192.0.2.0/120"))
			e.reg.AdminIdentity.Set(admin.HeaderResolver{})
			r := httptest.NewRequest(http.MethodPost, "/emergency/trigger", strings.NewReader(`{"level":1,"reason":"drill"}`))
			r.RemoteAddr = tt.peer
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set(admin.KeyHeader, operatorKey)
			r.Header.Set("X-Forwarded-Email", email)
			w := httptest.NewRecorder()
			e.srv.ServeHTTP(w, r)
			require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
			assert.Equal(t, tt.wantActor, decodeBody(t, w)["actor"])
			if tt.wantActor == baldur.AnonymousActor {
				assert.NotContains(t, e.logs.String(), email, "an untrusted identity reached the log")
			}
		})
	}
}

// A keyless loopback request that carries the identity header came through a
// proxy on the same host, like one with X-Forwarded-For: it is not local.
func TestIdentityHeaderIsNotLocal(t *testing.T) {
	t.Parallel()
	for _, hdr := range []string{"X-Forwarded-Email", "x-forwarded-email", "X-Auth-User"} {
		t.Run(hdr, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, false, func(c *admin.Config) { c.AllowNoKeyFromLoopback = true })
			e.reg.AdminIdentity.Set(admin.HeaderResolver{Header: "X-Auth-User"})
			r := httptest.NewRequest(http.MethodPost, "/emergency/trigger", strings.NewReader(`{"level":1,"reason":"drill"}`))
			r.RemoteAddr = "127.0.0.1:5000"
			r.Host = "127.0.0.1:9090"
			r.Header.Set("Content-Type", "application/json")
			r.Header[http.CanonicalHeaderKey(hdr)] = []string{"alice@example.com"}
			w := httptest.NewRecorder()
			e.srv.ServeHTTP(w, r)
			assert.Equal(t, http.StatusForbidden, w.Code, "%s", w.Body)
		})
	}
}
