package chaos_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/chaos"
)

// bareGate is the baseline: a gate that does nothing, called the same way.
type bareGate struct{}

func (bareGate) Stage() baldur.Stage { return baldur.StageFault }
func (bareGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.Permit{}, nil
}

// sameShape is FaultGate.Admit's shape without its view: the Call taken
// by value, and passed on by address behind an atomic load that finds
// nothing.
type sameShape struct {
	set  atomic.Pointer[baldur.Call]
	seen int // admit reads the call without keeping it, so it does not escape
}

func (g *sameShape) Admit(ctx context.Context, c baldur.Call) (p baldur.Permit, err error) {
	if g.set.Load() != nil {
		p, err = g.admit(ctx, &c)
	}
	return p, err
}

//go:noinline
func (g *sameShape) admit(_ context.Context, c *baldur.Call) (baldur.Permit, error) {
	g.seen += len(c.Key)
	return baldur.Permit{}, nil
}

// benchEnv has one experiment on policy "api" in its during phase, live
// unless dry. Its lease is long enough for a benchmark (no pass runs).
func benchEnv(b *testing.B, dry bool) *env {
	e := newEnv(b, func(c *chaos.Config) {
		c.MaxRate = 0.5
		c.Lease = baldur.Duration(time.Hour)
		c.Poll = baldur.Duration(time.Second)
	})
	x := errorExp("bench", 0.25)
	x.DryRun = dry
	x.Target.Operation = "GET /api/*"
	e.toDuring(b, x)
	return e
}

// faultCase is one decision the benchmarks measure: a gate and the call
// it decides.
type faultCase struct {
	name  string
	setup func(b *testing.B) (baldur.Gate, baldur.Call)
}

// faultCases are the decisions of BenchmarkFaultGate and
// BenchmarkFaultGateSerial: a bare gate, no experiment, an active
// experiment the call is not targeted by (another policy, operation or
// tier, or a key in no cohort), a matching call (an injected error: the
// decision, no delay) and a dry-run match.
var faultCases = []faultCase{
	{"bare", func(*testing.B) (baldur.Gate, baldur.Call) { return bareGate{}, call(time.Now(), "tenant-1") }},
	{"no_experiment", func(*testing.B) (baldur.Gate, baldur.Call) {
		_, g := chaos.NewInjector(nil).Gates("api")
		return g, call(time.Now(), "tenant-1")
	}},
	{"active_other_policy", func(b *testing.B) (baldur.Gate, baldur.Call) {
		e := benchEnv(b, false)
		_, g := e.inj.Gates("search")
		return g, call(e.clk.Now(), "tenant-1")
	}},
	{"active_other_operation", func(b *testing.B) (baldur.Gate, baldur.Call) {
		g, c := activeCall(b, false, "experiment")
		c.Operation = "GET /health"
		return g, c
	}},
	{"active_other_tier", func(b *testing.B) (baldur.Gate, baldur.Call) {
		g, c := activeCall(b, false, "experiment")
		c.Tier = baldur.TierCritical
		return g, c
	}},
	{"active_untouched_key", func(b *testing.B) (baldur.Gate, baldur.Call) { return activeCall(b, false, "") }},
	{"match_inject_error", func(b *testing.B) (baldur.Gate, baldur.Call) { return activeCall(b, false, "experiment") }},
	{"match_dry_run", func(b *testing.B) (baldur.Gate, baldur.Call) { return activeCall(b, true, "experiment") }},
}

// activeCall is the fault gate of policy "api" under benchEnv and a call
// from a key of cohort ("" for none).
func activeCall(b *testing.B, dry bool, cohort string) (baldur.Gate, baldur.Call) {
	e := benchEnv(b, dry)
	_, g := e.inj.Gates("api")
	return g, call(e.clk.Now(), firstKey(b, "bench", 0.25, cohort))
}

// BenchmarkFaultGate measures the faultCases' Admit from parallel
// goroutines, in the same run.
func BenchmarkFaultGate(b *testing.B) {
	ctx := context.Background()
	for _, fc := range faultCases {
		b.Run(fc.name, func(b *testing.B) {
			g, c := fc.setup(b)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p, _ := g.Admit(ctx, c)
					p.Release(baldur.Outcome{})
				}
			})
		})
	}
}

