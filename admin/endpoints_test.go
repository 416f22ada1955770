package admin_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/admin"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, nil)
	m := e.status(t, viewerKey)
	assert.EqualValues(t, e.reg.Version(), m["config_version"])
	assert.Equal(t, "shop", m["service"])
	assert.Equal(t, "eu", m["region"])
	assert.Equal(t, []any{"api"}, m["policies"])
	gov := m["governance"].(map[string]any)
	assert.Equal(t, true, gov["checker"])
	assert.Equal(t, true, gov["system_enabled"])
	assert.Equal(t, false, gov["break_glass"])
	assert.Empty(t, gov["kill_switches"])
	assert.Equal(t, "NORMAL", m["emergency"].(map[string]any)["level"])
	budget := m["budget"].(map[string]any)
	assert.EqualValues(t, 100, budget["remaining_pct"])
	assert.Equal(t, "10m0s", budget["window"])
	bh := m["bulkheads"].([]any)
	require.Len(t, bh, 1)
	assert.Equal(t, "api", bh[0].(map[string]any)["name"])
	assert.EqualValues(t, 4, bh[0].(map[string]any)["max_concurrent"])
	br := m["breakers"].([]any)
	require.Len(t, br, 1)
	assert.EqualValues(t, 0, br[0].(map[string]any)["open"])
	slots := map[string]map[string]any{}
	for _, s := range m["slots"].([]any) {
		s := s.(map[string]any)
		slots[s["name"].(string)] = s
	}
	assert.Equal(t, true, slots["governance"]["set"])
	assert.Equal(t, true, slots["governance"]["default"])
	assert.Equal(t, false, slots["admin_identity_resolver"]["set"])
}

func TestStatusWithoutGovernance(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, nil)
	m := e.status(t, viewerKey)
	gov := m["governance"].(map[string]any)
	assert.Equal(t, false, gov["checker"])
	assert.Equal(t, true, gov["system_enabled"])
	assert.Nil(t, m["emergency"])
	assert.Nil(t, m["budget"])
	assert.Empty(t, m["bulkheads"])
	assert.Empty(t, m["policies"])
}

func TestSlotUnset(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, nil)
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPost, "/killswitch", `{"scope":"all","reason":"r"}`},
		{http.MethodDelete, "/killswitch", `{"scope":"all"}`},
		{http.MethodPost, "/emergency/trigger", `{"level":1,"reason":"r"}`},
		{http.MethodPost, "/emergency/stepdown", `{"reason":"r"}`},
		{http.MethodPost, "/breakglass", `{"on":true,"reason":"r"}`},
	} {
		w := e.op(c.method, c.path, c.body)
		assert.Equal(t, http.StatusNotFound, w.Code, "%s %s: %s", c.method, c.path, w.Body)
		assert.Contains(t, decodeBody(t, w)["error"], "requires a governance checker")
	}
}

func TestKillSwitch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, nil)
	w := e.op(http.MethodPost, "/killswitch", `{"scope":"operation","pattern":"GET /api/*","reason":"bad deploy","expires_in":"1m"}`)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	ks := decodeBody(t, w)
	assert.Equal(t, "operation", ks["scope"])
	assert.Equal(t, "anonymous", ks["actor"])
	assert.Equal(t, e.clock.Now().Add(time.Minute).Format(time.RFC3339), ks["expires_at"])

	// The switch is live on the call path.
	p := e.reg.Policy("GET /api/items")
	_, err := p.Admit(context.Background(), baldur.Call{Operation: "GET /api/items"})
	assert.True(t, errors.Is(err, baldur.ErrKillSwitch), "admit: %v", err)

	kss := e.status(t, viewerKey)["governance"].(map[string]any)["kill_switches"].([]any)
	require.Len(t, kss, 1)
	assert.Equal(t, "bad deploy", kss[0].(map[string]any)["reason"])

	// It expires on the injected clock.
	e.clock.Advance(2 * time.Minute)
	assert.Empty(t, e.status(t, viewerKey)["governance"].(map[string]any)["kill_switches"])

	// Deactivate.
	require.Equal(t, http.StatusOK, e.op(http.MethodPost, "/killswitch", `{"scope":"all","reason":"stop everything"}`).Code)
	assert.Equal(t, false, e.status(t, viewerKey)["governance"].(map[string]any)["system_enabled"])
	w = e.op(http.MethodDelete, "/killswitch", `{"scope":"all"}`)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	assert.Equal(t, true, decodeBody(t, w)["removed"])
	w = e.op(http.MethodDelete, "/killswitch", `{"scope":"all"}`)
	assert.Equal(t, false, decodeBody(t, w)["removed"])
	assert.Equal(t, true, e.status(t, viewerKey)["governance"].(map[string]any)["system_enabled"])
}

