package admin_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/admin"
)

// FuzzConsoleReads sends arbitrary paths, queries, peers and identity
// headers to the console's reads with the rate limit on: nothing panics or
// answers 5xx, and every answer forbids framing.
func FuzzConsoleReads(f *testing.F) {
	for _, s := range []struct{ path, peer, ident string }{
		{"/audit?limit=3", "192.0.2.7:1", ""},
		{"/audit?limit=-1", "[::1]:9", "a@example.com"},
		{"/audit?limit=99999999999999999999", "10.0.0.1:5", "b@example.com"},
		{"/console/assets/../console.go", "@", ""},
		{"/console/assets/%2e%2e%2fdoc.go", "", "\xff"},
		{"/rejections", "10.0.0.1:5", "   "},
		{"/policies?x=%zz", "192.0.2.7", ""},
		{"/budget", "192.0.2.7:1", ""},
		{"/access", "10.1.1.1:1", "root"},
	} {
		f.Add(s.path, s.peer, s.ident)
	}
	e := newEnv(f, false, func(c *admin.Config) {
		c.RateLimit = admin.RateLimit{PerMinute: 50}
		trustProxies("10.0.0.0/8")(c)
	})
	e.reg.AdminIdentity.Set(admin.HeaderResolver{})
	f.Fuzz(func(t *testing.T, path, peer, ident string) {
		if len(path) == 0 || path[0] != '/' {
			path = "/" + path
		}
		r, err := http.NewRequest(http.MethodGet, "http://127.0.0.1"+path, nil)
		if err != nil {
			return // not a URL a client could send
		}
		r.RemoteAddr = peer
		r.Header.Set(admin.KeyHeader, viewerKey)
		r.Header.Set(admin.DefaultIdentityHeader, ident)
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, r)
		require.Less(t, w.Code, 500, "%q from %q: %s", path, peer, w.Body)
		require.Equal(t, "DENY", w.Header().Get("X-Frame-Options"))
	})
}
