package dlq_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/dlq"
	"github.com/baldur-go/baldur/internal/enum/enumtest"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	enumtest.RoundTrip(t, dlq.NumStatuses, dlq.Status.String, dlq.ParseStatus, dlq.Status.Valid)
	for s, want := range map[dlq.Status]string{dlq.Pending: "pending", dlq.Replaying: "replaying", dlq.Resolved: "resolved", dlq.RequiresReview: "requires_review"} {
		assert.Equal(t, want, s.String())
	}
}

func TestZeroValues(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var (
		status dlq.Status
		entry  dlq.Entry
		filter dlq.Filter
		stats  dlq.Stats
	)
	assert.Equal(t, dlq.Pending, status, "the zero status is pending")
	assert.False(t, entry.Expired(now), "the zero entry never expires")
	assert.True(t, filter.Domain == "" && len(filter.Statuses) == 0 && filter.Limit == 0, "the zero filter selects all")
	assert.True(t, stats.Total == 0 && stats.ByDomain["x"] == 0 && stats.Oldest.IsZero(), "zero stats are empty")
	entry.CapPayload()
	assert.Nil(t, entry.Payload, "CapPayload on zero entry")
	assert.False(t, entry.Truncated, "CapPayload on zero entry")
}

func TestEntryCapPayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		in            int
		wantLen       int
		wantTruncated bool
	}{
		{"empty", 0, 0, false},
		{"small", 10, 10, false},
		{"exactly the cap", dlq.MaxPayload, dlq.MaxPayload, false},
		{"over the cap", dlq.MaxPayload + 1, dlq.MaxPayload, true},
		{"far over the cap", 1 << 20, dlq.MaxPayload, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			buf := make([]byte, tt.in)
			for i := range buf {
				buf[i] = 'a'
			}
			e := dlq.Entry{Payload: buf}
			e.CapPayload()
			require.Equal(t, tt.wantLen, len(e.Payload), "len (truncated %v)", e.Truncated)
			require.Equal(t, tt.wantTruncated, e.Truncated, "truncated (len %d)", len(e.Payload))
			if len(buf) > 0 {
				buf[0] = 'b'
				assert.Equal(t, byte('a'), e.Payload[0], "payload aliases the caller's buffer")
			}
			assert.LessOrEqual(t, cap(e.Payload), dlq.MaxPayload, "payload retains bytes of capacity")
		})
	}
}

func TestEntryExpired(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		expires time.Time
		want    bool
	}{
		{time.Time{}, false},
		{now.Add(72 * time.Hour), false},
		{now, true},
		{now.Add(-time.Nanosecond), true},
	} {
		e := dlq.Entry{ExpiresAt: tt.expires}
		assert.Equal(t, tt.want, e.Expired(now), "Expired(expires %v)", tt.expires)
	}
}
