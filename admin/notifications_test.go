package admin_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/notify"
)

func TestNotificationsEndpoints(t *testing.T) {
	t.Parallel()
	var e *env
	var p *notify.Pipeline
	e = newEnv(t, true, func(cfg *admin.Config) {
		var err error
		p, err = notify.New(notify.Config{Clock: cfg.Clock, NoGrouping: true, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		cfg.Notifications = p
	})
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	ctx := context.Background()
	_, err := p.Notify(ctx, notify.Notification{Priority: notify.PriorityWarning, Source: "dlq", Title: "stuck"})
	require.NoError(t, err)
	_, _ = p.Notify(ctx, notify.Notification{Priority: notify.PriorityWarning, Source: "dlq", Title: "stuck"})

	w := e.call(http.MethodGet, "/notifications/channels", viewerKey, "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	items := decodeBody(t, w)["items"].([]any)
	require.Len(t, items, 1)
	assert.Equal(t, "log", items[0].(map[string]any)["name"])
	assert.Contains(t, items[0].(map[string]any), "queue_depth")

	w = e.call(http.MethodGet, "/notifications/results", viewerKey, "")
	require.Equal(t, http.StatusOK, w.Code)
	res := decodeBody(t, w)["items"].([]any)
	require.Len(t, res, 2)
	assert.Equal(t, "cooldown", res[0].(map[string]any)["suppressed"], "newest first, with its reason")

	// Silences: reason and expiry required, at most 7 days.
	for _, body := range []string{
		`{"matchers":{"source":"dlq"},"duration":"1h"}`,
		`{"matchers":{"source":"dlq"},"reason":"deploy"}`,
		`{"matchers":{"source":"dlq"},"reason":"deploy","duration":"169h"}`,
		`{"matchers":{"source":"dlq"},"reason":"deploy","duration":"1h","expires_at":"2026-01-02T05:00:00Z"}`,
	} {
		assert.Equal(t, http.StatusBadRequest, e.op(http.MethodPost, "/notifications/silences", body).Code, body)
	}
	assert.Equal(t, http.StatusForbidden, e.call(http.MethodPost, "/notifications/silences", viewerKey, `{"matchers":{},"reason":"x","duration":"1h"}`).Code)
	w = e.op(http.MethodPost, "/notifications/silences", `{"matchers":{"source":"dlq","max_priority":"HIGH"},"reason":"deploy window","duration":"1h"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	sil := decodeBody(t, w)
	id := sil["id"].(string)
	assert.Equal(t, "HIGH", sil["max_priority"])
	r, _ := p.Notify(ctx, notify.Notification{Priority: notify.PriorityWarning, Source: "dlq", Title: "another"})
	assert.Equal(t, notify.SuppressSilenced, r.Suppressed)
	w = e.call(http.MethodGet, "/notifications/silences", viewerKey, "")
	require.Len(t, decodeBody(t, w)["items"], 1)
	assert.Equal(t, http.StatusBadRequest, e.op(http.MethodDelete, "/notifications/silences/"+id, `{}`).Code, "reason required")
	w = e.op(http.MethodDelete, "/notifications/silences/"+id, `{"reason":"deploy done"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, http.StatusNotFound, e.op(http.MethodDelete, "/notifications/silences/"+id, `{"reason":"again"}`).Code)
	logs := e.logs.String()
	assert.Contains(t, logs, `"action":"notifications.silence"`)
	assert.Contains(t, logs, `"action":"notifications.unsilence"`)
	assert.Contains(t, logs, `"reason":"deploy done"`)

	w = e.op(http.MethodPost, "/notifications/test", `{"channel":"log","reason":"wiring check"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, true, decodeBody(t, w)["queued"])
	assert.Equal(t, http.StatusNotFound, e.op(http.MethodPost, "/notifications/test", `{"channel":"nope","reason":"x"}`).Code)
	assert.True(t, strings.Contains(e.logs.String(), `"action":"notifications.test"`))

	none := newEnv(t, true, nil)
	assert.Equal(t, http.StatusNotFound, none.call(http.MethodGet, "/notifications/channels", viewerKey, "").Code)
}
