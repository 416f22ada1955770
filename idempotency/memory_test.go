package idempotency_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/idempotency"
	"github.com/baldur-go/baldur/idempotency/ledgertest"
)

var epoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func newMemory(t testing.TB, clk *clock.Fake) *idempotency.Memory {
	t.Helper()
	m, err := idempotency.NewMemory(idempotency.MemoryConfig{Clock: clk})
	require.NoError(t, err)
	return m
}

// TestMemoryConformance runs the ledger suite on a fake clock.
func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	ledgertest.Run(t, ledgertest.Harness{New: func(t *testing.T) (idempotency.Ledger, func(time.Duration)) {
		clk := clock.NewFake(epoch)
		return newMemory(t, clk), clk.Advance
	}})
}

// TestMemoryRefusedInProduction: production mode refuses a memory ledger
// unless explicitly allowed, and says why loudly when allowed.
func TestMemoryRefusedInProduction(t *testing.T) {
	t.Parallel()
	_, err := idempotency.NewMemory(idempotency.MemoryConfig{Production: true})
	require.ErrorIs(t, err, idempotency.ErrMemoryInProduction)
	assert.Contains(t, err.Error(), "another replica")

	var buf bytes.Buffer
	m, err := idempotency.NewMemory(idempotency.MemoryConfig{Production: true, AllowInProduction: true, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	require.NoError(t, err)
	require.NotNil(t, m)
	assert.Contains(t, buf.String(), "MEMORY LEDGER IN PRODUCTION")

	_, err = idempotency.NewMemory(idempotency.MemoryConfig{Lease: -1})
	assert.Error(t, err)
}

// TestMemorySweep: expired records are deleted by Sweep and by later
// inserts, so distinct keys do not grow memory without bound.
func TestMemorySweep(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	m := newMemory(t, clk)
	ctx := context.Background()
	for _, k := range ledgertest.Keys(1000) {
		_, err := m.Claim(ctx, idempotency.ClaimRequest{Key: k, Lease: time.Second})
		require.NoError(t, err)
	}
	require.Equal(t, 1000, m.Len())
	clk.Advance(2 * time.Second)
	assert.Equal(t, 1000, m.Sweep())
	assert.Zero(t, m.Len())
}

// TestKeeperDroppedHeartbeatFreesKey: a holder renews every lease/3 while
// it runs; when it crashes (its keeper stops without Complete or Release)
// the key frees itself one lease after the last renewal, on a fake clock,
// not after the 30-minute TTL.
func TestKeeperDroppedHeartbeatFreesKey(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	m := newMemory(t, clk)
	ctx := context.Background()
	k := idempotency.Key{Domain: "d", Operation: "op", Key: "k"}
	c, err := m.Claim(ctx, idempotency.ClaimRequest{Key: k, Lease: 3 * time.Second})
	require.NoError(t, err)
	keeper := idempotency.StartKeeper(m, c, clk, epoch.Add(time.Hour), nil)
	for range 10 { // 10 s of work: well past one lease
		step(clk, time.Second)
	}
	busy, err := m.Claim(ctx, idempotency.ClaimRequest{Key: k})
	require.NoError(t, err)
	require.Equal(t, idempotency.Busy, busy.Outcome, "renewed while the holder runs")
	require.GreaterOrEqual(t, keeper.Renewals(), uint64(9))

	keeper.Stop() // the holder crashes: no Complete, no Release
	last := clk.Now()
	step(clk, 2*time.Second)
	busy, _ = m.Claim(ctx, idempotency.ClaimRequest{Key: k})
	require.Equal(t, idempotency.Busy, busy.Outcome, "within the last lease")
	step(clk, 1500*time.Millisecond)
	retry, err := m.Claim(ctx, idempotency.ClaimRequest{Key: k})
	require.NoError(t, err)
	assert.Equal(t, idempotency.Claimed, retry.Outcome, "free %v after the crash", clk.Now().Sub(last))
}

// TestKeeperBoundedByDeadline: a holder that keeps heartbeating but never
// finishes holds the key only until its request's deadline plus grace.
func TestKeeperBoundedByDeadline(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	m := newMemory(t, clk)
	ctx := context.Background()
	k := idempotency.Key{Key: "hung"}
	c, err := m.Claim(ctx, idempotency.ClaimRequest{Key: k, Lease: 3 * time.Second})
	require.NoError(t, err)
	limit := idempotency.LeaseLimit(epoch, epoch.Add(8*time.Second), 2*time.Second, time.Hour)
	require.Equal(t, epoch.Add(10*time.Second), limit)
	keeper := idempotency.StartKeeper(m, c, clk, limit, nil)
	defer keeper.Stop()
	for clk.Now().Add(500 * time.Millisecond).Before(limit) {
		step(clk, 500*time.Millisecond)
		r, _ := m.Claim(ctx, idempotency.ClaimRequest{Key: k})
		require.Equal(t, idempotency.Busy, r.Outcome, "at %v", clk.Now().Sub(epoch))
	}
	step(clk, limit.Sub(clk.Now()))
	r, err := m.Claim(ctx, idempotency.ClaimRequest{Key: k})
	require.NoError(t, err)
	assert.Equal(t, idempotency.Claimed, r.Outcome, "free at deadline + grace")
}

// TestKeeperReportsLostLease: a renewal that finds the claim gone calls
// onLost once.
func TestKeeperReportsLostLease(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	m := newMemory(t, clk)
	ctx := context.Background()
	k := idempotency.Key{Key: "k"}
	c, _ := m.Claim(ctx, idempotency.ClaimRequest{Key: k, Lease: 3 * time.Second})
	lost := make(chan struct{}, 2)
	keeper := idempotency.StartKeeper(m, c, clk, epoch.Add(time.Hour), func() { lost <- struct{}{} })
	ok, err := m.ForceRelease(ctx, k)
	require.NoError(t, err)
	require.True(t, ok)
	step(clk, time.Second)
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("onLost not called")
	}
	assert.True(t, keeper.Lost())
	step(clk, 5*time.Second)
	assert.Empty(t, lost, "once")
	keeper.Stop()
}

// step advances clk and lets the renewals it fired finish: a renewal
// re-arms its timer when done, so step waits (briefly, in real time) for a
// pending timer; a keeper past its limit arms none and step returns after
// the bound.
func step(clk *clock.Fake, d time.Duration) {
	clk.Advance(d)
	for deadline := time.Now().Add(50 * time.Millisecond); clk.Pending() == 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Microsecond)
	}
}
