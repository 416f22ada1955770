package watchdog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blastradius"
	"github.com/baldur-go/baldur/canary"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/dlq"
	"github.com/baldur-go/baldur/dlq/dlqtest"
	"github.com/baldur-go/baldur/registry"
	"github.com/baldur-go/baldur/watchdog"
)

const (
	realRollouts = 1000
	realEntries  = 10000
	realDomains  = 10
)

// calmGov is a governance checker that lets every gate pass: the interlock
// finds nothing to do, start is allowed.
type calmGov struct{}

func (calmGov) CheckAll(context.Context, baldur.GovernanceRequest) baldur.GovernanceResult {
	return baldur.GovernanceResult{}
}
func (calmGov) SystemEnabled(context.Context) bool { return true }
func (calmGov) EmergencyBlocking(context.Context, baldur.EmergencyLevel) (bool, baldur.EmergencyLevel) {
	return false, baldur.LevelNormal
}
func (calmGov) ErrorBudgetBlocking(context.Context, baldur.Tier, string) (bool, float64, float64) {
	return false, 80, 10
}
func (calmGov) InvalidateCache() {}

func benchDocument(b *testing.B, rate float64) []byte {
	b.Helper()
	doc, err := json.Marshal(map[string]any{
		"service":   "shop",
		"throttles": map[string]any{"per_tenant": map[string]any{"rate": rate, "burst": 100}},
		"policies":  []any{map[string]any{"name": "api", "operations": []string{"GET /items/{id}"}, "throttle": "per_tenant"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	return doc
}

// realCanary is a canary service on a Local applier, with governance and a
// blast-radius manager, holding realRollouts running rollouts, one per
// allow-listed config type.
func realCanary(b *testing.B, clk *clock.Fake) *canary.Service {
	b.Helper()
	ctx := context.Background()
	reg := registry.New(registry.WithClock(clk))
	if err := reg.LoadDocument(benchDocument(b, 1000)); err != nil {
		b.Fatal(err)
	}
	local, err := canary.NewLocal(canary.LocalConfig{Target: reg, Replica: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	blast, err := blastradius.New(blastradius.Config{Windows: []blastradius.Window{blastradius.AnyTime}, GlobalMaxTraffic: 1,
		Scopes: map[blastradius.Scope]blastradius.ScopeLimits{
			blastradius.ScopeService: {MaxConcurrent: realRollouts, MaxTrafficPercent: 100, Approval: blastradius.AutoApprove}},
		Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	types := make([]string, realRollouts)
	for i := range types {
		types[i] = fmt.Sprintf("cfg-%04d", i)
	}
	svc, err := canary.New(canary.Config{ConfigTypes: types, Applier: local, Governance: calmGov{}, Blast: blast, Service: "shop",
		Session: "bench", Clock: clk, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	cand := benchDocument(b, 100)
	op := canary.Op{Actor: "bench", Reason: "watchdog pass benchmark"}
	for _, ct := range types {
		// 0.05 % of the traffic each: the thousand stages fit the
		// blast-radius manager's global cap together.
		st, err := svc.Create(ctx, canary.Plan{ConfigType: ct, Candidate: cand, Stages: []canary.Stage{{Share: 0.0005}, {Share: 1}}}, op)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Start(ctx, st.RolloutID, op); err != nil {
			b.Fatal(err)
		}
	}
	if n := len(svc.Active(ctx)); n != realRollouts {
		b.Fatalf("%d active rollouts, want %d", n, realRollouts)
	}
	return svc
}

// realDLQ is a queue on a Memory repository holding realEntries entries,
// the stuck ones replaying an hour past their lease (so they page too).
func realDLQ(b *testing.B, clk *clock.Fake, stuckEvery int) (*dlq.Queue, *dlq.Memory, []string) {
	b.Helper()
	repo := dlq.NewMemory(dlq.MemoryConfig{Limits: dlq.Limits{Capacity: 2 * realEntries, DomainCapacity: 2 * realEntries}, Clock: clk})
	q, err := dlq.New(dlq.Config{Repository: repo, Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = q.Close(ctx)
	})
	es := make([]dlq.Entry, realEntries)
	var stuck []string
	now := clk.Now()
	for i := range es {
		es[i] = dlqtest.NewEntry("e-"+strconv.Itoa(i), "domain-"+strconv.Itoa(i%realDomains), now.Add(-2*time.Hour+time.Duration(i)*time.Millisecond))
		if i%stuckEvery == 0 {
			es[i].Status, es[i].Holder, es[i].LeaseUntil = dlq.Replaying, 1, now.Add(-time.Hour)
			stuck = append(stuck, es[i].ID)
		}
	}
	if _, err := repo.Add(context.Background(), es); err != nil {
		b.Fatal(err)
	}
	return q, repo, stuck
}

// restick takes the reclaimed entries back into replaying, an hour past
// their lease, as crashed replayers would have left them.
func restick(b *testing.B, repo *dlq.Memory, ids []string) {
	ctx := context.Background()
	for _, id := range ids {
		if _, err := repo.Move(ctx, dlq.Move{ID: id, From: dlq.Pending, To: dlq.Replaying, Holder: 1, Lease: -time.Hour}); err != nil && !errors.Is(err, dlq.ErrConflict) {
			b.Fatal(err)
		}
	}
}

// BenchmarkPassRealChecks: one watchdog pass with the real checks — the
// DLQ's stuck-replay check over a Memory repository of 10,000 entries and
// the canary service's interlock, stall and lock checks over 1,000 running
// rollouts — against the bare Observe calls of the same checks, in the same
// run. "steady" is a pass on a still clock: every finding is in backoff and
// its incident already open (an ongoing incident). "acting" advances the
// clock by the interval before each pass, so that every finding is acted on
// again: 1,000 lock renewals plus a reclaim of every stuck entry (re-stuck
// between passes, off the timer), the worst a pass does; 40 or more such
// passes cross twice the stage duration, and one of them pages a stall for
// every rollout (max-pass-ns).
func BenchmarkPassRealChecks(b *testing.B) {
	for _, bc := range []struct {
		name       string
		stuckEvery int
	}{{"stuck=1%", 100}, {"stuck=100%", 1}} {
		clk := clock.NewFake(t0)
		svc := realCanary(b, clk)
		q, repo, stuck := realDLQ(b, clk, bc.stuckEvery)
		checks := append([]watchdog.Check{q.StuckCheck()}, svc.Checks()...)
		b.Run("bare_observe/"+bc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				for _, c := range checks {
					if _, err := c.Observe(ctx, clk.Now()); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		for _, mode := range []string{"steady", "acting"} {
			b.Run("watchdog_"+mode+"/"+bc.name, func(b *testing.B) {
				ctx := context.Background()
				r, err := watchdog.New(watchdog.Config{Checks: checks, Clock: clk, Jitter: -1, Session: "bench",
					BackoffBase: baldur.Duration(time.Second), BackoffMax: baldur.Duration(time.Second),
					// Reclaiming every stuck entry every pass is over the
					// default budget: the brake would stop the acting.
					PerCheck: map[string]watchdog.CheckConfig{"dlq_stuck_replay": {MaxActionsPerHour: 1_000_000}},
					Logger:   slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				// Two passes open the incidents and put every subject in
				// backoff; the entries the first reclaimed are stuck again.
				for range 2 {
					if _, err := r.Tick(ctx); err != nil {
						b.Fatal(err)
					}
					restick(b, repo, stuck)
				}
				b.ReportAllocs()
				var rep watchdog.Report
				var worst time.Duration
				for b.Loop() {
					if mode == "acting" {
						b.StopTimer()
						restick(b, repo, stuck)
						clk.Advance(watchdog.DefaultInterval)
						b.StartTimer()
					}
					start := time.Now()
					if rep, err = r.Tick(ctx); err != nil {
						b.Fatal(err)
					}
					worst = max(worst, time.Since(start))
				}
				// The slowest pass: acting, the one that crosses twice the
				// stage duration also opens (pages) a stall incident for
				// every rollout.
				b.ReportMetric(float64(worst), "max-pass-ns")
				kinds := map[string]int{}
				for _, f := range rep.Findings {
					kinds[f.Kind]++
				}
				b.Logf("last pass: %v", kinds)
			})
		}
	}
}
