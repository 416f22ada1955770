package notify_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/notify"
)

func stormPipeline(tb testing.TB) *notify.Pipeline {
	p, err := notify.New(notify.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

var storm = notify.Notification{Priority: notify.PriorityHigh, Source: "governance", Title: "kill_switch_unreadable", Body: "store timeout"}

// The storm case: a notification suppressed by its key's cooldown, in
// memory, allocates nothing.
func TestCooldownHitAllocatesNothing(t *testing.T) {
	p := stormPipeline(t)
	ctx := context.Background()
	r, err := p.Notify(ctx, storm)
	require.NoError(t, err)
	require.True(t, r.Delivered)
	allocs := testing.AllocsPerRun(1000, func() {
		r, _ = p.Notify(ctx, storm)
	})
	assert.Equal(t, notify.SuppressCooldown, r.Suppressed)
	assert.Zero(t, allocs)
	keyed := storm
	keyed.Key = "governance:kill_switch_unreadable:store"
	_, _ = p.Notify(ctx, keyed)
	assert.Zero(t, testing.AllocsPerRun(1000, func() { r, _ = p.Notify(ctx, keyed) }))
	assert.Equal(t, notify.SuppressCooldown, r.Suppressed)
}

// BenchmarkNotify: the cooldown hit (the storm case) against NoOp, the
// floor of any call through the interface, in the same run.
func BenchmarkNotify(b *testing.B) {
	ctx := context.Background()
	b.Run("noop", func(b *testing.B) {
		var m notify.Manager = notify.NoOp{}
		b.ReportAllocs()
		for b.Loop() {
			_, _ = m.Notify(ctx, storm)
		}
	})
	b.Run("cooldown_hit", func(b *testing.B) {
		var m notify.Manager = stormPipeline(b)
		_, _ = m.Notify(ctx, storm)
		b.ReportAllocs()
		for b.Loop() {
			_, _ = m.Notify(ctx, storm)
		}
	})
	b.Run("cooldown_hit_coarse_clock", func(b *testing.B) {
		// clock.Coarse: the clock read is one atomic load.
		c, err := clock.NewCoarse(time.Millisecond)
		require.NoError(b, err)
		defer c.Stop()
		p, err := notify.New(notify.Config{Clock: c, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(b, err)
		defer p.Close(ctx)
		_, _ = p.Notify(ctx, storm)
		b.ReportAllocs()
		for b.Loop() {
			_, _ = p.Notify(ctx, storm)
		}
	})
	b.Run("cooldown_hit_parallel", func(b *testing.B) {
		var m notify.Manager = stormPipeline(b)
		_, _ = m.Notify(ctx, storm)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = m.Notify(ctx, storm)
			}
		})
	})
	b.Run("enqueue", func(b *testing.B) {
		// A fresh key each time: the full pipeline up to the queue of a
		// log channel; the logger discards, so the audit line and the log
		// channel's record cost their checks, not a handler's formatting.
		p, err := notify.New(notify.Config{NoGrouping: true, Rate: notify.Rate{Unlimited: true}, MaxKeys: 1 << 20,
			Logger: slog.New(slog.DiscardHandler)})
		require.NoError(b, err)
		b.Cleanup(func() { _ = p.Close(ctx) })
		keys := make([]string, 1<<16)
		for i := range keys {
			keys[i] = "k" + strconv.Itoa(i)
		}
		n := storm
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			n.Key = keys[i%len(keys)] + strconv.Itoa(i/len(keys))
			i++
			_, _ = p.Notify(ctx, n)
		}
	})
}

// BenchmarkNotifyChannelDown: Notify while the channel's endpoint hangs,
// its breaker open ("breaker_open") or the worker stuck inside a send with
// the breaker still closed ("send_hanging"), against NoOp in the same run.
// Besides ns/op it reports each call's p99 and worst latency: the channel
// down, a caller still waits well under 1 ms (p99-ns <= 1e6). Every call
// has a new key on a still clock, so the key table fills with live
// cooldowns and each call also scans a full shard for one to evict: the
// worst case of a storm of distinct keys.
func BenchmarkNotifyChannelDown(b *testing.B) {
	ctx := context.Background()
	channel := func(b *testing.B, breakerOpen bool) notify.Manager {
		hook := newSink(b)
		ch := notify.ChannelConfig{Name: "hook", Type: notify.TypeWebhook, URLEnv: "H", QueueSize: 5, MaxAttempts: 1,
			Timeout: baldur.Duration(time.Hour), Breaker: blast.BreakerConfig{ConsecutiveFailures: 3, OpenTimeout: baldur.Duration(time.Minute)}}
		// A production logger (JSON at info), writing nowhere: what a
		// drop costs the caller includes its log line.
		p, _, _ := build(b, notify.Config{NoGrouping: true, Rate: notify.Rate{Unlimited: true}, Channels: []notify.ChannelConfig{ch},
			Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))},
			env{"H": hook.srv.URL})
		if breakerOpen {
			hook.set(http.StatusInternalServerError, nil)
			for i := range 3 {
				_, err := p.Notify(ctx, notify.Notification{Priority: notify.PriorityHigh, Source: "s", Key: "f" + strconv.Itoa(i), Title: "t"})
				require.NoError(b, err)
				<-hook.entered
			}
			require.Eventually(b, func() bool { return p.Channels()[0].BreakerOpen }, 10*time.Second, time.Millisecond)
		}
		hook.block()
		if !breakerOpen {
			_, err := p.Notify(ctx, notify.Notification{Priority: notify.PriorityHigh, Source: "s", Key: "first", Title: "t"})
			require.NoError(b, err)
			<-hook.entered
		}
		return p
	}
	for _, bc := range []struct {
		name string
		m    func(b *testing.B) notify.Manager
	}{
		{"noop", func(*testing.B) notify.Manager { return notify.NoOp{} }},
		{"breaker_open", func(b *testing.B) notify.Manager { return channel(b, true) }},
		{"send_hanging", func(b *testing.B) notify.Manager { return channel(b, false) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := bc.m(b)
			lat := make([]time.Duration, 0, 1<<16)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// WARNING: each one queued drops the oldest (a queue full of
				// CRITICAL refuses instead, TestQueueFullOfCriticalRefuses).
				n := notify.Notification{Priority: notify.PriorityWarning, Source: "s", Key: "k" + strconv.Itoa(i), Title: "t"}
				i++
				start := time.Now()
				r, err := m.Notify(ctx, n)
				lat = append(lat, time.Since(start))
				if err != nil || !r.Delivered && bc.name != "noop" {
					b.Fatalf("Notify: %+v, %v", r, err)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
			b.ReportMetric(float64(lat[len(lat)-1]), "max-ns")
		})
	}
}
