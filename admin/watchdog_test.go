package admin_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/watchdog"
)

// stuckCheck finds two stuck subjects whose actions never fix them.
type stuckCheck struct{ applied int }

func (c *stuckCheck) Name() string { return "stuck" }

func (c *stuckCheck) Observe(context.Context, time.Time) ([]watchdog.Observation, error) {
	var out []watchdog.Observation
	for _, s := range []string{"a", "b"} {
		out = append(out, watchdog.Observation{Subject: s, Action: "fix", Page: true, Priority: notify.PriorityHigh,
			Apply: func(context.Context, uint64) error { c.applied++; return nil }})
	}
	return out, nil
}

// TestWatchdogEndpoints: status shows roles, the brake and incidents to a
// viewer; an operator runs a dry-run tick, which acts on nothing; only an
// admin releases a brake, with a reason, audited.
func TestWatchdogEndpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &stuckCheck{}
	r, err := watchdog.New(watchdog.Config{Checks: []watchdog.Check{c}, MaxActionsPerHour: 1, Session: "pod-a",
		Clock: clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), Jitter: -1, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	_, err = r.Tick(ctx) // one action, then the brake
	require.NoError(t, err)
	require.Equal(t, 1, c.applied)
	e := newEnv(t, false, func(cfg *admin.Config) { cfg.Watchdog = r })

	w := e.call(http.MethodGet, "/watchdog/status", viewerKey, "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	st := decodeBody(t, w)
	checks := st["checks"].([]any)
	require.Len(t, checks, 1)
	ck := checks[0].(map[string]any)
	assert.Equal(t, "leader", ck["role"])
	assert.Equal(t, true, ck["brake"])
	assert.EqualValues(t, 1, ck["actions_last_hour"])
	incs := st["incidents"].([]any)
	require.Len(t, incs, 3, "the brake and two subjects")
	assert.Equal(t, true, incs[0].(map[string]any)["brake"])
	assert.Equal(t, "CRITICAL", incs[0].(map[string]any)["priority"])

	assert.Equal(t, http.StatusForbidden, e.call(http.MethodPost, "/watchdog/tick", viewerKey, `{}`).Code, "OPERATOR only")
	w = e.op(http.MethodPost, "/watchdog/tick", `{"reason":"what would it do"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	tick := decodeBody(t, w)
	assert.Equal(t, true, tick["dry_run"])
	items := tick["items"].([]any)
	require.Len(t, items, 2)
	assert.Equal(t, "braked", items[0].(map[string]any)["kind"])
	assert.Equal(t, 1, c.applied, "a dry run applies nothing")

	body := `{"check":"stuck","reason":"root cause fixed"}`
	locked := newEnv(t, false, func(cfg *admin.Config) { cfg.Watchdog = r; cfg.Unlock = false })
	assert.Equal(t, http.StatusForbidden, locked.op(http.MethodPost, "/watchdog/brake/release", body).Code, "ADMIN only")
	assert.Equal(t, http.StatusBadRequest, e.op(http.MethodPost, "/watchdog/brake/release", `{"check":"stuck"}`).Code, "a reason is required")
	assert.Equal(t, http.StatusNotFound, e.op(http.MethodPost, "/watchdog/brake/release", `{"check":"nope","reason":"x"}`).Code)
	w = e.op(http.MethodPost, "/watchdog/brake/release", body)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.False(t, r.Status().Checks[0].Brake)
	assert.Contains(t, e.logs.String(), `"action":"watchdog.brake.release"`)
	assert.Contains(t, e.logs.String(), `"reason":"root cause fixed"`)
	assert.Equal(t, http.StatusConflict, e.op(http.MethodPost, "/watchdog/brake/release", body).Code, "not engaged any more")

	none := newEnv(t, false, nil)
	assert.Equal(t, http.StatusNotFound, none.op(http.MethodGet, "/watchdog/status", "").Code)
}
