package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/idempotency"
)

// TestIdempotencyEndpoints: an operator looks a record up by key (status
// and times, never the body, scope or key); an admin releases a stuck
// claim, audited by digest; a completed record is not released.
func TestIdempotencyEndpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, err := idempotency.NewMemory(idempotency.MemoryConfig{Clock: clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))})
	require.NoError(t, err)
	k := idempotency.Key{Domain: "payments", Operation: "POST /charges", Scope: "acme", Key: "order-42"}
	c, err := m.Claim(ctx, idempotency.ClaimRequest{Key: k})
	require.NoError(t, err)
	e := newEnv(t, false, func(cfg *admin.Config) { cfg.Idempotency = m })
	q := url.Values{"domain": {k.Domain}, "operation": {k.Operation}, "scope": {k.Scope}, "key": {k.Key}}.Encode()

	assert.Equal(t, http.StatusForbidden, e.call(http.MethodGet, "/idempotency/record?"+q, viewerKey, "").Code, "OPERATOR only")
	w := e.op(http.MethodGet, "/idempotency/record?"+q, "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	v := decodeBody(t, w)
	assert.Equal(t, "in_progress", v["status"])
	assert.NotContains(t, w.Body.String(), "order-42")
	assert.NotContains(t, w.Body.String(), "acme")
	assert.Equal(t, http.StatusBadRequest, e.op(http.MethodGet, "/idempotency/record?key=", "").Code)
	assert.Equal(t, http.StatusNotFound, e.op(http.MethodGet, "/idempotency/record?key=other", "").Code)

	body := `{"domain":"payments","operation":"POST /charges","scope":"acme","key":"order-42","reason":"holder crashed"}`
	w = e.op(http.MethodDelete, "/idempotency/record", body)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.ErrorIs(t, m.Complete(ctx, &c, nil), idempotency.ErrLeaseLost)
	logs := e.logs.String()
	assert.Contains(t, logs, `"action":"idempotency.release"`)
	assert.Contains(t, logs, `"reason":"holder crashed"`)
	assert.NotContains(t, logs, "order-42", "the raw key is never logged")
	assert.Equal(t, http.StatusConflict, e.op(http.MethodDelete, "/idempotency/record", body).Code, "nothing left to release")

	d, err := m.Claim(ctx, idempotency.ClaimRequest{Key: k})
	require.NoError(t, err)
	require.NoError(t, m.Complete(ctx, &d, nil))
	assert.Equal(t, http.StatusConflict, e.op(http.MethodDelete, "/idempotency/record", body).Code, "a completed record stays")

	none := newEnv(t, false, nil)
	assert.Equal(t, http.StatusNotFound, none.op(http.MethodGet, "/idempotency/record?"+q, "").Code)
}
