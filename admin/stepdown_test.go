package admin_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStepDownAnswerKeepsExpiry: stepping down a timed level answers with
// the end it keeps and says so; the lower level ends then.
func TestStepDownAnswerKeepsExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, nil)
	w := e.op(http.MethodPost, "/emergency/trigger", `{"level":3,"reason":"spike","duration":"10m"}`)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	end := e.clock.Now().Add(10 * time.Minute).Format(time.RFC3339)
	e.clock.Advance(4 * time.Minute)

	w = e.op(http.MethodPost, "/emergency/stepdown", `{"reason":"recovering"}`)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	st := decodeBody(t, w)
	assert.Equal(t, "LEVEL_2", st["level"])
	assert.Equal(t, end, st["expires_at"], "the remaining duration carries over")
	assert.Contains(t, st["note"], "NORMAL at "+end)

	e.clock.Advance(6 * time.Minute)
	assert.Equal(t, "NORMAL", e.status(t, viewerKey)["emergency"].(map[string]any)["level"])

	// An untimed level steps down untimed, without a note.
	w = e.op(http.MethodPost, "/emergency/trigger", `{"level":2,"reason":"held"}`)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	w = e.op(http.MethodPost, "/emergency/stepdown", `{"reason":"better"}`)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	st = decodeBody(t, w)
	assert.Equal(t, "LEVEL_1", st["level"])
	assert.NotContains(t, st, "expires_at")
	assert.NotContains(t, st, "note")
}
