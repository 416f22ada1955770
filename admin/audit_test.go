package admin_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/governance"
)

// failingStore is a governance store whose writes fail.
type failingStore struct{ governance.MemoryStore }

var errStoreDown = errors.New("store down")

func (*failingStore) PutKillSwitch(context.Context, governance.KillSwitch) error {
	return errStoreDown
}

func (*failingStore) DeleteKillSwitch(context.Context, governance.Scope, string) (bool, error) {
	return false, errStoreDown
}

func (*failingStore) PutBreakGlass(context.Context, governance.BreakGlass) error {
	return errStoreDown
}

// A store failing is a 500 whose answer names no detail; the audit record
// of the write carries the store's error after the request's attributes.
func TestStoreFailureIsAuditedNotAnswered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, nil)
	c, err := governance.New(governance.Config{Store: &failingStore{}, Clock: e.clock})
	require.NoError(t, err)
	e.reg.Governance.Set(c)

	for _, tc := range []struct{ method, path, body, answer string }{
		{http.MethodPost, "/killswitch", `{"scope":"all","reason":"r"}`, "activating the kill switch failed; see the server log"},
		{http.MethodDelete, "/killswitch", `{"scope":"all"}`, "deactivating the kill switch failed; see the server log"},
		{http.MethodPost, "/breakglass", `{"on":true,"reason":"r"}`, "setting break glass failed; see the server log"},
	} {
		w := e.op(tc.method, tc.path, tc.body)
		require.Equal(t, http.StatusInternalServerError, w.Code, "%s %s: %s", tc.method, tc.path, w.Body)
		assert.Equal(t, tc.answer, decodeBody(t, w)["error"])
		assert.NotContains(t, w.Body.String(), errStoreDown.Error())
	}
	recs := writeRecords(t, e.logs.String())
	require.Len(t, recs, 3)
	for _, r := range recs {
		assert.Equal(t, "WARN", r["level"])
		assert.Contains(t, r["error"], errStoreDown.Error())
		assert.Contains(t, r["outcome"], "failed; see the server log")
	}
	assert.Equal(t, "all", recs[0]["scope"])
	assert.Equal(t, "r", recs[0]["reason"])
	assert.Equal(t, true, recs[2]["on"])
}
