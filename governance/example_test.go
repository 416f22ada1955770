package governance_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/governance"
)

func ExampleNew() {
	checker, err := governance.New(governance.Config{
		SLOTarget: 0.995,
		CacheTTL:  baldur.Duration(10 * time.Second),
		Audit:     &governance.MemoryAudit{},
	})
	if err != nil {
		panic(err)
	}
	// The gate goes first in every policy chain.
	policy, _ := baldur.NewPolicy(baldur.PolicyConfig{Name: "api", Gates: []baldur.Gate{checker.Gate()}})
	t, err := policy.Admit(context.Background(), baldur.Call{Operation: "GET /items/{id}", Tier: baldur.TierStandard})
	fmt.Println(err)
	t.Release(baldur.Outcome{Result: baldur.Success})

	_, err = governance.New(governance.Config{SLOTarget: 1})
	var ce *baldur.ConfigError
	fmt.Println(errors.As(err, &ce), ce.Field)
	// Output:
	// <nil>
	// true SLOTarget
}

func ExampleChecker_CheckAll() {
	ctx := context.Background()
	checker, _ := governance.New(governance.Config{Audit: &governance.MemoryAudit{}})

	req := baldur.GovernanceRequest{Operation: "dlq.replay", Service: "orders", Tier: baldur.TierStandard}
	fmt.Println(checker.CheckAll(ctx, req).Allowed)

	checker.Emergency().Trigger(ctx, baldur.EmergencyTrigger{Level: baldur.Level2, Reason: "database failover", Actor: "oncall"})
	r := checker.CheckAll(ctx, req)
	fmt.Println(r.Allowed, r.Reason, r.Level)
	// Output:
	// true
	// false emergency_mode LEVEL_2
}

func ExampleChecker_Activate() {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	checker, _ := governance.New(governance.Config{Clock: clk, Audit: &governance.MemoryAudit{}})
	gate := checker.Gate()

	_ = checker.Activate(ctx, governance.KillSwitch{
		Scope:     governance.ScopeOperation,
		Pattern:   "POST /orders*",
		Reason:    "duplicate charges",
		Actor:     "ana",
		ExpiresAt: clk.Now().Add(time.Hour),
	})
	_, err := gate.Admit(ctx, baldur.Call{Operation: "POST /orders/{id}/pay", Now: clk.Now()})
	rej, _ := baldur.AsRejection(err)
	fmt.Println(rej.Reason(), rej.RetryAfter())

	_, err = gate.Admit(ctx, baldur.Call{Operation: "GET /healthz", Now: clk.Now()})
	fmt.Println("health:", err)

	clk.Advance(time.Hour)
	_, err = gate.Admit(ctx, baldur.Call{Operation: "POST /orders/{id}/pay", Now: clk.Now()})
	fmt.Println("after expiry:", err)
	// Output:
	// kill_switch 30s
	// health: <nil>
	// after expiry: <nil>
}

func ExampleEmergency_StepDown() {
	ctx := context.Background()
	checker, _ := governance.New(governance.Config{Audit: &governance.MemoryAudit{}})
	em := checker.Emergency()
	em.Trigger(ctx, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "region down"})
	for em.Level() > baldur.LevelNormal {
		st, _ := em.StepDown(ctx, "oncall", "recovering")
		fmt.Println(st.Level, em.AdmitFraction(st.Level, baldur.TierStandard))
	}
	// Output:
	// LEVEL_2 0.1
	// LEVEL_1 1
	// NORMAL 1
}

func ExampleBudget_Status() {
	checker, _ := governance.New(governance.Config{SLOTarget: 0.99, BudgetMinCalls: 1, Audit: &governance.MemoryAudit{}})
	now := time.Now()
	for i := range 1000 {
		r := baldur.Success
		if i < 5 {
			r = baldur.Failure
		}
		checker.Budget().Record(now, r)
	}
	st := checker.Budget().Status(now)
	fmt.Printf("remaining %.0f%%, 5m burn rate %.1f\n", st.RemainingPct, st.BurnRates[0].Rate)
	// Output:
	// remaining 50%, 5m burn rate 0.5
}
