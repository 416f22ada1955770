package admin_test

import (
	"image/png"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/blastradius"
	"github.com/baldur-go/baldur/chaos"
)

func chaosEnv(t *testing.T, unlock bool) (*env, *chaos.Scheduler) {
	var sc *chaos.Scheduler
	e := newEnv(t, false, func(cfg *admin.Config) {
		cfg.Unlock = unlock
		blast, err := blastradius.New(blastradius.Config{Clock: cfg.Clock, Windows: []blastradius.Window{blastradius.AnyTime}})
		require.NoError(t, err)
		budget, _ := cfg.Registry.ErrorBudgetService.SafeGet()
		f := false
		sc, err = chaos.New(chaos.Config{Enabled: true, DryRun: &f, Governance: cfg.Registry.Governance.Get(), Budget: budget,
			Blast: blast, Clock: cfg.Clock, Injector: cfg.Registry.Chaos(), Policies: cfg.Registry, Logger: cfg.Logger})
		require.NoError(t, err)
		cfg.Chaos = sc
	})
	return e, sc
}

func TestChaosEndpoints(t *testing.T) {
	t.Parallel()
	e, _ := chaosEnv(t, true)
	create := `{"id": "lat-1", "target": {"policy": "api"}, "fault": {"kind": "latency", "delay": "50ms"}, "rate": 0.01,
		"duration": "1m", "hypothesis": "the breaker holds", "reason": "game day"}`
	assert.Equal(t, http.StatusForbidden, e.call(http.MethodPost, "/chaos/experiments", viewerKey, create).Code, "OPERATOR")
	w := e.op(http.MethodPost, "/chaos/experiments", create)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "scheduled", decodeBody(t, w)["state"])
	assert.Contains(t, e.logs.String(), `"action":"chaos.create"`)

	w = e.op(http.MethodPost, "/chaos/experiments", strings.Replace(create, `"rate": 0.01`, `"rate": 0.9`, 1))
	require.Equal(t, http.StatusBadRequest, w.Code)
	assert.Equal(t, "rate", decodeBody(t, w)["field"])
	w = e.op(http.MethodPost, "/chaos/experiments", strings.Replace(create, `"reason": "game day"`, `"reason": ""`, 1))
	assert.Equal(t, http.StatusBadRequest, w.Code, "reason required")

	w = e.call(http.MethodGet, "/chaos/experiments", viewerKey, "")
	require.Equal(t, http.StatusOK, w.Code)
	items := decodeBody(t, w)["items"].([]any)
	require.Len(t, items, 1)
	assert.Equal(t, "lat-1", items[0].(map[string]any)["id"])

	w = e.op(http.MethodPost, "/chaos/experiments/lat-1/start", `{"reason": "now"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "before", decodeBody(t, w)["state"])
	assert.Equal(t, http.StatusNotFound, e.op(http.MethodGet, "/chaos/experiments/nope", "").Code)

	w = e.call(http.MethodGet, "/chaos/experiments/lat-1/report", viewerKey, "")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "lat-1", decodeBody(t, w)["experiment_id"])
	w = e.call(http.MethodGet, "/chaos/experiments/lat-1/report?format=md", viewerKey, "")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), "# Chaos experiment lat-1")
	w = e.call(http.MethodGet, "/chaos/experiments/lat-1/report?format=html", viewerKey, "")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
	w = e.call(http.MethodGet, "/chaos/experiments/lat-1/report/chart.png", viewerKey, "")
	require.Equal(t, http.StatusOK, w.Code)
	_, err := png.Decode(w.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, e.call(http.MethodGet, "/chaos/experiments/lat-1/report?format=pdf", viewerKey, "").Code)

	w = e.op(http.MethodPost, "/chaos/experiments/lat-1/stop", `{"reason": "enough"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "stopped", decodeBody(t, w)["state"])

	w = e.op(http.MethodPost, "/chaos/kill-all", `{"reason": "drill"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Contains(t, e.logs.String(), `"action":"chaos.kill_all"`)

	none := newEnv(t, false, nil)
	assert.Equal(t, http.StatusNotFound, none.op(http.MethodGet, "/chaos/experiments", "").Code)
}

// Without the unlock, kill-all and a forced experiment are refused.
func TestChaosDestructiveNeedsAdmin(t *testing.T) {
	t.Parallel()
	e, _ := chaosEnv(t, false)
	assert.Equal(t, http.StatusForbidden, e.op(http.MethodPost, "/chaos/kill-all", `{"reason": "x"}`).Code)
	w := e.op(http.MethodPost, "/chaos/experiments", `{"id": "f", "target": {"policy": "api"}, "fault": {"kind": "abort"},
		"rate": 0.01, "force": true, "reason": "r"}`)
	assert.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
}
