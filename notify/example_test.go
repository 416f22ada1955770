package notify_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/notify"
)

// Wiring the toolkit's producers into one pipeline: governance's fail-open
// alerts, the emergency level, breaker state changes and the kill switch
// as an inhibition condition.
func Example_producers() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var p *notify.Pipeline
	gov, err := governance.New(governance.Config{
		Alerts: notify.GovernanceAlerts{Manager: notify.ManagerFunc(func(ctx context.Context, n notify.Notification) (notify.Result, error) {
			return p.Notify(ctx, n)
		}), Next: governance.SlogSink{}},
	})
	if err != nil {
		panic(err)
	}
	p, err = notify.New(notify.Config{
		Emergency:  gov.Emergency(),
		Conditions: map[string]func() bool{"kill_switch": notify.KillSwitchOn(gov)},
		Inhibit:    []notify.InhibitRule{{When: "kill_switch", Target: notify.Matcher{Source: "breaker"}}},
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer p.Close(ctx)

	levels := &notify.EmergencyLevels{Level: gov.Emergency(), Manager: p}
	go levels.Run(ctx, 0) // every 10 s

	changes := &notify.BreakerChanges{Manager: p, Name: "payments", Priority: notify.PriorityHigh}
	changes.Start(ctx)
	_, err = blast.NewBreakers(blast.BreakerConfig{OnStateChange: changes.Hook})
	fmt.Println(err)

	_, _ = gov.Emergency().Trigger(ctx, baldur.EmergencyTrigger{Level: baldur.Level2, Reason: "incident 42", Actor: "ops"})
	r, _ := p.Notify(ctx, notify.Notification{Priority: notify.PriorityWarning, Source: "canary", Title: "stage paused"})
	fmt.Println(r.Priority)
	// Output:
	// <nil>
	// HIGH
}
