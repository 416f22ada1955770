package governance

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
)

func newTestBudget(t testing.TB, cfg Config) *Budget {
	t.Helper()
	s, err := validate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return newBudget(s)
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestBudgetRemainingAndRollingWindow(t *testing.T) {
	t.Parallel()
	b := newTestBudget(t, Config{SLOTarget: 0.99, BudgetWindow: time.Hour, BudgetMinCalls: 1})
	now := t0
	if st := b.Status(now); st.RemainingPct != 100 || st.Total != 0 {
		t.Fatalf("empty: %+v", st)
	}
	for range 990 {
		b.Record(now, baldur.Success)
	}
	for range 5 {
		b.Record(now, baldur.Failure)
	}
	for range 100 {
		b.Record(now, baldur.Ignored)
	}
	st := b.Status(now)
	// 995 calls allow 9.95 failures; 5 spent.
	if st.Total != 995 || st.Failed != 5 || !near(st.RemainingPct, (1-5/9.95)*100) {
		t.Fatalf("status: %+v", st)
	}
	// Half an hour later more failures, then the first batch leaves the window.
	now = now.Add(30 * time.Minute)
	for range 5 {
		b.Record(now, baldur.Failure)
	}
	if st := b.Status(now); st.Failed != 10 || st.RemainingPct != 0 {
		t.Fatalf("within the window: %+v", st)
	}
	now = now.Add(31 * time.Minute)
	if st := b.Status(now); st.Total != 5 || st.Failed != 5 {
		t.Fatalf("after the window rolled: %+v", st)
	}
	// A bucket is recycled a full window later.
	now = now.Add(time.Hour)
	b.Record(now, baldur.Success)
	if st := b.Status(now); st.Total != 1 || st.Failed != 0 {
		t.Fatalf("recycled: %+v", st)
	}
}

func TestBudgetMinCalls(t *testing.T) {
	t.Parallel()
	b := newTestBudget(t, Config{})
	for range 10 {
		b.Record(t0, baldur.Failure)
	}
	if r := b.RemainingPct(t0); r != 100 {
		t.Fatalf("below BudgetMinCalls: %v", r)
	}
}

func TestBudgetBurnRates(t *testing.T) {
	t.Parallel()
	b := newTestBudget(t, Config{SLOTarget: 0.999, BudgetMinCalls: 1})
	now := t0
	// 3 hours of clean traffic, then 5 minutes at 2 % errors.
	for m := range 180 {
		for range 100 {
			b.Record(now.Add(time.Duration(m)*time.Minute), baldur.Success)
		}
	}
	now = now.Add(180 * time.Minute)
	for m := range 5 {
		at := now.Add(time.Duration(m) * time.Minute)
		for i := range 100 {
			r := baldur.Success
			if i < 2 {
				r = baldur.Failure
			}
			b.Record(at, r)
		}
	}
	now = now.Add(4*time.Minute + 30*time.Second)
	st := b.Status(now)
	want := []time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour}
	if len(st.BurnRates) != len(want) {
		t.Fatalf("burn rates: %+v", st.BurnRates)
	}
	for i, br := range st.BurnRates {
		if br.Window != want[i] {
			t.Fatalf("window %d = %v, want %v", i, br.Window, want[i])
		}
	}
	if r := st.BurnRates[0].Rate; !near(r, 20) { // 2 % / 0.1 %
		t.Fatalf("5m burn = %v", r)
	}
	alerts := b.BurnAlerts(now)
	if len(alerts) != 4 || alerts[0].Factor != 14.4 || !near(alerts[0].ShortRate, 20) {
		t.Fatalf("alerts: %+v", alerts)
	}
	// 1 h: 10 failures in 6000 calls = 1.67x, below 14.4: not firing.
	if alerts[0].Firing || !near(alerts[0].LongRate, 10.0/6000/0.001) {
		t.Fatalf("1h/5m alert: %+v", alerts[0])
	}
}

func TestBudgetConcurrentRecord(t *testing.T) {
	t.Parallel()
	b := newTestBudget(t, Config{BudgetWindow: time.Hour, BudgetMinCalls: 1})
	var wg sync.WaitGroup
	const workers, per = 8, 2000
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				// Spread over a few buckets to exercise recycling claims.
				at := t0.Add(time.Duration(i%5) * time.Minute)
				r := baldur.Success
				if (i+w)%10 == 0 {
					r = baldur.Failure
				}
				b.Record(at, r)
			}
		}()
	}
	wg.Wait()
	st := b.Status(t0.Add(5 * time.Minute))
	if st.Total+b.Lost() != workers*per || st.Failed != workers*per/10 {
		t.Fatalf("status %+v lost %d", st, b.Lost())
	}
}

func TestBudgetRecordAllocs(t *testing.T) {
	b := newTestBudget(t, Config{})
	if n := testing.AllocsPerRun(1000, func() { b.Record(t0, baldur.Failure) }); n != 0 {
		t.Fatalf("Record allocates %v", n)
	}
}
