package idempotency_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/baldur-go/baldur/idempotency"
	"github.com/baldur-go/baldur/internal/enum/enumtest"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	enumtest.RoundTrip(t, idempotency.NumStatuses, idempotency.Status.String, idempotency.ParseStatus, idempotency.Status.Valid)
	assert.Equal(t, "in_progress", idempotency.InProgress.String())
	assert.Equal(t, "completed", idempotency.Completed.String())
	assert.Equal(t, "released", idempotency.Released.String())
}

func TestZeroRecordBlocks(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var idem idempotency.Record
	assert.True(t, idem.Status == idempotency.InProgress && idem.Blocks(now) && !idem.Expired(now), "the zero record blocks (fail closed)")
}

func TestRecordBlocks(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	exp := now.Add(idempotency.TTL)
	tests := []struct {
		status  idempotency.Status
		expires time.Time
		want    bool
	}{
		{idempotency.InProgress, exp, true},
		{idempotency.Completed, exp, true},
		{idempotency.Released, exp, false},
		{idempotency.InProgress, now, false},
		{idempotency.Completed, now.Add(-time.Second), false},
		{idempotency.InProgress, time.Time{}, true},
		{idempotency.Status(200), exp, true},
		{idempotency.Status(200), now, false},
	}
	for _, tt := range tests {
		r := idempotency.Record{Status: tt.status, ExpiresAt: tt.expires}
		assert.Equal(t, tt.want, r.Blocks(now), "Blocks(%v, expires %v)", tt.status, tt.expires.Sub(now))
	}
}

func TestKeyDigestSeparatesFields(t *testing.T) {
	t.Parallel()
	a := idempotency.Key{Domain: "a", Operation: "b", Scope: "c", Key: "d"}
	b := idempotency.Key{Domain: "ab", Operation: "", Scope: "c", Key: "d"}
	assert.NotEqual(t, a.Digest(), b.Digest())
	assert.Equal(t, a.Digest(), a.Digest())
}
