package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/dlq"
	"github.com/baldur-go/baldur/dlq/dlqtest"
)

type autoFixture struct {
	q       *dlq.Queue
	repo    *dlq.Memory
	clk     *clock.Fake
	batches chan autoBatch
	calls   atomic.Int32
	failAt  atomic.Int32 // the call number that fails; 0 never
}

type autoBatch struct {
	r       dlq.BatchResult
	stopped bool
}

func newAutoFixture(t *testing.T, pending int, ar dlq.AutoReplay) *autoFixture {
	t.Helper()
	f := &autoFixture{clk: clock.NewFake(t0), batches: make(chan autoBatch, 100)}
	f.repo = dlq.NewMemory(dlq.MemoryConfig{Clock: f.clk})
	f.q = newQueue(t, dlq.Config{Repository: f.repo, Clock: f.clk, AutoReplay: ar,
		Domains: []dlq.Domain{{Name: "payments", AutoReplay: true, Partitions: []string{"pay.example:443"}}, {Name: "mail"}},
		Handler: func(context.Context, dlq.Entry, string) error {
			if n := f.calls.Add(1); n == f.failAt.Load() {
				return errors.New("still down")
			}
			return nil
		},
		OnAutoReplay: func(_ string, r dlq.BatchResult, stopped bool) { f.batches <- autoBatch{r, stopped} }})
	var es []dlq.Entry
	for i := range pending {
		es = append(es, dlqtest.NewEntry(fmt.Sprintf("a%03d", i), "payments", t0.Add(time.Duration(i))))
	}
	_, err := f.repo.Add(context.Background(), es)
	require.NoError(t, err)
	return f
}

// closeBreaker trips a real breaker for the partition and lets it close
// through a half-open probe, on the fake clock, with the queue's hook.
func closeBreaker(t *testing.T, f *autoFixture, key string) {
	t.Helper()
	br, err := blast.NewBreakers(blast.BreakerConfig{ConsecutiveFailures: 1, OpenTimeout: baldur.Duration(time.Second), HalfOpenProbes: 1,
		Clock: f.clk, OnStateChange: f.q.OnBreakerStateChange})
	require.NoError(t, err)
	call := func(r baldur.Result) {
		p, err := br.Admit(context.Background(), baldur.Call{Key: key, Operation: "POST /charges", Now: f.clk.Now()})
		require.NoError(t, err)
		p.Release(baldur.Outcome{Result: r})
	}
	call(baldur.Failure) // opens
	assert.False(t, f.q.Armed("payments"), "an opening breaker does not arm")
	f.clk.Advance(2 * time.Second)
	call(baldur.Success) // the half-open probe closes it
}

func TestAutoReplayArmsOnBreakerCloseAndPaces(t *testing.T) {
	t.Parallel()
	f := newAutoFixture(t, 25, dlq.AutoReplay{Rate: 100, Burst: 10})
	closeBreaker(t, f, "pay.example:443")
	require.True(t, f.q.Armed("payments"), "a closing breaker arms its domain")
	f.clk.Advance(0)
	b := <-f.batches
	assert.Equal(t, 10, b.r.Resolved, "the first batch is the bucket's burst")
	assert.False(t, b.stopped)
	f.clk.Advance(99 * time.Millisecond)
	assert.Equal(t, int32(10), f.calls.Load(), "paced: 10 per 100 ms")
	f.clk.Advance(time.Millisecond)
	b = <-f.batches
	assert.Equal(t, 10, b.r.Resolved)
	f.clk.Advance(100 * time.Millisecond)
	b = <-f.batches
	assert.Equal(t, 5, b.r.Resolved)
	assert.True(t, b.stopped, "nothing left to replay")
	assert.False(t, f.q.Armed("payments"))
	assert.Equal(t, int32(25), f.calls.Load())
}

func TestAutoReplayStopsAtFirstFailure(t *testing.T) {
	t.Parallel()
	f := newAutoFixture(t, 30, dlq.AutoReplay{Rate: 100, Burst: 10})
	f.failAt.Store(3)
	require.True(t, f.q.Arm("payments"))
	f.clk.Advance(0)
	b := <-f.batches
	assert.Equal(t, 2, b.r.Resolved)
	assert.Equal(t, 1, b.r.Failed)
	assert.True(t, b.stopped, "the run is a probe: one failure stops it")
	assert.False(t, f.q.Armed("payments"))
	f.clk.Advance(time.Second)
	assert.Equal(t, int32(3), f.calls.Load(), "no replay after the failure")
}

func TestAutoReplayAtMostMaxPerArming(t *testing.T) {
	t.Parallel()
	f := newAutoFixture(t, 150, dlq.AutoReplay{Rate: 1000, Burst: 40})
	require.True(t, f.q.Arm("payments"))
	assert.False(t, f.q.Arm("payments"), "one run per domain")
	total := 0
	for stopped := false; !stopped; {
		f.clk.Advance(40 * time.Millisecond)
		b := <-f.batches
		total += b.r.Resolved
		stopped = b.stopped
	}
	assert.Equal(t, dlq.DefaultAutoMax, total, "at most 100 per arming")
}

func TestAutoReplayIgnoresOtherPartitionsAndDisarms(t *testing.T) {
	t.Parallel()
	f := newAutoFixture(t, 5, dlq.AutoReplay{})
	closeBreaker(t, f, "other.example:443")
	assert.False(t, f.q.Armed("payments"), "another partition does not arm payments")
	require.True(t, f.q.Arm("payments"))
	assert.True(t, f.q.Disarm("payments"))
	f.clk.Advance(time.Second)
	assert.Zero(t, f.calls.Load(), "a disarmed run replays nothing")
}
