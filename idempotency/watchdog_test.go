package idempotency_test

import (
	"context"
	"encoding/hex"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/idempotency"
	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/watchdog"
)

func newExpiredCheck(t *testing.T, cfg idempotency.ExpiredClaimsConfig) *idempotency.ExpiredClaimsCheck {
	t.Helper()
	c, err := idempotency.NewExpiredClaimsCheck(cfg)
	require.NoError(t, err)
	return c
}

// TestExpiredClaimsCheckFindsCrashedHolder: a holder that claimed and
// crashed (no heartbeat, no completion, no release) is observed once its
// lease ended: subject the key's digest, detail without the key or scope;
// Observe changes nothing; Apply reclaims the record and is idempotent.
func TestExpiredClaimsCheckFindsCrashedHolder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(epoch)
	m := newMemory(t, clk)
	var chk watchdog.Check = newExpiredCheck(t, idempotency.ExpiredClaimsConfig{Ledger: m})
	assert.Equal(t, "idempotency_expired_claims", chk.Name())

	crashed := idempotency.Key{Domain: "payments", Operation: "POST /charges", Scope: "tenant-secret", Key: "key-secret"}
	_, err := m.Claim(ctx, idempotency.ClaimRequest{Key: crashed, Lease: 3 * time.Second})
	require.NoError(t, err)
	// Healthy neighbours: a live claim, a completed and a released record.
	live := idempotency.Key{Domain: "payments", Operation: "POST /charges", Scope: "t", Key: "live"}
	done := idempotency.Key{Domain: "payments", Operation: "POST /charges", Scope: "t", Key: "done"}
	gone := idempotency.Key{Domain: "payments", Operation: "POST /charges", Scope: "t", Key: "gone"}
	d, _ := m.Claim(ctx, idempotency.ClaimRequest{Key: done, Lease: 3 * time.Second, TTL: 4 * time.Second})
	require.NoError(t, m.Complete(ctx, &d, &idempotency.Response{Status: 201}))
	g, _ := m.Claim(ctx, idempotency.ClaimRequest{Key: gone, Lease: 3 * time.Second})
	require.NoError(t, m.Release(ctx, &g))

	obs, err := chk.Observe(ctx, clk.Now())
	require.NoError(t, err)
	assert.Empty(t, obs, "nothing expired yet")

	clk.Advance(5 * time.Second)
	_, err = m.Claim(ctx, idempotency.ClaimRequest{Key: live, Lease: time.Minute})
	require.NoError(t, err)
	obs, err = chk.Observe(ctx, clk.Now())
	require.NoError(t, err)
	require.Len(t, obs, 1, "only the crashed claim: the completed record past its TTL is Sweep's")
	o := obs[0]
	digest := crashed.Digest()
	assert.Equal(t, hex.EncodeToString(digest[:]), o.Subject)
	assert.Equal(t, "reclaim", o.Action)
	assert.Contains(t, o.Detail, `"POST /charges"`)
	assert.Contains(t, o.Detail, "expired 2s ago")
	for _, secret := range []string{crashed.Key, crashed.Scope} {
		assert.NotContains(t, o.Subject+o.Detail, secret)
	}
	assert.False(t, o.Page, "reports and reclaims; pages only when configured")
	require.NotNil(t, o.Apply)

	before := m.Len()
	again, err := chk.Observe(ctx, clk.Now())
	require.NoError(t, err)
	assert.Equal(t, obs[0].Subject, again[0].Subject)
	assert.Equal(t, before, m.Len(), "Observe changes nothing")

	require.NoError(t, o.Apply(ctx, 7))
	assert.Equal(t, before-1, m.Len(), "Apply reclaimed the record")
	require.NoError(t, o.Apply(ctx, 8), "Apply is idempotent")
	assert.Equal(t, before-1, m.Len())
	obs, err = chk.Observe(ctx, clk.Now())
	require.NoError(t, err)
	assert.Empty(t, obs, "the subject is healthy: its incident resolves")

	busy, err := m.Claim(ctx, idempotency.ClaimRequest{Key: live})
	require.NoError(t, err)
	assert.Equal(t, idempotency.Busy, busy.Outcome, "the live claim was left alone")
}

