package watchdog_test

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/watchdog"
)

// scanCheck stands for a store-backed check (stalled rollouts, stuck DLQ
// replays): each pass scans every record of a memory store and reports the
// ones past their deadline.
type scanCheck struct {
	name string
	recs []scanRec
}

type scanRec struct {
	id       string
	deadline time.Time
}

func newScan(name string, n, stuckEvery int) *scanCheck {
	c := &scanCheck{name: name, recs: make([]scanRec, n)}
	for i := range c.recs {
		c.recs[i] = scanRec{id: name + "-" + strconv.Itoa(i), deadline: t0.Add(time.Hour)}
		if stuckEvery > 0 && i%stuckEvery == 0 {
			c.recs[i].deadline = t0.Add(-time.Hour)
		}
	}
	return c
}

func (c *scanCheck) Name() string { return c.name }

func (c *scanCheck) Observe(_ context.Context, now time.Time) ([]watchdog.Observation, error) {
	var out []watchdog.Observation
	for i := range c.recs {
		if now.After(c.recs[i].deadline) {
			out = append(out, watchdog.Observation{Subject: c.recs[i].id, Detail: "past its deadline", Page: true, Priority: notify.PriorityHigh})
		}
	}
	return out, nil
}

// BenchmarkPass: one pass over 1,000 rollouts and 10,000 DLQ entries in
// memory, with the incidents of the stuck ones already open (the steady
// state of an ongoing incident), against the bare scans (Observe alone).
func BenchmarkPass(b *testing.B) {
	for _, bc := range []struct {
		name       string
		stuckEvery int
	}{{"stuck=1%", 100}, {"stuck=100%", 1}} {
		rollouts, dlq := newScan("canary_stall", 1000, bc.stuckEvery), newScan("dlq_stuck_replay", 10000, bc.stuckEvery)
		b.Run("bare_scan/"+bc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				_, _ = rollouts.Observe(ctx, t0)
				_, _ = dlq.Observe(ctx, t0)
			}
		})
		b.Run("watchdog/"+bc.name, func(b *testing.B) {
			ctx := context.Background()
			r, err := watchdog.New(watchdog.Config{Checks: []watchdog.Check{rollouts, dlq}, Clock: clock.NewFake(t0), Jitter: -1,
				Session: "bench", Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := r.Tick(ctx); err != nil { // opens (pages) the incidents once
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Tick(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
