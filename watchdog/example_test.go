package watchdog_test

import (
	"context"
	"fmt"
	"time"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/watchdog"
)

// replays is a check over a store of replays, some stuck past their lease.
type replays struct{ stuck map[string]bool }

func (c *replays) Name() string { return "dlq_stuck_replay" }

func (c *replays) Observe(_ context.Context, _ time.Time) ([]watchdog.Observation, error) {
	var out []watchdog.Observation
	for id := range c.stuck {
		out = append(out, watchdog.Observation{Subject: id, Action: "reclaim", Page: true, Priority: notify.PriorityWarning,
			Apply: func(context.Context, uint64) error { delete(c.stuck, id); return nil }})
	}
	return out, nil
}

// A pass acts on what it finds and pages it once; the next pass finds it
// healthy and resolves the incident.
func ExampleRunner() {
	w, _ := watchdog.New(watchdog.Config{
		Checks: []watchdog.Check{&replays{stuck: map[string]bool{"entry-42": true}}},
		Clock:  clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
	})
	for range 2 {
		rep, _ := w.Tick(context.Background())
		for _, f := range rep.Findings {
			fmt.Println(f.Check, f.Kind, f.Subject)
		}
	}
	// Output:
	// dlq_stuck_replay acted entry-42
	// dlq_stuck_replay paged entry-42
	// dlq_stuck_replay resolved entry-42
}
