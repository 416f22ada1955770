package admin_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/admin"
)

// TestAccessLevels runs a read (VIEWER), an operator write and an ADMIN
// write for each kind of caller.
func TestAccessLevels(t *testing.T) {
	t.Parallel()
	const (
		read  = "GET /status"
		write = "POST /emergency/stepdown" // OPERATOR; 409 at NORMAL once admitted
		admn  = "POST /breakglass"         // ADMIN
	)
	bodies := map[string]string{read: "", write: `{"reason":"r"}`, admn: `{"on":false}`}
	tests := []struct {
		name     string
		unlock   bool
		loopback bool // allow no key from loopback
		peer     string
		key      string
		hdr      []string
		want     map[string]int
	}{
		{"no key, remote", true, true, "192.0.2.7:1", "", nil,
			map[string]int{read: 403, write: 403, admn: 403}},
		{"viewer key", true, false, "192.0.2.7:1", viewerKey, nil,
			map[string]int{read: 200, write: 403, admn: 403}},
		{"operator key, locked", false, false, "192.0.2.7:1", operatorKey, nil,
			map[string]int{read: 200, write: 409, admn: 403}},
		{"operator key, unlocked", true, false, "192.0.2.7:1", operatorKey, nil,
			map[string]int{read: 200, write: 409, admn: 200}},
		{"wrong key", true, false, "192.0.2.7:1", "not-the-key-0123456789", nil,
			map[string]int{read: 403, write: 403, admn: 403}},
		{"wrong key from loopback", true, true, "127.0.0.1:1", "not-the-key-0123456789", nil,
			map[string]int{read: 403, write: 403, admn: 403}},
		{"operator key prefix", true, false, "192.0.2.7:1", operatorKey[:len(operatorKey)-1], nil,
			map[string]int{read: 403, write: 403, admn: 403}},
		{"loopback without key, locked", false, true, "127.0.0.1:1", "", nil,
			map[string]int{read: 200, write: 409, admn: 403}},
		{"loopback without key, unlocked", true, true, "127.0.0.1:1", "", nil,
			map[string]int{read: 200, write: 409, admn: 200}},
		{"ipv6 loopback without key", false, true, "[::1]:1", "", nil,
			map[string]int{read: 200, write: 409, admn: 403}},
		{"loopback not allowed", true, false, "127.0.0.1:1", "", nil,
			map[string]int{read: 403, write: 403, admn: 403}},
		{"loopback relayed by a proxy", true, true, "127.0.0.1:1", "", []string{"X-Forwarded-For", "203.0.113.9"},
			map[string]int{read: 403, write: 403, admn: 403}},
		{"loopback with Forwarded", true, true, "127.0.0.1:1", "", []string{"Forwarded", "for=203.0.113.9"},
			map[string]int{read: 403, write: 403, admn: 403}},
		{"viewer key from loopback stays viewer", true, true, "127.0.0.1:1", viewerKey, nil,
			map[string]int{read: 200, write: 403, admn: 403}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, false, func(c *admin.Config) { c.Unlock, c.AllowNoKeyFromLoopback = tt.unlock, tt.loopback })
			for route, want := range tt.want {
				method, path, _ := strings.Cut(route, " ")
				r := httptest.NewRequest(method, path, strings.NewReader(bodies[route]))
				r.RemoteAddr = tt.peer
				r.Host = "127.0.0.1:9090"
				if method != http.MethodGet {
					r.Header.Set("Content-Type", "application/json")
				}
				if tt.key != "" {
					r.Header.Set(admin.KeyHeader, tt.key)
				}
				for i := 0; i+1 < len(tt.hdr); i += 2 {
					r.Header.Set(tt.hdr[i], tt.hdr[i+1])
				}
				w := httptest.NewRecorder()
				e.srv.ServeHTTP(w, r)
				assert.Equal(t, want, w.Code, "%s: %s", route, w.Body)
				if w.Code == http.StatusForbidden {
					m := decodeBody(t, w)
					assert.NotEmpty(t, m["error"])
				}
			}
			logs := e.logs.String()
			assert.NotContains(t, logs, operatorKey)
			assert.NotContains(t, logs, viewerKey)
			assert.NotContains(t, logs, "not-the-key")
		})
	}
}

func TestForbiddenMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, func(c *admin.Config) { c.Unlock = false })
	w := e.op(http.MethodPost, "/breakglass", `{"on":true,"reason":"x"}`)
	require.Equal(t, http.StatusForbidden, w.Code)
	assert.Contains(t, decodeBody(t, w)["error"], "unlocked")
	w = e.call(http.MethodGet, "/status", "wrong-key-0123456789", "")
	assert.Equal(t, "invalid admin key", decodeBody(t, w)["error"])
	w = e.call(http.MethodGet, "/status", "", "")
	assert.Equal(t, "requires VIEWER", decodeBody(t, w)["error"])
	assert.Contains(t, e.logs.String(), `"msg":"admin: refused"`)
}

// The level is checked before the body is read: a caller without access
// gets 403 even for a body that would be a 400 or a 413.
func TestAccessCheckedBeforeBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, nil)
	w := e.call(http.MethodPost, "/killswitch", viewerKey, "{")
	assert.Equal(t, http.StatusForbidden, w.Code)
	w = e.call(http.MethodPost, "/reload", "", strings.Repeat("x", 5<<20))
	assert.Equal(t, http.StatusForbidden, w.Code)
}

// A real server on 127.0.0.1: the peer is loopback, so no key is needed
// when the server allows it, and a key is when it does not.
func TestLoopbackOverTheNetwork(t *testing.T) {
	t.Parallel()
	for _, allow := range []bool{true, false} {
		e := newEnv(t, false, func(c *admin.Config) { c.AllowNoKeyFromLoopback = allow })
		ts := httptest.NewServer(e.srv)
		code, body := over(t, ts.URL+"/status", http.MethodGet, "", "")
		if allow {
			assert.Equal(t, http.StatusOK, code, body)
		} else {
			assert.Equal(t, http.StatusForbidden, code, body)
		}
		code, body = over(t, ts.URL+"/emergency/trigger", http.MethodPost, operatorKey, `{"level":1,"reason":"drill"}`)
		assert.Equal(t, http.StatusOK, code, body)
		ts.Close()
	}
}
