package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/dlq"
)

// TestDLQEndpoints: viewers read stats, metadata and groups (never a
// payload); operators read an entry's payload, replay (with a dry run) by
// ids, domain or group, redrive and arm; admins delete, audited with the
// reason.
func TestDLQEndpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := clock.NewFake(t0)
	repo := dlq.NewMemory(dlq.MemoryConfig{Clock: clk})
	var replayed []string
	q, err := dlq.New(dlq.Config{Repository: repo, Clock: clk, Handler: func(_ context.Context, e dlq.Entry, _ string) error {
		replayed = append(replayed, e.ID)
		return nil
	}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.Close(ctx) })
	var es []dlq.Entry
	for i, g := range []string{"g1", "g1", "g2"} {
		es = append(es, dlq.Entry{ID: []string{"a", "b", "c"}[i], Domain: "payments", Operation: "POST /charges", Group: g,
			URL: "https://pay.example/charges?card=4111", Payload: []byte(`{"secret-ish":"payload"}`), FailureType: "http_503",
			CreatedAt: t0.Add(time.Duration(i) * time.Second), ExpiresAt: t0.Add(72 * time.Hour)})
	}
	_, err = repo.Add(ctx, es)
	require.NoError(t, err)
	e := newEnv(t, false, func(c *admin.Config) { c.DLQ = q })

	w := e.call(http.MethodGet, "/dlq/stats", viewerKey, "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.EqualValues(t, 3, decodeBody(t, w)["total"])

	w = e.call(http.MethodGet, "/dlq/entries?domain=payments&status=pending&limit=10", viewerKey, "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.NotContains(t, w.Body.String(), "payload\"", "viewers see no payload")
	assert.NotContains(t, w.Body.String(), "4111", "nor the URL's query")
	var list struct {
		Items []map[string]any `json:"items"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &list))
	require.Len(t, list.Items, 3)
	assert.Equal(t, "a", list.Items[0]["id"])
	assert.Equal(t, http.StatusBadRequest, e.call(http.MethodGet, "/dlq/entries?status=lost", viewerKey, "").Code)

	assert.Equal(t, http.StatusForbidden, e.call(http.MethodGet, "/dlq/entries/a", viewerKey, "").Code, "payload: OPERATOR")
	w = e.op(http.MethodGet, "/dlq/entries/a", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "secret-ish")
	assert.Equal(t, http.StatusNotFound, e.op(http.MethodGet, "/dlq/entries/zz", "").Code)

	w = e.call(http.MethodGet, "/dlq/groups", viewerKey, "")
	require.Equal(t, http.StatusOK, w.Code)
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &list))
	require.Len(t, list.Items, 2)
	assert.Equal(t, "g1", list.Items[0]["group"])
	assert.EqualValues(t, 2, list.Items[0]["count"])

	assert.Equal(t, http.StatusBadRequest, e.op(http.MethodPost, "/dlq/replay", `{"group":"g1"}`).Code, "reason required")
	assert.Equal(t, http.StatusBadRequest, e.op(http.MethodPost, "/dlq/replay", `{"group":"g1","ids":["a"],"reason":"x"}`).Code, "one selector")
	w = e.op(http.MethodPost, "/dlq/replay", `{"group":"g1","dry_run":true,"reason":"check"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, []any{"a", "b"}, decodeBody(t, w)["ids"])
	assert.Empty(t, replayed, "a dry run replays nothing")
	w = e.op(http.MethodPost, "/dlq/replay", `{"group":"g1","reason":"upstream fixed"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.EqualValues(t, 2, decodeBody(t, w)["resolved"])
	assert.Equal(t, []string{"a", "b"}, replayed)
	w = e.op(http.MethodPost, "/dlq/replay", `{"ids":["c"],"reason":"one more"}`)
	assert.EqualValues(t, 1, decodeBody(t, w)["resolved"])

	w = e.op(http.MethodPost, "/dlq/redrive", `{"ids":["a"],"reason":"x"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, []any{}, decodeBody(t, w)["moved"], "only entries in review are redriven")

	w = e.op(http.MethodPost, "/dlq/auto-replay", `{"domain":"payments","armed":true,"reason":"breaker closed by hand"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, true, decodeBody(t, w)["changed"])
	assert.True(t, q.Armed("payments"))
	w = e.op(http.MethodPost, "/dlq/auto-replay", `{"domain":"payments","armed":false,"reason":"stop"}`)
	assert.Equal(t, true, decodeBody(t, w)["changed"])

	locked := newEnv(t, false, func(c *admin.Config) { c.DLQ = q; c.Unlock = false })
	assert.Equal(t, http.StatusForbidden, locked.op(http.MethodDelete, "/dlq/entries", `{"group":"g2","reason":"x"}`).Code, "delete: ADMIN")
	w = e.op(http.MethodDelete, "/dlq/entries", `{"group":"g1","reason":"duplicates of a fixed bug"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.EqualValues(t, 2, decodeBody(t, w)["deleted"])
	logs := e.logs.String()
	assert.Contains(t, logs, `"action":"dlq.delete"`)
	assert.Contains(t, logs, `"reason":"duplicates of a fixed bug"`)
	assert.Contains(t, logs, `"action":"dlq.replay"`)

	none := newEnv(t, false, nil)
	assert.Equal(t, http.StatusNotFound, none.call(http.MethodGet, "/dlq/stats", viewerKey, "").Code)
}
