package admin_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/admin"
)

var fuzzRoutes = []struct{ method, path string }{
	{http.MethodPost, "/killswitch"},
	{http.MethodDelete, "/killswitch"},
	{http.MethodPost, "/emergency/trigger"},
	{http.MethodPost, "/emergency/stepdown"},
	{http.MethodPost, "/breakglass"},
	{http.MethodPost, "/breakers/force"},
	{http.MethodPost, "/reload"},
}

// FuzzRequestBody sends arbitrary bodies to every write endpoint as an
// ADMIN: decoding never panics, never answers 5xx, and always answers JSON.
func FuzzRequestBody(f *testing.F) {
	seeds := []string{
		`{"scope":"operation","pattern":"GET /api/*","reason":"r","expires_in":"1m"}`,
		`{"scope":"all"}`,
		`{"level":"LEVEL_2","reason":"r","duration":60}`,
		`{"level":1e308,"reason":"r"}`,
		`{"reason":"r"}`,
		`{"on":true,"reason":"r"}`,
		`{"policy":"api","partition_key":"k","state":"open","ttl":"5m"}`,
		`{"path":"baldur.json"}`,
		testConfig,
		`{"expires_in":1e19}`, `{"duration":"-9223372036854775808ns"}`,
		"", "{", "null", "[]", `{"a":1}`, "{}{}", "\xff",
	}
	for i, s := range seeds {
		for r := range fuzzRoutes {
			if r == i%len(fuzzRoutes) || len(s) < 40 {
				f.Add(uint8(r), s)
			}
		}
	}
	e := newEnv(f, false, func(c *admin.Config) { c.ConfigDir = f.TempDir() })
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		r := httptest.NewRequest(rt.method, rt.path, strings.NewReader(body))
		r.RemoteAddr = "192.0.2.7:40000"
		r.Header.Set(admin.KeyHeader, operatorKey)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, r)
		require.Less(t, w.Code, 500, "%s %s %q: %s", rt.method, rt.path, body, w.Body)
		require.True(t, json.Valid(w.Body.Bytes()), "%s %s %q: answer is not JSON: %s", rt.method, rt.path, body, w.Body)
	})
}