// The admission paths of the benchmark allocate nothing.
func TestFaultGatePathsAllocateNothing(t *testing.T) {
	e := newEnv(t, func(c *chaos.Config) { c.MaxRate = 0.5 })
	x := errorExp("alloc", 0.25)
	x.Target.Operation = "GET /api/*"
	e.toDuring(t, x)
	ctx := context.Background()
	obs, fault := e.inj.Gates("api")
	_, other := e.inj.Gates("search")
	for name, tc := range map[string]struct {
		g   baldur.Gate
		key string
	}{
		"other policy": {other, "k"},
		"untouched":    {fault, firstKey(t, "alloc", 0.25, "")},
		"injected":     {fault, firstKey(t, "alloc", 0.25, "experiment")},
		"control":      {fault, firstKey(t, "alloc", 0.25, "control")},
		"observe":      {obs, firstKey(t, "alloc", 0.25, "control")},
	} {
		c := call(e.clk.Now(), tc.key)
		assert.Zero(t, testing.AllocsPerRun(500, func() {
			p, _ := tc.g.Admit(ctx, c)
			p.Release(baldur.Outcome{Result: baldur.Success, Latency: time.Millisecond})
		}), name)
	}
}

// BenchmarkFaultGateSerial is the same decisions on one goroutine
// through the Gate interface, as a Policy calls it, against the bare gate
// in the same run; the release of a cohort call's permit is
// BenchmarkCohortRelease.
func BenchmarkFaultGateSerial(b *testing.B) {
	ctx := context.Background()
	// Admit, and the release of a permit when the gate took one (a cohort
	// call of a dry run); an injected error takes none, so that case is
	// the decision alone. (StopTimer around batched releases would cost a
	// ReadMemStats each time, more than what is measured.)
	for _, fc := range faultCases {
		b.Run(fc.name, func(b *testing.B) {
			g, c := fc.setup(b)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				p, _ := g.Admit(ctx, c)
				if p.Held() {
					p.Release(baldur.Outcome{Result: baldur.Success, Latency: time.Millisecond})
				}
			}
		})
	}
}

// BenchmarkCohortRelease is the release of a cohort call's permit: its
// outcome counted (calls, result, latency bucket).
func BenchmarkCohortRelease(b *testing.B) {
	e := benchEnv(b, true)
	_, g := e.inj.Gates("api")
	c := call(e.clk.Now(), firstKey(b, "bench", 0.25, "control"))
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, _ := g.Admit(ctx, c)
			p.Release(baldur.Outcome{Result: baldur.Success, Latency: time.Millisecond})
		}
	})
}

// BenchmarkFaultGateDirect calls the concrete *FaultGate with no active
// experiment, so that Admit (one atomic load) inlines: the stage's own
// cost without the interface call every gate pays. The inlined Admit still
// copies the 144-byte Call into its parameter, so besides an empty loop
// the baseline is a gate of the same shape (call_copy: an atomic pointer
// that is never set, the Call passed on by address behind it), whose cost
// is that copy and the load.
func BenchmarkFaultGateDirect(b *testing.B) {
	ctx := context.Background()
	c := call(time.Now(), "tenant-1")
	b.Run("loop", func(b *testing.B) {
		held := 0
		for b.Loop() {
			var p baldur.Permit
			if p.Held() {
				held++
			}
		}
		_ = held
	})
	b.Run("call_copy", func(b *testing.B) {
		var g sameShape
		b.ReportAllocs()
		held := 0
		for b.Loop() {
			p, _ := g.Admit(ctx, c)
			if p.Held() {
				held++
			}
		}
		_ = held
	})
	b.Run("no_experiment", func(b *testing.B) {
		_, g := chaos.NewInjector(nil).Gates("api")
		fg := g.(*chaos.FaultGate)
		held := 0
		b.ReportAllocs()
		for b.Loop() {
			p, _ := fg.Admit(ctx, c)
			if p.Held() {
				held++
			}
		}
		_ = held
	})
}