func TestEmergency(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, nil)
	w := e.op(http.MethodPost, "/emergency/trigger", `{"level":"LEVEL_2","reason":"incident 42"}`)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	st := decodeBody(t, w)
	assert.Equal(t, "LEVEL_2", st["level"])
	assert.EqualValues(t, 2, st["level_num"])
	assert.Equal(t, "incident 42", st["reason"])

	// Lowering by trigger is a refused transition.
	w = e.op(http.MethodPost, "/emergency/trigger", `{"level":1,"reason":"better"}`)
	assert.Equal(t, http.StatusConflict, w.Code, "%s", w.Body)
	assert.Equal(t, "Level", decodeBody(t, w)["field"])

	for _, want := range []string{"LEVEL_1", "NORMAL"} {
		w = e.op(http.MethodPost, "/emergency/stepdown", `{"reason":"recovering"}`)
		require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
		assert.Equal(t, want, decodeBody(t, w)["level"])
	}
	w = e.op(http.MethodPost, "/emergency/stepdown", `{"reason":"again"}`)
	assert.Equal(t, http.StatusConflict, w.Code, "%s", w.Body)

	// A triggered duration runs out on the injected clock.
	w = e.op(http.MethodPost, "/emergency/trigger", `{"level":3,"reason":"drill","duration":90}`)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	assert.Equal(t, e.clock.Now().Add(90*time.Second).Format(time.RFC3339), decodeBody(t, w)["expires_at"])
	assert.Equal(t, "LEVEL_3", e.status(t, viewerKey)["emergency"].(map[string]any)["level"])
	e.clock.Advance(91 * time.Second)
	assert.Equal(t, "NORMAL", e.status(t, viewerKey)["emergency"].(map[string]any)["level"])
}

func TestBreakGlass(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, nil)
	require.Equal(t, http.StatusOK, e.op(http.MethodPost, "/killswitch", `{"scope":"all","reason":"off"}`).Code)
	w := e.op(http.MethodPost, "/breakglass", `{"on":true,"reason":"must ship the fix"}`)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	assert.Equal(t, true, decodeBody(t, w)["on"])
	gov := e.status(t, viewerKey)["governance"].(map[string]any)
	assert.Equal(t, true, gov["break_glass"])
	assert.Equal(t, true, gov["system_enabled"], "break glass overrides the kill switch")

	w = e.op(http.MethodPost, "/breakglass", `{"on":false}`)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	gov = e.status(t, viewerKey)["governance"].(map[string]any)
	assert.Equal(t, false, gov["break_glass"])
	assert.Equal(t, false, gov["system_enabled"])
}

func TestBreakersForce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, nil)
	w := e.op(http.MethodPost, "/breakers/force", `{"policy":"api","partition_key":"tenant-a","state":"open","ttl":"10m"}`)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	br := decodeBody(t, w)["breakers"].([]any)
	require.Len(t, br, 1)
	assert.Equal(t, "forced_open", br[0].(map[string]any)["state"])

	p := e.reg.Policy("GET /api/x")
	_, err := p.Admit(context.Background(), baldur.Call{Operation: "GET /api/x", Key: "tenant-a"})
	assert.True(t, errors.Is(err, baldur.ErrBreakerOpen), "admit: %v", err)
	tk, err := p.Admit(context.Background(), baldur.Call{Operation: "GET /api/x", Key: "tenant-b"})
	require.NoError(t, err, "another partition is untouched")
	tk.Release(baldur.Outcome{Result: baldur.Success})

	// Operators see the partition key, viewers only the count.
	pb := e.status(t, operatorKey)["breakers"].([]any)[0].(map[string]any)
	assert.EqualValues(t, 1, pb["open"])
	part := pb["partitions"].([]any)[0].(map[string]any)
	assert.Equal(t, "tenant-a", part["partition_key"])
	assert.Equal(t, e.clock.Now().Add(10*time.Minute).Format(time.RFC3339), part["until"])
	w = e.call(http.MethodGet, "/status", viewerKey, "")
	assert.NotContains(t, w.Body.String(), "tenant-a")
	vb := decodeBody(t, w)["breakers"].([]any)[0].(map[string]any)
	assert.EqualValues(t, 1, vb["open"])
	assert.Nil(t, vb["partitions"])

	w = e.op(http.MethodPost, "/breakers/force", `{"policy":"api","partition_key":"tenant-a","state":"closed"}`)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	assert.Equal(t, "forced_closed", decodeBody(t, w)["breakers"].([]any)[0].(map[string]any)["state"])

	w = e.op(http.MethodPost, "/breakers/force", `{"policy":"api","partition_key":"tenant-a","state":"auto"}`)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	assert.NotContains(t, decodeBody(t, w)["breakers"].([]any)[0].(map[string]any)["state"], "forced")
}

