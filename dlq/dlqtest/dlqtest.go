// Package dlqtest is the conformance suite of dlq.Repository: the rules
// every repository keeps (insert-if-absent, compare-and-set moves that
// count attempts, capacity with drop_oldest and reject, expiry on a fake
// clock, exactly-once takes under concurrency). dlq.Memory's tests run it,
// and redisstore's against a real server.
package dlqtest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/dlq"
)

// Harness builds repositories for the suite.
type Harness struct {
	// New returns a fresh, empty repository (its entries unseen by any
	// other) bounded by lim, reading time from clk.
	New func(t *testing.T, lim dlq.Limits, clk baldur.Clock) dlq.Repository
}

// T0 is the suite's start time.
var T0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// NewEntry returns a pending entry of domain captured at at, expiring 72 h
// later.
func NewEntry(id, domain string, at time.Time) dlq.Entry {
	return dlq.Entry{ID: id, Domain: domain, Operation: "POST /charges", Tier: baldur.TierCritical, Origin: dlq.OriginHTTP,
		Method: "POST", URL: "https://pay.example/charges", Header: map[string]string{"Content-Type": "application/json"},
		Payload: []byte(`{"amount":10}`), FailureType: "http_503", Error: "upstream 503", Group: "g-" + domain, TraceID: "t-" + id,
		CreatedAt: at, ExpiresAt: at.Add(dlq.DefaultExpiry)}
}

func add(t *testing.T, r dlq.Repository, es ...dlq.Entry) dlq.AddResult {
	t.Helper()
	res, err := r.Add(context.Background(), es)
	require.NoError(t, err)
	require.Len(t, res.Status, len(es))
	return res
}

