package chaos_test

import (
	"context"
	"fmt"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blastradius"
	"github.com/baldur-go/baldur/chaos"
	"github.com/baldur-go/baldur/clock"
)

// The injector's gates join a policy; with no experiment they admit every
// call and hold nothing.
func ExampleNewInjector() {
	inj := chaos.NewInjector(nil)
	observe, fault := inj.Gates("checkout")
	p, _ := baldur.NewPolicy(baldur.PolicyConfig{Name: "checkout", Gates: []baldur.Gate{fault, observe}})
	t, err := p.Admit(context.Background(), baldur.Call{Operation: "POST /pay", Key: "tenant-7"})
	fmt.Println(err, t.Held(), inj.Active())
	// Output: <nil> false []
}

// The guard lists every reason it refuses; force waives only the cooldown
// and the windows.
func ExampleNewGuard() {
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) // outside 02:00-06:00
	blast, _ := blastradius.New(blastradius.Config{Clock: clk})
	g, _ := chaos.NewGuard(chaos.Config{Enabled: true, Governance: baldur.NoOpGovernance{}, Blast: blast, Clock: clk})
	x := chaos.Experiment{ID: "e1", Target: chaos.Target{Service: "shop"}, Rate: 0.01}
	v := g.Evaluate(context.Background(), x, false)
	fmt.Println(v.Allowed, v.Reasons)
	v = g.Evaluate(context.Background(), x, true)
	fmt.Println(v.Allowed, v.Reasons, v.Waived)
	// Output:
	// false [no_error_budget blast_radius:outside_window]
	// false [no_error_budget] [blast_radius:outside_window]
}

// A Memory store keeps leases on its clock: an entry not refreshed is gone.
func ExampleNewMemory() {
	clk := clock.NewFake(time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC))
	m := chaos.NewMemory(clk)
	ctx := context.Background()
	gen, _, _ := m.Load(ctx)
	_ = m.Put(ctx, gen, chaos.Entry{Experiment: chaos.Experiment{ID: "e1"}, Phase: chaos.PhaseDuring}, 3*time.Second, true)
	_, entries, _ := m.Load(ctx)
	fmt.Println(len(entries))
	clk.Advance(3 * time.Second)
	_, entries, _ = m.Load(ctx)
	fmt.Println(len(entries), m.Put(ctx, gen, chaos.Entry{Experiment: chaos.Experiment{ID: "e1"}}, time.Second, false))
	// Output:
	// 1
	// 0 chaos: experiment no longer in the active set
}
