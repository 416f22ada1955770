// Package ledgertest is the conformance suite of idempotency.Ledger: the
// rules every ledger keeps, run by the memory ledger's tests and by
// redisstore's against a real server, and by any other implementation.
package ledgertest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/idempotency"
)

// Harness builds ledgers for the suite.
type Harness struct {
	// New returns a fresh ledger (its keys unseen by any other) and a
	// function that lets d pass for it: a fake clock's Advance, or a real
	// sleep for a ledger whose expiry is its server's.
	New func(t *testing.T) (idempotency.Ledger, func(time.Duration))
	// Lease is the short lease the expiry cases use: long enough for a
	// few calls to the store, as short as its clock allows. Zero means
	// 200 ms.
	Lease time.Duration
}

func fp(s string) (f idempotency.Fingerprint) {
	copy(f[:], s)
	return f
}

func key(k string) idempotency.Key {
	return idempotency.Key{Domain: "payments", Operation: "POST /charges", Scope: "tenant-a", Key: k}
}

var response = &idempotency.Response{
	Status: 201,
	Header: []idempotency.HeaderField{{Name: "Content-Type", Value: "application/json"}, {Name: "Location", Value: "/charges/7"}, {Name: "Content-Type", Value: "x"}},
	Body:   []byte(`{"id":7,"amount":"10.00"}` + "\x00\xff"),
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	lease := h.Lease
	if lease == 0 {
		lease = 200 * time.Millisecond
	}
	ctx := context.Background()
	claim := func(t *testing.T, l idempotency.Ledger, k idempotency.Key, f string, lease time.Duration) idempotency.Claim {
		t.Helper()
		c, err := l.Claim(ctx, idempotency.ClaimRequest{Key: k, Fingerprint: fp(f), Lease: lease, TTL: time.Hour})
		require.NoError(t, err)
		return c
	}
	tests := []struct {
		name string
		run  func(t *testing.T, l idempotency.Ledger, wait func(time.Duration))
	}{
		{"first claim holds, duplicate is busy", func(t *testing.T, l idempotency.Ledger, _ func(time.Duration)) {
			c := claim(t, l, key("k"), "a", time.Minute)
			require.Equal(t, idempotency.Claimed, c.Outcome)
			assert.NotZero(t, c.Token)
			assert.Equal(t, idempotency.InProgress, c.Record.Status)
			d := claim(t, l, key("k"), "a", time.Minute)
			assert.Equal(t, idempotency.Busy, d.Outcome)
			assert.Equal(t, idempotency.InProgress, d.Record.Status)
			assert.Zero(t, d.Token)
			assert.False(t, d.Record.ExpiresAt.IsZero(), "busy carries the lease's end (Retry-After)")
		}},
		{"another fingerprint is a mismatch, in progress and completed", func(t *testing.T, l idempotency.Ledger, _ func(time.Duration)) {
			c := claim(t, l, key("k"), "a", time.Minute)
			assert.Equal(t, idempotency.Mismatch, claim(t, l, key("k"), "b", time.Minute).Outcome)
			require.NoError(t, l.Complete(ctx, &c, response))
			assert.Equal(t, idempotency.Mismatch, claim(t, l, key("k"), "b", time.Minute).Outcome)
		}},
		{"completed replays the stored response exactly", func(t *testing.T, l idempotency.Ledger, _ func(time.Duration)) {
			c := claim(t, l, key("k"), "a", time.Minute)
			require.NoError(t, l.Complete(ctx, &c, response))
			d := claim(t, l, key("k"), "a", time.Minute)
			require.Equal(t, idempotency.Done, d.Outcome)
			require.NotNil(t, d.Response)
			assert.Equal(t, response.Status, d.Response.Status)
			assert.Equal(t, response.Header, d.Response.Header)
			assert.Equal(t, response.Body, d.Response.Body)
			assert.Equal(t, idempotency.Completed, d.Record.Status)
			assert.True(t, d.Record.Replayable)
			assert.False(t, d.Record.CompletedAt.IsZero())
		}},
		{"completed without a response is not replayable", func(t *testing.T, l idempotency.Ledger, _ func(time.Duration)) {
			c := claim(t, l, key("k"), "a", time.Minute)
			require.NoError(t, l.Complete(ctx, &c, nil))
			d := claim(t, l, key("k"), "a", time.Minute)
			require.Equal(t, idempotency.Done, d.Outcome)
			assert.Nil(t, d.Response)
			assert.False(t, d.Record.Replayable)
		}},
		{"release lets a retry claim with a new token", func(t *testing.T, l idempotency.Ledger, _ func(time.Duration)) {
			c := claim(t, l, key("k"), "a", time.Minute)
			require.NoError(t, l.Release(ctx, &c))
			d := claim(t, l, key("k"), "a", time.Minute)
			require.Equal(t, idempotency.Claimed, d.Outcome)
			assert.NotEqual(t, c.Token, d.Token)
			assert.ErrorIs(t, l.Complete(ctx, &c, response), idempotency.ErrLeaseLost, "the released claim cannot complete the new one")
			assert.ErrorIs(t, l.Release(ctx, &c), idempotency.ErrLeaseLost)
			assert.Equal(t, idempotency.Busy, claim(t, l, key("k"), "a", time.Minute).Outcome, "the new claim holds")
		}},
		{"another token changes nothing", func(t *testing.T, l idempotency.Ledger, _ func(time.Duration)) {
			c := claim(t, l, key("k"), "a", time.Minute)
			other := c
			other.Token++
			assert.ErrorIs(t, l.Complete(ctx, &other, response), idempotency.ErrLeaseLost)
			assert.ErrorIs(t, l.Release(ctx, &other), idempotency.ErrLeaseLost)
			assert.ErrorIs(t, l.Heartbeat(ctx, &other, time.Hour), idempotency.ErrLeaseLost)
			busy := claim(t, l, key("k"), "a", time.Minute)
			assert.Equal(t, idempotency.Busy, busy.Outcome)
			require.NoError(t, l.Complete(ctx, &c, response))
			assert.ErrorIs(t, l.Complete(ctx, &c, response), idempotency.ErrLeaseLost, "completes once")
			assert.ErrorIs(t, l.Heartbeat(ctx, &c, 0), idempotency.ErrLeaseLost, "a completed record is no lease")
			assert.ErrorIs(t, l.Release(ctx, &c), idempotency.ErrLeaseLost, "a completed record is not released")
		}},
		{"a lease without heartbeat expires and frees the key", func(t *testing.T, l idempotency.Ledger, wait func(time.Duration)) {
			c := claim(t, l, key("k"), "a", lease)
			wait(lease + lease/2)
			d := claim(t, l, key("k"), "a", time.Minute)
			require.Equal(t, idempotency.Claimed, d.Outcome)
			assert.ErrorIs(t, l.Complete(ctx, &c, response), idempotency.ErrLeaseLost, "the crashed holder's late completion is refused")
			require.NoError(t, l.Complete(ctx, &d, response))
		}},
		{"heartbeat extends the lease", func(t *testing.T, l idempotency.Ledger, wait func(time.Duration)) {
			c := claim(t, l, key("k"), "a", lease)
			for range 3 {
				wait(lease / 2)
				require.NoError(t, l.Heartbeat(ctx, &c, lease))
			}
			assert.Equal(t, idempotency.Busy, claim(t, l, key("k"), "a", time.Minute).Outcome)
			require.NoError(t, l.Complete(ctx, &c, response))
		}},
		{"an expired lease cannot be renewed", func(t *testing.T, l idempotency.Ledger, wait func(time.Duration)) {
			c := claim(t, l, key("k"), "a", lease)
			wait(lease + lease/2)
			assert.ErrorIs(t, l.Heartbeat(ctx, &c, time.Hour), idempotency.ErrLeaseLost)
			_, ok, err := l.Lookup(ctx, key("k"))
			require.NoError(t, err)
			assert.False(t, ok, "the heartbeat resurrected nothing")
		}},
		{"a completion is remembered for its TTL, then forgotten", func(t *testing.T, l idempotency.Ledger, wait func(time.Duration)) {
			c, err := l.Claim(ctx, idempotency.ClaimRequest{Key: key("k"), Fingerprint: fp("a"), Lease: time.Minute, TTL: lease})
			require.NoError(t, err)
			require.NoError(t, l.Complete(ctx, &c, response))
			assert.Equal(t, idempotency.Done, claim(t, l, key("k"), "a", time.Minute).Outcome)
			wait(lease + lease/2)
			assert.Equal(t, idempotency.Claimed, claim(t, l, key("k"), "b", time.Minute).Outcome)
		}},
		{"scope, domain and operation separate keys", func(t *testing.T, l idempotency.Ledger, _ func(time.Duration)) {
			base := key("k")
			require.Equal(t, idempotency.Claimed, claim(t, l, base, "a", time.Minute).Outcome)
			for _, k := range []idempotency.Key{
				{Domain: base.Domain, Operation: base.Operation, Scope: "tenant-b", Key: "k"},
				{Domain: "other", Operation: base.Operation, Scope: base.Scope, Key: "k"},
				{Domain: base.Domain, Operation: "POST /refunds", Scope: base.Scope, Key: "k"},
				{Domain: base.Domain, Operation: base.Operation, Scope: base.Scope, Key: "K"},
				{Domain: base.Domain + ":" + base.Operation, Scope: base.Scope, Key: "k"},
			} {
				assert.Equal(t, idempotency.Claimed, claim(t, l, k, "b", time.Minute).Outcome, "%+v", k)
			}
		}},
		{"lookup shows status and times, never the body", func(t *testing.T, l idempotency.Ledger, _ func(time.Duration)) {
			_, ok, err := l.Lookup(ctx, key("k"))
			require.NoError(t, err)
			assert.False(t, ok)
			c := claim(t, l, key("k"), "a", time.Minute)
			r, ok, err := l.Lookup(ctx, key("k"))
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, idempotency.InProgress, r.Status)
			assert.Equal(t, fp("a"), r.Fingerprint)
			assert.False(t, r.ClaimedAt.IsZero())
			require.NoError(t, l.Complete(ctx, &c, response))
			r, ok, err = l.Lookup(ctx, key("k"))
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, idempotency.Completed, r.Status)
			assert.True(t, r.Replayable)
			assert.Equal(t, response.Size(), r.StoredBytes)
			assert.True(t, r.ExpiresAt.After(r.CompletedAt))
		}},
		{"force release frees an in-progress claim only", func(t *testing.T, l idempotency.Ledger, _ func(time.Duration)) {
			ok, err := l.ForceRelease(ctx, key("k"))
			require.NoError(t, err)
			assert.False(t, ok, "nothing to release")
			c := claim(t, l, key("k"), "a", time.Minute)
			ok, err = l.ForceRelease(ctx, key("k"))
			require.NoError(t, err)
			assert.True(t, ok)
			assert.ErrorIs(t, l.Complete(ctx, &c, response), idempotency.ErrLeaseLost, "the stuck holder lost its claim")
			d := claim(t, l, key("k"), "a", time.Minute)
			require.Equal(t, idempotency.Claimed, d.Outcome)
			require.NoError(t, l.Complete(ctx, &d, response))
			ok, err = l.ForceRelease(ctx, key("k"))
			require.NoError(t, err)
			assert.False(t, ok, "a completed record stays")
			assert.Equal(t, idempotency.Done, claim(t, l, key("k"), "a", time.Minute).Outcome)
		}},
		{"invalid keys are refused", func(t *testing.T, l idempotency.Ledger, _ func(time.Duration)) {
			for _, k := range []string{"", string(make([]byte, 256)), "tab\there", "é"} {
				_, err := l.Claim(ctx, idempotency.ClaimRequest{Key: idempotency.Key{Key: k}})
				assert.ErrorIs(t, err, idempotency.ErrInvalidKey, "%q", k)
			}
		}},
		{"one of many concurrent claims wins", func(t *testing.T, l idempotency.Ledger, _ func(time.Duration)) {
			var claimed, busy atomic.Int64
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Go(func() {
					c, err := l.Claim(ctx, idempotency.ClaimRequest{Key: key("k"), Fingerprint: fp("a"), Lease: time.Minute})
					if !assert.NoError(t, err, "claim %d", i) {
						return
					}
					switch c.Outcome {
					case idempotency.Claimed:
						claimed.Add(1)
					case idempotency.Busy:
						busy.Add(1)
					}
				})
			}
			wg.Wait()
			assert.EqualValues(t, 1, claimed.Load())
			assert.EqualValues(t, 39, busy.Load())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, wait := h.New(t)
			tt.run(t, l, wait)
		})
	}
}

// Keys returns n distinct keys, for benchmarks.
func Keys(n int) []idempotency.Key {
	ks := make([]idempotency.Key, n)
	for i := range ks {
		ks[i] = key(fmt.Sprint("k-", i))
	}
	return ks
}
