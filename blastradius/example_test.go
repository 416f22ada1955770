package blastradius_test

import (
	"context"
	"fmt"
	"time"

	"github.com/baldur-go/baldur/blastradius"
	"github.com/baldur-go/baldur/clock"
)

func ExampleNew() {
	// 03:00 UTC lies in the default 02:00-06:00 window.
	clk := clock.NewFake(time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC))
	m, err := blastradius.New(blastradius.Config{ExcludedServices: []string{"payments"}, Clock: clk})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	d, _ := m.Begin(ctx, blastradius.Action{ID: "chaos-1", Kind: "chaos", Scope: blastradius.ScopeInstance, TargetService: "search", TrafficPercent: 100})
	fmt.Println("instance:", d.Allowed)
	d, _ = m.Begin(ctx, blastradius.Action{ID: "canary-1", Kind: "canary", Scope: blastradius.ScopeService, TargetService: "search", TrafficPercent: 5})
	fmt.Println("service needs approval:", d.RequiresApproval)
	m.Approve("canary-1")
	d, _ = m.Begin(ctx, blastradius.Action{ID: "canary-1", Kind: "canary", Scope: blastradius.ScopeService, TargetService: "search", TrafficPercent: 5})
	fmt.Println("after approval:", d.Allowed)
	d, _ = m.Check(ctx, blastradius.Action{ID: "chaos-2", Scope: blastradius.ScopeRegion, TargetService: "payments", TrafficPercent: 20})
	fmt.Println(d.Violations)
	_ = m.End(ctx, "chaos-1")
	fmt.Println("active:", len(m.Active(ctx)))
	// Output:
	// instance: true
	// service needs approval: true
	// after approval: true
	// [excluded_service max_traffic global_traffic]
	// active: 1
}

func ExampleParseWindow() {
	w, err := blastradius.ParseWindow("22:30-01:00")
	fmt.Println(w, err)
	_, err = blastradius.ParseWindow("06:00-06:00")
	fmt.Println(err)
	// Output:
	// 22:30-01:00 <nil>
	// baldur: invalid config: Window = 06:00-06:00: is empty
}
