package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/admin"
)

// writeRecords returns the "admin: write" log records.
func writeRecords(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		if m["msg"] == "admin: write" {
			out = append(out, m)
		}
	}
	return out
}

func TestActorAttribution(t *testing.T) {
	t.Parallel()
	const email = "alice@example.com"
	tests := []struct {
		name      string
		trust     bool
		resolver  bool
		header    string
		wantActor string
	}{
		{"trusted proxy, resolver", true, true, email, email},
		{"untrusted", false, true, email, baldur.AnonymousActor},
		{"no resolver in the registry", true, false, email, baldur.AnonymousActor},
		{"blank header", true, true, "   ", baldur.AnonymousActor},
		{"forged log line", true, true, "mallory@x\n{\"msg\":\"forged\"}", baldur.AnonymousActor},
		{"too long", true, true, strings.Repeat("m", 400) + "@x", baldur.AnonymousActor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			proxies := []string{"10.0.0.0/8"} // the caller is not a proxy
			if tt.trust {
				proxies = []string{"192.0.2.0/24"}
			}
			e := newEnv(t, false, trustProxies(proxies...))
			if tt.resolver {
				e.reg.AdminIdentity.Set(admin.HeaderResolver{})
			}
			w := e.call(http.MethodPost, "/killswitch", operatorKey, `{"scope":"service","pattern":"payments","reason":"fraud"}`,
				"X-Forwarded-Email", tt.header)
			require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
			assert.Equal(t, tt.wantActor, decodeBody(t, w)["actor"])
			// A refused write is logged with its actor too.
			w = e.call(http.MethodPost, "/emergency/trigger", operatorKey, `{"level":9}`, "X-Forwarded-Email", tt.header)
			require.Equal(t, http.StatusBadRequest, w.Code)

			logs := e.logs.String()
			recs := writeRecords(t, logs)
			require.Len(t, recs, 2, logs)
			assert.Equal(t, tt.wantActor, recs[0]["actor"])
			assert.Equal(t, "killswitch.activate", recs[0]["action"])
			assert.Equal(t, "ok", recs[0]["outcome"])
			assert.Equal(t, "payments", recs[0]["pattern"])
			assert.Equal(t, tt.wantActor, recs[1]["actor"])
			assert.Equal(t, "emergency.trigger", recs[1]["action"])
			assert.NotEqual(t, "ok", recs[1]["outcome"])

			if tt.wantActor == baldur.AnonymousActor && strings.TrimSpace(tt.header) != "" {
				assert.NotContains(t, logs, strings.TrimSpace(tt.header)[:8], "a rejected identity header leaked into the log")
			}
			assert.NotContains(t, logs, operatorKey)
			assert.NotContains(t, logs, "forged\"}")

			// The actor is recorded in the governance state as well.
			kss := e.status(t, viewerKey)["governance"].(map[string]any)["kill_switches"].([]any)
			assert.Equal(t, tt.wantActor, kss[0].(map[string]any)["actor"])
		})
	}
}

type panickyResolver struct{}

func (panickyResolver) Resolve(context.Context, baldur.HeaderGetter, bool) (baldur.AdminPrincipal, bool) {
	panic("boom")
}

// Identity attributes; it never blocks: a panicking resolver yields the
// anonymous actor and the action proceeds.
func TestResolverPanicIsAnonymous(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, trustProxies("192.0.2.7/32"))
	e.reg.AdminIdentity.Set(panickyResolver{})
	w := e.op(http.MethodPost, "/emergency/trigger", `{"level":1,"reason":"r"}`)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	assert.Equal(t, baldur.AnonymousActor, decodeBody(t, w)["actor"])
	assert.Contains(t, e.logs.String(), "identity resolver panicked")
}

// Every write endpoint logs exactly one record naming its action.
func TestEveryWriteIsLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, nil)
	writes := []struct{ method, path, body, action string }{
		{http.MethodPost, "/killswitch", `{"scope":"all","reason":"r"}`, "killswitch.activate"},
		{http.MethodDelete, "/killswitch", `{"scope":"all"}`, "killswitch.deactivate"},
		{http.MethodPost, "/emergency/trigger", `{"level":1,"reason":"r"}`, "emergency.trigger"},
		{http.MethodPost, "/emergency/stepdown", `{"reason":"r"}`, "emergency.stepdown"},
		{http.MethodPost, "/breakglass", `{"on":false}`, "breakglass"},
		{http.MethodPost, "/breakers/force", `{"policy":"api","partition_key":"k","state":"open"}`, "breakers.force"},
		{http.MethodPost, "/reload", testConfig, "reload"},
	}
	for _, wr := range writes {
		w := e.op(wr.method, wr.path, wr.body)
		require.Equal(t, http.StatusOK, w.Code, "%s %s: %s", wr.method, wr.path, w.Body)
	}
	e.status(t, viewerKey) // reads are not logged
	recs := writeRecords(t, e.logs.String())
	require.Len(t, recs, len(writes))
	for i, wr := range writes {
		assert.Equal(t, wr.action, recs[i]["action"])
		assert.Equal(t, "ADMIN", recs[i]["access"])
		assert.Equal(t, baldur.AnonymousActor, recs[i]["actor"])
	}
}
