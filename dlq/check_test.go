package dlq_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/dlq"
	"github.com/baldur-go/baldur/dlq/dlqtest"
)

func TestStuckCheckReclaimsExpiredLeases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	repo := dlq.NewMemory(dlq.MemoryConfig{Clock: clk})
	q := newQueue(t, dlq.Config{Repository: repo, Clock: clk})
	_, err := repo.Add(ctx, []dlq.Entry{dlqtest.NewEntry("s1", "payments", t0), dlqtest.NewEntry("s2", "payments", t0), dlqtest.NewEntry("p", "payments", t0)})
	require.NoError(t, err)
	_, err = repo.Move(ctx, dlq.Move{ID: "s1", From: dlq.Pending, To: dlq.Replaying, Holder: 1, Lease: time.Minute})
	require.NoError(t, err)
	_, err = repo.Move(ctx, dlq.Move{ID: "s2", From: dlq.Pending, To: dlq.Replaying, Holder: 2, Lease: time.Hour})
	require.NoError(t, err)
	c := q.StuckCheck()
	assert.Equal(t, "dlq_stuck_replay", c.Name())

	obs, err := c.Observe(ctx, clk.Now())
	require.NoError(t, err)
	assert.Empty(t, obs, "leases still held")

	clk.Advance(time.Minute)
	obs, err = c.Observe(ctx, clk.Now())
	require.NoError(t, err)
	require.Len(t, obs, 1, "s1's lease ended; s2's holds")
	o := obs[0]
	assert.Equal(t, "s1", o.Subject)
	assert.Equal(t, "reclaim", o.Action)
	assert.False(t, o.Page)
	e, err := repo.Get(ctx, "s1")
	require.NoError(t, err)
	assert.Equal(t, dlq.Replaying, e.Status, "Observe changes nothing")
	require.NoError(t, o.Apply(ctx, 0))
	e, err = repo.Get(ctx, "s1")
	require.NoError(t, err)
	assert.Equal(t, dlq.Pending, e.Status)
	assert.Zero(t, e.Attempts, "a reclaim counts no attempt")
	require.NoError(t, o.Apply(ctx, 0), "applying twice is harmless")

	clk.Advance(2 * time.Hour)
	obs, err = c.Observe(ctx, clk.Now())
	require.NoError(t, err)
	require.Len(t, obs, 1)
	assert.True(t, obs[0].Page, "an hour past its lease pages")
}
