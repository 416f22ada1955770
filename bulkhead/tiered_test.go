package bulkhead

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
)

func TestTieredDefaults(t *testing.T) {
	t.Parallel()
	g, err := NewTiered(TieredConfig{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[baldur.Tier]Config{
		baldur.TierCritical:     {Name: "admission.critical", MaxConcurrent: 100, MaxWait: baldur.Duration(50 * time.Millisecond)},
		baldur.TierStandard:     {Name: "admission.standard", MaxConcurrent: 50, MaxWait: baldur.Duration(30 * time.Millisecond)},
		baldur.TierNonEssential: {Name: "admission.non_essential", MaxConcurrent: 20},
	}
	for tier, w := range want {
		c := g.Compartment(tier).Config()
		if c.Name != w.Name || c.MaxConcurrent != w.MaxConcurrent || c.MaxWait != w.MaxWait || c.RetryAfter.D() != DefaultRetryAfter {
			t.Errorf("%v: %+v, want %+v", tier, c, w)
		}
	}
	if g.Compartment(baldur.Tier(9)) != g.Compartment(baldur.TierStandard) || g.Stage() != baldur.StageBulkhead {
		t.Fatal("unknown tier / Kind")
	}
}

// A flood of non-essential calls does not take critical permits.
func TestTieredIsolation(t *testing.T) {
	t.Parallel()
	g, err := NewTiered(TieredConfig{Tiers: map[baldur.Tier]TierLimit{
		baldur.TierNonEssential: {MaxConcurrent: 2},
		baldur.TierCritical:     {MaxConcurrent: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ne := baldur.Call{Tier: baldur.TierNonEssential}
	var held []baldur.Permit
	for range 2 {
		p, err := g.Admit(ctx, ne)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, p)
	}
	if _, err := g.Admit(ctx, ne); !errors.Is(err, ErrFull) {
		t.Fatalf("third non-essential: %v", err)
	}
	p, err := g.Admit(ctx, baldur.Call{Tier: baldur.TierCritical})
	if err != nil {
		t.Fatalf("critical starved by non-essential: %v", err)
	}
	p.Release(baldur.Outcome{})
	for i := range held {
		held[i].Release(baldur.Outcome{})
	}
	for _, s := range g.Compartments() {
		checkIdle(t, s)
	}
}

func TestTieredAllocs(t *testing.T) {
	g, _ := NewTiered(TieredConfig{})
	ctx := context.Background()
	c := baldur.Call{Tier: baldur.TierCritical}
	if n := testing.AllocsPerRun(100, func() {
		p, err := g.Admit(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		p.Release(baldur.Outcome{})
	}); n != 0 {
		t.Fatalf("Tiered admit allocates %v", n)
	}
}
