package redisstore

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/watchdog"
)

// pageCheck reports n subjects, every one paging (an ongoing incident per
// subject).
type pageCheck struct{ subjects []string }

func (c *pageCheck) Name() string { return "dlq_stuck_replay" }

func (c *pageCheck) Observe(context.Context, time.Time) ([]watchdog.Observation, error) {
	out := make([]watchdog.Observation, len(c.subjects))
	for i, s := range c.subjects {
		out[i] = watchdog.Observation{Subject: s, Page: true, Priority: notify.PriorityWarning}
	}
	return out, nil
}

// BenchmarkWatchdogPassRedis is one steady pass of a led check with 1,000
// open incidents, on Redis (lock and incident store) against the memory
// lock and store in the same run. Nine passes in ten use the leader's
// cache (one lock round trip); every tenth re-reads the incidents.
func BenchmarkWatchdogPassRedis(b *testing.B) {
	ctx := context.Background()
	s := shared.Get(b)
	c := &pageCheck{}
	for i := range 1000 {
		c.subjects = append(c.subjects, "entry-"+strconv.Itoa(i))
	}
	be, err := New(ctx, s.Client(b, nil), Config{Scripts: append(append([]*Script{}, LockScripts...), IncidentScripts...), Logger: discard()})
	if err != nil {
		b.Fatal(err)
	}
	rl, err := NewLock(ctx, be, LockConfig{Prefix: "benchwd:", Server: ServerPolicy{Logger: discard()}})
	if err != nil {
		b.Fatal(err)
	}
	ri, err := NewIncidents(ctx, be, IncidentsConfig{Prefix: "benchwd:", Server: ServerPolicy{Logger: discard()}})
	if err != nil {
		b.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	mem, _ := lock.NewMemory(lock.MemoryConfig{Clock: clk})
	for _, bc := range []struct {
		name string
		l    lock.Fenced
		st   watchdog.IncidentStore
	}{{"memory", mem, watchdog.NewMemoryIncidents()}, {"redis", rl, ri}} {
		b.Run(bc.name, func(b *testing.B) {
			r, err := watchdog.New(watchdog.Config{Checks: []watchdog.Check{c}, Lock: bc.l, Incidents: bc.st, Clock: clk,
				Jitter: -1, Session: "bench-" + bc.name, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := r.Tick(ctx); err != nil { // opens the 1,000 incidents
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