func ids(es []dlq.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()
	small := dlq.Limits{Capacity: 5, DomainCapacity: 3}
	tests := []struct {
		name string
		lim  dlq.Limits
		run  func(t *testing.T, r dlq.Repository, clk *clock.Fake)
	}{
		{"add stores every field, get returns it", dlq.Limits{}, func(t *testing.T, r dlq.Repository, clk *clock.Fake) {
			e := NewEntry("a1", "payments", T0)
			e.Truncated, e.PayloadDropped = true, ""
			res := add(t, r, e)
			assert.Equal(t, dlq.Stored, res.Status[0])
			got, err := r.Get(ctx, "a1")
			require.NoError(t, err)
			assert.Equal(t, e.Payload, got.Payload)
			assert.Equal(t, e.Header, got.Header)
			assert.True(t, got.Truncated)
			assert.Equal(t, dlq.Pending, got.Status)
			for _, p := range [][2]string{{got.Domain, e.Domain}, {got.Operation, e.Operation}, {got.Method, e.Method}, {got.URL, e.URL},
				{got.FailureType, e.FailureType}, {got.Error, e.Error}, {got.Group, e.Group}, {got.TraceID, e.TraceID}} {
				assert.Equal(t, p[1], p[0])
			}
			assert.Equal(t, e.Tier, got.Tier)
			assert.Equal(t, e.Origin, got.Origin)
			assert.True(t, e.CreatedAt.Equal(got.CreatedAt), "created %v", got.CreatedAt)
			assert.True(t, e.ExpiresAt.Equal(got.ExpiresAt), "expires %v", got.ExpiresAt)
			_, err = r.Get(ctx, "nope")
			assert.ErrorIs(t, err, dlq.ErrNotFound)
		}},
		{"add leaves an existing id as it is", dlq.Limits{}, func(t *testing.T, r dlq.Repository, clk *clock.Fake) {
			add(t, r, NewEntry("a1", "payments", T0))
			_, err := r.Move(ctx, dlq.Move{ID: "a1", From: dlq.Pending, To: dlq.Replaying, Holder: 7, Lease: time.Minute})
			require.NoError(t, err)
			again := NewEntry("a1", "payments", T0)
			again.Error = "other"
			res := add(t, r, again)
			assert.Equal(t, dlq.Duplicate, res.Status[0])
			got, err := r.Get(ctx, "a1")
			require.NoError(t, err)
			assert.Equal(t, dlq.Replaying, got.Status, "a re-ingested copy must not undo a replay")
			assert.Equal(t, "upstream 503", got.Error)
		}},
		{"list filters and pages oldest first", dlq.Limits{}, func(t *testing.T, r dlq.Repository, clk *clock.Fake) {
			var es []dlq.Entry
			for i := range 6 {
				d := []string{"payments", "mail"}[i%2]
				e := NewEntry(fmt.Sprintf("e%d", i), d, T0.Add(time.Duration(i)*time.Second))
				if i == 4 {
					e.Group = "special"
				}
				es = append(es, e)
			}
			add(t, r, es[3], es[1], es[5], es[0], es[2], es[4])
			_, err := r.Move(ctx, dlq.Move{ID: "e2", From: dlq.Pending, To: dlq.Replaying, Holder: 1, Lease: time.Minute})
			require.NoError(t, err)
			all, err := r.List(ctx, dlq.Filter{})
			require.NoError(t, err)
			assert.Equal(t, []string{"e0", "e1", "e2", "e3", "e4", "e5"}, ids(all))
			pay, err := r.List(ctx, dlq.Filter{Domain: "payments", Statuses: []dlq.Status{dlq.Pending}})
			require.NoError(t, err)
			assert.Equal(t, []string{"e0", "e4"}, ids(pay))
			rep, err := r.List(ctx, dlq.Filter{Statuses: []dlq.Status{dlq.Replaying, dlq.Resolved}})
			require.NoError(t, err)
			assert.Equal(t, []string{"e2"}, ids(rep))
			g, err := r.List(ctx, dlq.Filter{Group: "special"})
			require.NoError(t, err)
			assert.Equal(t, []string{"e4"}, ids(g))
			p1, err := r.List(ctx, dlq.Filter{Limit: 4})
			require.NoError(t, err)
			assert.Equal(t, []string{"e0", "e1", "e2", "e3"}, ids(p1))
			p2, err := r.List(ctx, dlq.Filter{Limit: 4, After: "e3"})
			require.NoError(t, err)
			assert.Equal(t, []string{"e4", "e5"}, ids(p2))
		}},
		{"move is a compare-and-set with holder and lease", dlq.Limits{}, func(t *testing.T, r dlq.Repository, clk *clock.Fake) {
			add(t, r, NewEntry("m1", "payments", T0))
			e, err := r.Move(ctx, dlq.Move{ID: "m1", From: dlq.Pending, To: dlq.Replaying, Holder: 42, Lease: time.Minute})
			require.NoError(t, err)
			assert.Equal(t, dlq.Replaying, e.Status)
			assert.Equal(t, uint64(42), e.Holder)
			assert.True(t, e.LeaseUntil.Equal(clk.Now().Add(time.Minute)), "lease %v", e.LeaseUntil)
			_, err = r.Move(ctx, dlq.Move{ID: "m1", From: dlq.Pending, To: dlq.Replaying, Holder: 43, Lease: time.Minute})
			assert.ErrorIs(t, err, dlq.ErrConflict, "a second taker")
			_, err = r.Move(ctx, dlq.Move{ID: "m1", From: dlq.Replaying, To: dlq.Resolved, Holder: 43})
			assert.ErrorIs(t, err, dlq.ErrConflict, "another holder")
			_, err = r.Move(ctx, dlq.Move{ID: "m1", From: dlq.Replaying, To: dlq.Pending, Expired: true})
			assert.ErrorIs(t, err, dlq.ErrConflict, "reclaim before the lease ends")
			clk.Advance(time.Minute)
			e, err = r.Move(ctx, dlq.Move{ID: "m1", From: dlq.Replaying, To: dlq.Pending, Expired: true})
			require.NoError(t, err, "reclaim at the lease's end")
			assert.Equal(t, dlq.Pending, e.Status)
			assert.Zero(t, e.Attempts, "a reclaim counts no attempt")
			assert.Zero(t, e.Holder)
			_, err = r.Move(ctx, dlq.Move{ID: "gone", From: dlq.Pending, To: dlq.Replaying})
			assert.ErrorIs(t, err, dlq.ErrNotFound)
			got, err := r.Get(ctx, "m1")
			require.NoError(t, err)
			assert.True(t, got.UpdatedAt.Equal(clk.Now()), "updated %v", got.UpdatedAt)
		}},
		{"failed attempts count and reach review", dlq.Limits{}, func(t *testing.T, r dlq.Repository, clk *clock.Fake) {
			add(t, r, NewEntry("f1", "payments", T0))
			for i, want := range []dlq.Status{dlq.Pending, dlq.RequiresReview} {
				_, err := r.Move(ctx, dlq.Move{ID: "f1", From: dlq.Pending, To: dlq.Replaying, Holder: 9, Lease: time.Minute})
				require.NoError(t, err)
				e, err := r.Move(ctx, dlq.Move{ID: "f1", From: dlq.Replaying, To: dlq.Pending, Holder: 9, Count: true, ReviewAfter: 2})
				require.NoError(t, err)
				assert.Equal(t, i+1, e.Attempts)
				assert.Equal(t, want, e.Status)
			}
			_, err := r.Move(ctx, dlq.Move{ID: "f1", From: dlq.Pending, To: dlq.Replaying, Holder: 9})
			assert.ErrorIs(t, err, dlq.ErrConflict, "an entry in review is not taken")
			e, err := r.Move(ctx, dlq.Move{ID: "f1", From: dlq.RequiresReview, To: dlq.Pending, ResetAttempts: true})
			require.NoError(t, err, "redrive")
			assert.Zero(t, e.Attempts)
			_, err = r.Move(ctx, dlq.Move{ID: "f1", From: dlq.Pending, To: dlq.Replaying, Holder: 9})
			require.NoError(t, err)
			e, err = r.Move(ctx, dlq.Move{ID: "f1", From: dlq.Replaying, To: dlq.Pending, Holder: 9})
			require.NoError(t, err, "back without counting")
			assert.Zero(t, e.Attempts)
			counts, err := r.Counts(ctx)
			require.NoError(t, err)
			assert.Equal(t, 1, counts["payments"].ByStatus[dlq.Pending])
		}},
		{"drop_oldest evicts the domain's oldest, then the queue's", small, func(t *testing.T, r dlq.Repository, clk *clock.Fake) {
			for i := range 4 {
				add(t, r, NewEntry(fmt.Sprintf("p%d", i), "payments", T0.Add(time.Duration(i)*time.Second)))
			}
			got, err := r.List(ctx, dlq.Filter{Domain: "payments"})
			require.NoError(t, err)
			assert.Equal(t, []string{"p1", "p2", "p3"}, ids(got), "domain capacity 3")
			res := add(t, r, NewEntry("m0", "mail", T0.Add(10*time.Second)), NewEntry("m1", "mail", T0.Add(11*time.Second)),
				NewEntry("m2", "mail", T0.Add(12*time.Second)))
			assert.Equal(t, 1, res.Evicted["payments"], "total capacity 5 evicts the queue's oldest")
			all, err := r.List(ctx, dlq.Filter{})
			require.NoError(t, err)
			assert.Equal(t, []string{"p2", "p3", "m0", "m1", "m2"}, ids(all))
		}},
		{"reject refuses at capacity", dlq.Limits{Capacity: 5, DomainCapacity: 3, Overflow: dlq.Reject}, func(t *testing.T, r dlq.Repository, clk *clock.Fake) {
			var es []dlq.Entry
			for i := range 4 {
				es = append(es, NewEntry(fmt.Sprintf("p%d", i), "payments", T0.Add(time.Duration(i)*time.Second)))
			}
			res := add(t, r, es...)
			assert.Equal(t, []dlq.AddStatus{dlq.Stored, dlq.Stored, dlq.Stored, dlq.Rejected}, res.Status)
			res = add(t, r, NewEntry("m0", "mail", T0), NewEntry("m1", "mail", T0), NewEntry("m2", "mail", T0))
			assert.Equal(t, []dlq.AddStatus{dlq.Stored, dlq.Stored, dlq.Rejected}, res.Status)
			all, err := r.List(ctx, dlq.Filter{})
			require.NoError(t, err)
			assert.ElementsMatch(t, []string{"p0", "p1", "p2", "m0", "m1"}, ids(all))
		}},
		{"entries expire at 72 h", dlq.Limits{}, func(t *testing.T, r dlq.Repository, clk *clock.Fake) {
			add(t, r, NewEntry("x1", "payments", clk.Now()), NewEntry("x2", "payments", clk.Now().Add(time.Hour)))
			clk.Advance(dlq.DefaultExpiry - time.Nanosecond)
			_, err := r.Get(ctx, "x1")
			require.NoError(t, err, "just before 72 h")
			clk.Advance(time.Nanosecond)
			_, err = r.Get(ctx, "x1")
			assert.ErrorIs(t, err, dlq.ErrNotFound, "at 72 h")
			_, err = r.Move(ctx, dlq.Move{ID: "x1", From: dlq.Pending, To: dlq.Replaying})
			assert.ErrorIs(t, err, dlq.ErrNotFound)
			res := add(t, r, NewEntry("x3", "payments", T0))
			assert.Equal(t, dlq.Stale, res.Status[0], "an entry expired before its write")
			assert.Equal(t, 1, res.Expired["payments"], "expiry on write")
			got, err := r.List(ctx, dlq.Filter{})
			require.NoError(t, err)
			assert.Equal(t, []string{"x2"}, ids(got))
			c, err := r.Counts(ctx)
			require.NoError(t, err)
			assert.Equal(t, 1, c["payments"].Total())
		}},
		{"delete and counts", dlq.Limits{}, func(t *testing.T, r dlq.Repository, clk *clock.Fake) {
			add(t, r, NewEntry("d1", "payments", T0), NewEntry("d2", "payments", T0.Add(time.Second)), NewEntry("d3", "mail", T0.Add(2*time.Second)))
			_, err := r.Move(ctx, dlq.Move{ID: "d1", From: dlq.Pending, To: dlq.Replaying, Holder: 1})
			require.NoError(t, err)
			c, err := r.Counts(ctx)
			require.NoError(t, err)
			assert.Equal(t, [dlq.NumStatuses]int{1, 1, 0, 0}, c["payments"].ByStatus)
			assert.True(t, c["payments"].OldestPending.Equal(T0.Add(time.Second)), "oldest pending %v", c["payments"].OldestPending)
			n, err := r.Delete(ctx, "d1", "d3", "unknown")
			require.NoError(t, err)
			assert.Equal(t, 2, n)
			c, err = r.Counts(ctx)
			require.NoError(t, err)
			assert.Equal(t, 1, c["payments"].Total())
			assert.NotContains(t, c, "mail")
		}},
		{"concurrent takers take each entry exactly once", dlq.Limits{}, func(t *testing.T, r dlq.Repository, clk *clock.Fake) {
			const entries, takers = 50, 8
			var es []dlq.Entry
			for i := range entries {
				es = append(es, NewEntry(fmt.Sprintf("c%d", i), "payments", T0.Add(time.Duration(i))))
			}
			add(t, r, es...)
			var taken [entries]atomic.Int32
			var wg sync.WaitGroup
			for w := range takers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range entries {
						_, err := r.Move(ctx, dlq.Move{ID: fmt.Sprintf("c%d", i), From: dlq.Pending, To: dlq.Replaying, Holder: uint64(w + 1), Lease: time.Minute})
						if err == nil {
							taken[i].Add(1)
						} else if !assert.ErrorIs(t, err, dlq.ErrConflict) {
							return
						}
					}
				}()
			}
			wg.Wait()
			for i := range taken {
				assert.Equal(t, int32(1), taken[i].Load(), "entry c%d", i)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(T0)
			tt.run(t, h.New(t, tt.lim, clk), clk)
		})
	}
}