// TestExpiredClaimsCheckApplyComparesToken: a finding applied after its
// key was claimed again (another token) deletes nothing: the new holder
// keeps its claim.
func TestExpiredClaimsCheckApplyComparesToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(epoch)
	m := newMemory(t, clk)
	chk := newExpiredCheck(t, idempotency.ExpiredClaimsConfig{Ledger: m})
	k := idempotency.Key{Domain: "d", Operation: "op", Key: "k"}
	_, err := m.Claim(ctx, idempotency.ClaimRequest{Key: k, Lease: time.Second})
	require.NoError(t, err)
	clk.Advance(2 * time.Second)
	obs, err := chk.Observe(ctx, clk.Now())
	require.NoError(t, err)
	require.Len(t, obs, 1)

	retry, err := m.Claim(ctx, idempotency.ClaimRequest{Key: k, Lease: time.Minute})
	require.NoError(t, err)
	require.Equal(t, idempotency.Claimed, retry.Outcome, "an expired claim no longer blocks")
	require.NoError(t, obs[0].Apply(ctx, 1))
	dup, err := m.Claim(ctx, idempotency.ClaimRequest{Key: k})
	require.NoError(t, err)
	assert.Equal(t, idempotency.Busy, dup.Outcome, "the retry's claim survived the stale finding")
	require.NoError(t, m.Complete(ctx, &retry, &idempotency.Response{Status: 200}), "and still holds its key")
}

// TestExpiredClaimsCheckOptions: After delays a finding, Limit keeps the
// longest expired, Page and Priority pass through, and bad options are
// *baldur.ConfigError.
func TestExpiredClaimsCheckOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(epoch)
	m := newMemory(t, clk)
	chk := newExpiredCheck(t, idempotency.ExpiredClaimsConfig{Ledger: m, Name: "idem_stuck", After: 10 * time.Second, Limit: 3,
		Page: true, Priority: notify.PriorityWarning})
	assert.Equal(t, "idem_stuck", chk.Name())
	var subjects []string
	for i := range 5 { // key i's lease ends at i+1 s
		k := idempotency.Key{Domain: "d", Operation: "op", Key: "k" + strconv.Itoa(i)}
		_, err := m.Claim(ctx, idempotency.ClaimRequest{Key: k, Lease: time.Duration(i+1) * time.Second})
		require.NoError(t, err)
		d := k.Digest()
		subjects = append(subjects, hex.EncodeToString(d[:]))
	}
	clk.Advance(time.Hour) // the watchdog's clock decides from here
	obs, err := chk.Observe(ctx, epoch.Add(10*time.Second))
	require.NoError(t, err)
	assert.Empty(t, obs, "none 10 s past its lease yet")
	obs, err = chk.Observe(ctx, epoch.Add(12*time.Second))
	require.NoError(t, err)
	require.Len(t, obs, 2)
	assert.Equal(t, subjects[:2], []string{obs[0].Subject, obs[1].Subject})
	obs, err = chk.Observe(ctx, epoch.Add(time.Minute))
	require.NoError(t, err)
	require.Len(t, obs, 3, "Limit")
	assert.Equal(t, subjects[:3], []string{obs[0].Subject, obs[1].Subject, obs[2].Subject}, "longest expired first")
	assert.True(t, obs[0].Page)
	assert.Equal(t, notify.PriorityWarning, obs[0].Priority)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = chk.Observe(cancelled, epoch.Add(time.Minute))
	assert.ErrorIs(t, err, context.Canceled)

	for _, bad := range []idempotency.ExpiredClaimsConfig{{}, {Ledger: m, After: -1}, {Ledger: m, Limit: -1}} {
		_, err := idempotency.NewExpiredClaimsCheck(bad)
		assert.Error(t, err, "%+v", bad)
	}
}

// TestExpiredClaimsCheckConcurrent: passes run while claims come and go
// (under -race): each finding is an in-progress claim past its lease.
func TestExpiredClaimsCheckConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(epoch)
	m := newMemory(t, clk)
	chk := newExpiredCheck(t, idempotency.ExpiredClaimsConfig{Ledger: m, Limit: 1000})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				k := idempotency.Key{Key: strconv.Itoa(w) + "-" + strconv.Itoa(i)}
				c, _ := m.Claim(ctx, idempotency.ClaimRequest{Key: k, Lease: time.Second})
				if i%2 == 0 {
					_ = m.Release(ctx, &c)
				}
			}
		})
	}
	for range 20 {
		obs, err := chk.Observe(ctx, clk.Now().Add(time.Hour))
		require.NoError(t, err)
		assert.Empty(t, obs, "a watchdog clock ahead of the ledger's finds no claim the ledger still holds")
	}
	wg.Wait()
	clk.Advance(time.Second)
	obs, err := chk.Observe(ctx, clk.Now())
	require.NoError(t, err)
	for _, o := range obs {
		require.NoError(t, o.Apply(ctx, 0))
	}
	assert.Zero(t, m.Len(), "every unreleased claim was reclaimed")
}
