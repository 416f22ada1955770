package admin_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// GET /audit lists the writes through the server, newest first, with actor,
// access, outcome and reason; refused writes are there too, and reads are
// not. It is a VIEWER read.
func TestAuditRecentRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, nil)
	require.Equal(t, http.StatusOK, e.op(http.MethodPost, "/killswitch", `{"scope":"operation","pattern":"GET /api/x","reason":"<img src=x onerror=alert(1)>"}`).Code)
	require.Equal(t, http.StatusConflict, e.op(http.MethodPost, "/emergency/stepdown", `{"reason":"too low"}`).Code)
	require.Equal(t, http.StatusOK, e.op(http.MethodPost, "/breakers/force", `{"policy":"api","partition_key":"tenant-7","state":"open"}`).Code)
	e.call(http.MethodGet, "/status", viewerKey, "")

	w := e.call(http.MethodGet, "/audit", "", "")
	assert.Equal(t, http.StatusForbidden, w.Code)

	items := decodeBody(t, e.call(http.MethodGet, "/audit", operatorKey, ""))["items"].([]any)
	require.Len(t, items, 3)
	force, step, ks := items[0].(map[string]any), items[1].(map[string]any), items[2].(map[string]any)
	assert.Equal(t, "killswitch.activate", ks["action"])
	assert.Equal(t, "ok", ks["outcome"])
	assert.Equal(t, "ADMIN", ks["access"])
	assert.Equal(t, "anonymous", ks["actor"])
	assert.Equal(t, "<img src=x onerror=alert(1)>", ks["reason"])
	assert.Contains(t, ks["detail"], "pattern=GET /api/x")
	assert.NotEmpty(t, ks["time"])
	assert.Equal(t, "emergency.stepdown", step["action"])
	assert.Equal(t, "emergency level already NORMAL", step["outcome"])
	assert.Contains(t, force["detail"], "partition_key=tenant-7")

	// A viewer sees the records without the partition keys.
	items = decodeBody(t, e.call(http.MethodGet, "/audit?limit=1", viewerKey, ""))["items"].([]any)
	require.Len(t, items, 1)
	assert.Equal(t, "breakers.force", items[0].(map[string]any)["action"])
	assert.NotContains(t, items[0].(map[string]any)["detail"], "tenant-7")

	assert.Equal(t, http.StatusBadRequest, e.call(http.MethodGet, "/audit?limit=-1", viewerKey, "").Code)
	assert.Equal(t, http.StatusBadRequest, e.call(http.MethodGet, "/audit?limit=x", viewerKey, "").Code)
}

// The ring keeps the latest 256 writes.
func TestAuditRingIsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, nil)
	for i := range 300 {
		e.op(http.MethodPost, "/emergency/stepdown", `{"reason":"r`+strconv.Itoa(i)+`"}`)
	}
	items := decodeBody(t, e.call(http.MethodGet, "/audit?limit=1000", viewerKey, ""))["items"].([]any)
	require.Len(t, items, 256)
	assert.Equal(t, "r299", items[0].(map[string]any)["reason"])
	assert.Equal(t, "r44", items[255].(map[string]any)["reason"])
}
