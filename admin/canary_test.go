package admin_test

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/canary"
)

func canaryEnv(t *testing.T, unlock bool) *env {
	t.Helper()
	e := newEnv(t, false, nil)
	local, err := canary.NewLocal(canary.LocalConfig{Target: e.reg, Replica: "r1"})
	require.NoError(t, err)
	svc, err := canary.New(canary.Config{Applier: local, Governance: e.reg.Governance.Get(), Clock: e.clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	srv, err := admin.New(admin.Config{Registry: e.reg, OperatorKey: operatorKey, ViewerKey: viewerKey, Unlock: unlock,
		Clock: e.clock, Canary: svc, Logger: slog.New(slog.NewJSONHandler(e.logs, nil))})
	require.NoError(t, err)
	e.srv = srv
	return e
}

// candidate is testConfig with a smaller bulkhead.
var candidate = strings.Replace(testConfig, `"max_concurrent": 4`, `"max_concurrent": 2`, 1)

func TestCanaryEndpoints(t *testing.T) {
	t.Parallel()
	e := canaryEnv(t, true)
	body := `{"candidate": ` + candidate + `, "stages": [{"share": 0.1}, {"share": 0.5}], "reason": "smaller bulkhead"}`
	assert.Equal(t, http.StatusForbidden, e.call(http.MethodPost, "/canary/rollouts", viewerKey, body).Code, "create is OPERATOR")
	w := e.op(http.MethodPost, "/canary/rollouts", body)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	st := decodeBody(t, w)
	id := st["id"].(string)
	assert.Equal(t, "canary", st["state"])
	share, split := e.reg.CohortShare()
	assert.True(t, split)
	assert.Equal(t, 0.1, share)

	w = e.call(http.MethodGet, "/canary/rollouts", viewerKey, "")
	require.Equal(t, http.StatusOK, w.Code)
	items := decodeBody(t, w)["items"].([]any)
	require.Len(t, items, 1)
	assert.Equal(t, id, items[0].(map[string]any)["id"])
	w = e.call(http.MethodGet, "/canary/rollouts/"+id, viewerKey, "")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, http.StatusNotFound, e.call(http.MethodGet, "/canary/rollouts/nope", viewerKey, "").Code)

	assert.Equal(t, http.StatusBadRequest, e.op(http.MethodPost, "/canary/rollouts/"+id+"/pause", `{}`).Code, "reason is required")
	w = e.op(http.MethodPost, "/canary/rollouts/"+id+"/promote", `{"reason": "looks fine"}`)
	assert.Equal(t, http.StatusPreconditionFailed, w.Code, "no passed window yet: %s", w.Body.String())
	w = e.op(http.MethodPost, "/canary/rollouts/"+id+"/pause", `{"reason": "hold"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, http.StatusConflict, e.op(http.MethodPost, "/canary/rollouts/"+id+"/pause", `{"reason": "hold"}`).Code)
	w = e.op(http.MethodPost, "/canary/rollouts/"+id+"/rollback", `{"reason": "not now"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "rolled_back", decodeBody(t, w)["state"])
	_, split = e.reg.CohortShare()
	assert.False(t, split)
	logs := e.logs.String()
	for _, a := range []string{"canary.create", "canary.pause", "canary.rollback"} {
		assert.Contains(t, logs, `"action":"`+a+`"`)
	}

	bad := `{"candidate": {"policies": [], "bogus": 1}, "stages": [{"share": 0.1}], "reason": "x"}`
	w = e.op(http.MethodPost, "/canary/rollouts", bad)
	assert.Equal(t, http.StatusBadRequest, w.Code, "an invalid candidate never starts: %s", w.Body.String())

	w = e.op(http.MethodPost, "/canary/rollouts", body)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	w = e.op(http.MethodPost, "/canary/panic-rollback", `{"reason": "incident"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Len(t, decodeBody(t, w)["rolled_back"], 1)
	assert.Contains(t, e.logs.String(), `"action":"canary.panic_rollback"`)
}

func TestCanaryBypassNeedsAdmin(t *testing.T) {
	t.Parallel()
	e := canaryEnv(t, false) // locked: the operator key is OPERATOR
	body := `{"candidate": ` + candidate + `, "stages": [{"share": 0.1}], "reason": "r", "bypass_reason": "incident 7 needs it now"}`
	w := e.op(http.MethodPost, "/canary/rollouts", body)
	assert.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	assert.Equal(t, http.StatusForbidden, e.op(http.MethodPost, "/canary/panic-rollback", `{"reason": "x"}`).Code, "panic rollback is ADMIN")
	short := `{"candidate": ` + candidate + `, "stages": [{"share": 0.1}], "reason": "r", "bypass_reason": "short"}`
	assert.Equal(t, http.StatusBadRequest, e.op(http.MethodPost, "/canary/rollouts", short).Code)
	none := newEnv(t, false, nil)
	assert.Equal(t, http.StatusNotFound, none.op(http.MethodGet, "/canary/rollouts", "").Code)
}
