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
	assert.Equal(t, "claimed", idempotency.Claimed.String())
	assert.Equal(t, "succeeded", idempotency.Succeeded.String())
	assert.Equal(t, "failed", idempotency.Failed.String())
}

func TestZeroRecordBlocks(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var idem idempotency.Record
	assert.True(t, idem.Status == idempotency.Claimed && idem.Blocks(now) && !idem.Expired(now), "the zero record blocks (fail closed)")
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
		{idempotency.Claimed, exp, true},
		{idempotency.Succeeded, exp, true},
		{idempotency.Failed, exp, false},
		{idempotency.Claimed, now, false},
		{idempotency.Succeeded, now.Add(-time.Second), false},
		{idempotency.Claimed, time.Time{}, true},
		{idempotency.Status(200), exp, true},
		{idempotency.Status(200), now, false},
	}
	for _, tt := range tests {
		r := idempotency.Record{Key: "k", Status: tt.status, ExpiresAt: tt.expires}
		assert.Equal(t, tt.want, r.Blocks(now), "Blocks(%v, expires %v)", tt.status, tt.expires.Sub(now))
	}
}