const reloadConfig = `{"service":"shop2","governance":{},"bulkheads":{"b":{"max_concurrent":2}},
  "policies":[{"name":"one","operations":["GET /one"],"bulkhead":"b"},{"name":"two","operations":["GET /two"]}]}`

func TestReloadBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, nil)
	before := e.reg.Version()
	w := e.op(http.MethodPost, "/reload", reloadConfig)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	m := decodeBody(t, w)
	assert.EqualValues(t, before+1, m["version"])
	assert.EqualValues(t, before, m["previous_version"])
	assert.Equal(t, []any{"one", "two"}, m["policies"])
	assert.Equal(t, "shop2", e.reg.Service())

	// An invalid configuration names its field and changes nothing.
	w = e.op(http.MethodPost, "/reload", `{"policies":[{"name":"x","bulkhead":"missing"}]}`)
	require.Equal(t, http.StatusBadRequest, w.Code, "%s", w.Body)
	assert.Contains(t, decodeBody(t, w)["field"], "policies[0]")
	assert.Equal(t, before+1, e.reg.Version())
	assert.Equal(t, []string{"one", "two"}, e.reg.PolicyNames())

	// An unknown field in the document is a parse error.
	w = e.op(http.MethodPost, "/reload", `{"policies":[],"polices":[]}`)
	assert.Equal(t, http.StatusBadRequest, w.Code, "%s", w.Body)
	assert.Equal(t, before+1, e.reg.Version())
}

func TestReloadPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "baldur.json"), []byte(reloadConfig), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"policies":[{"name":""}]}`), 0o600))
	outside := filepath.Join(t.TempDir(), "secret.json")
	require.NoError(t, os.WriteFile(outside, []byte(reloadConfig), 0o600))
	e := newEnv(t, false, func(c *admin.Config) { c.ConfigDir = dir })
	before := e.reg.Version()

	w := e.op(http.MethodPost, "/reload", `{"path":"baldur.json"}`)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	assert.EqualValues(t, before+1, decodeBody(t, w)["version"])

	for _, path := range []string{"bad.json", "missing.json", "../" + filepath.Base(filepath.Dir(outside)) + "/secret.json", outside, ""} {
		w = e.op(http.MethodPost, "/reload", `{"path":"`+path+`"}`)
		assert.Equal(t, http.StatusBadRequest, w.Code, "%s: %s", path, w.Body)
		assert.NotContains(t, w.Body.String(), dir, "the server's directory leaked")
	}
	w = e.op(http.MethodPost, "/reload", `{"path":42}`)
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Equal(t, before+1, e.reg.Version())

	// Without ConfigDir, path reloads are off.
	e2 := newEnv(t, false, nil)
	w = e2.op(http.MethodPost, "/reload", `{"path":"baldur.json"}`)
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, decodeBody(t, w)["error"], "ConfigDir")
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	huge := `{"reason":"` + strings.Repeat("x", 70<<10) + `"}`
	generic := []struct {
		name, body string
		code       int
	}{
		{"empty body", "", 400},
		{"malformed", "{", 400},
		{"not an object", "[1,2]", 400},
		{"unknown field", `{"bogus":1}`, 400},
		{"trailing data", `{}{}`, 400},
		{"oversized", huge, 413},
	}
	routes := []struct{ method, path string }{
		{http.MethodPost, "/killswitch"}, {http.MethodDelete, "/killswitch"},
		{http.MethodPost, "/emergency/trigger"}, {http.MethodPost, "/emergency/stepdown"},
		{http.MethodPost, "/breakglass"}, {http.MethodPost, "/breakers/force"},
	}
	e := newEnv(t, false, nil)
	for _, rt := range routes {
		for _, g := range generic {
			w := e.op(rt.method, rt.path, g.body)
			assert.Equal(t, g.code, w.Code, "%s %s %s: %s", rt.method, rt.path, g.name, w.Body)
			assert.NotEmpty(t, decodeBody(t, w)["error"])
		}
	}
	w := e.op(http.MethodPost, "/reload", `{"x":"`+strings.Repeat("y", 5<<20)+`"}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	for _, body := range []string{"", "{", "[]", "null x"} {
		w := e.op(http.MethodPost, "/reload", body)
		assert.Equal(t, http.StatusBadRequest, w.Code, "reload %q: %s", body, w.Body)
	}

	specific := []struct {
		method, path, body, field string
	}{
		{http.MethodPost, "/killswitch", `{"scope":"galaxy","reason":"r"}`, "scope"},
		{http.MethodPost, "/killswitch", `{"scope":"all"}`, "reason"},
		{http.MethodPost, "/killswitch", `{"scope":"all","reason":"r","expires_in":-5}`, "expires_in"},
		{http.MethodPost, "/killswitch", `{"scope":"all","reason":"r","expires_in":"forever"}`, ""},
		{http.MethodPost, "/killswitch", `{"scope":"all","reason":"r","expires_in":"9000h"}`, "expires_in"},
		{http.MethodPost, "/killswitch", `{"scope":"service","reason":"r"}`, "pattern"},
		{http.MethodPost, "/killswitch", `{"scope":"all","pattern":"x","reason":"r"}`, "Pattern"},
		{http.MethodPost, "/killswitch", `{"scope":"all","reason":"line\nbreak"}`, "reason"},
		{http.MethodPost, "/killswitch", `{"scope":"all","reason":"` + strings.Repeat("r", 2000) + `"}`, "reason"},
		{http.MethodPost, "/killswitch", `{"scope":1,"reason":"r"}`, "scope"},
		{http.MethodDelete, "/killswitch", `{"scope":"nope"}`, "scope"},
		{http.MethodPost, "/emergency/trigger", `{"level":7,"reason":"r"}`, "level"},
		{http.MethodPost, "/emergency/trigger", `{"level":"LEVEL_9","reason":"r"}`, "level"},
		{http.MethodPost, "/emergency/trigger", `{"level":1.5,"reason":"r"}`, "level"},
		{http.MethodPost, "/emergency/trigger", `{"level":true,"reason":"r"}`, "level"},
		{http.MethodPost, "/emergency/trigger", `{"reason":"r"}`, "level"},
		{http.MethodPost, "/emergency/trigger", `{"level":1}`, "reason"},
		{http.MethodPost, "/emergency/trigger", `{"level":1,"reason":"r","duration":-1}`, "duration"},
		{http.MethodPost, "/emergency/stepdown", `{}`, "reason"},
		{http.MethodPost, "/breakglass", `{"reason":"r"}`, "on"},
		{http.MethodPost, "/breakglass", `{"on":true}`, "reason"},
		{http.MethodPost, "/breakglass", `{"on":"yes","reason":"r"}`, "on"},
		{http.MethodPost, "/breakers/force", `{"policy":"api","state":"ajar"}`, "state"},
		{http.MethodPost, "/breakers/force", `{"state":"open"}`, "policy"},
		{http.MethodPost, "/breakers/force", `{"policy":"nope","state":"open"}`, "policy"},
		{http.MethodPost, "/breakers/force", `{"policy":"api","state":"open","ttl":-3}`, "ttl"},
	}
	for _, c := range specific {
		w := e.op(c.method, c.path, c.body)
		assert.Equal(t, http.StatusBadRequest, w.Code, "%s %s %s: %s", c.method, c.path, c.body, w.Body)
		m := decodeBody(t, w)
		assert.NotEmpty(t, m["error"])
		if c.field != "" {
			assert.Equal(t, c.field, m["field"], "%s %s %s", c.method, c.path, c.body)
		}
	}
	// Nothing above changed the state.
	st := e.status(t, viewerKey)
	assert.Empty(t, st["governance"].(map[string]any)["kill_switches"])
	assert.Equal(t, "NORMAL", st["emergency"].(map[string]any)["level"])
	assert.Equal(t, false, st["governance"].(map[string]any)["break_glass"])
}

func TestBreakerlessPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, nil)
	require.Equal(t, http.StatusOK, e.op(http.MethodPost, "/reload", reloadConfig).Code)
	w := e.op(http.MethodPost, "/breakers/force", `{"policy":"one","partition_key":"k","state":"open"}`)
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, decodeBody(t, w)["error"], "has no breaker")
}

// TestBreakersForceRefusedBeyondBound: a breaker that may hold only one
// forced partition refuses a second force, and the admin answer says so
// instead of reporting success with an unforced partition.
func TestBreakersForceRefusedBeyondBound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, nil)
	w := e.op(http.MethodPost, "/reload", `{"breakers":{"up":{"partition_by":"key","max_partitions":2}},
  "policies":[{"name":"api","operations":["GET /api/*"],"breaker":"up"}]}`)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)

	w = e.op(http.MethodPost, "/breakers/force", `{"policy":"api","partition_key":"tenant-a","state":"open","ttl":"10m"}`)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	w = e.op(http.MethodPost, "/breakers/force", `{"policy":"api","partition_key":"tenant-b","state":"open","ttl":"10m"}`)
	require.Equal(t, http.StatusConflict, w.Code, "%s", w.Body)
	assert.Contains(t, w.Body.String(), "forced")

	tk, err := e.reg.Policy("GET /api/x").Admit(context.Background(), baldur.Call{Operation: "GET /api/x", Key: "tenant-b"})
	require.NoError(t, err, "the refused force left tenant-b closed")
	tk.Release(baldur.Outcome{Result: baldur.Success})
}
