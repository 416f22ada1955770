package chaos

import (
	"context"
	"errors"
	"time"

	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/watchdog"
)

// TTLCheck is the watchdog's check of experiment lifetimes: it finds this
// scheduler's experiments that outlived their TTL (a scheduler whose passes
// stopped, a clock that jumped) and stops them. The lease already stops
// injection on its own; the check ends the run, frees its blast-radius
// slot and pages, so an experiment never lingers as "running". Safe for
// concurrent use.
type TTLCheck struct{ sc *Scheduler }

var _ watchdog.Check = TTLCheck{}

// TTLCheck returns the scheduler's TTL check for a watchdog.
func (sc *Scheduler) TTLCheck() TTLCheck { return TTLCheck{sc: sc} }

// Name returns "chaos_ttl".
func (TTLCheck) Name() string { return "chaos_ttl" }

// Observe implements watchdog.Check: one observation per experiment past
// its deadline (start + steady state + TTL + steady state). It changes
// nothing.
func (c TTLCheck) Observe(_ context.Context, now time.Time) ([]watchdog.Observation, error) {
	var out []watchdog.Observation
	for _, r := range c.sc.List() {
		if r.State.Ended() || r.StartedAt.IsZero() {
			continue
		}
		deadline := r.StartedAt.Add(2*c.sc.s.steady + r.Experiment.TTL.D())
		if now.Before(deadline) {
			continue
		}
		id := r.Experiment.ID
		out = append(out, watchdog.Observation{
			Subject:  id,
			Action:   "stop_experiment",
			Detail:   "chaos experiment " + id + " is " + string(r.State) + " past its deadline " + deadline.UTC().Format(time.RFC3339),
			Page:     true,
			Priority: notify.PriorityHigh,
			Apply: func(ctx context.Context, _ uint64) error {
				_, err := c.sc.stop(ctx, id, StateAborted, "ttl", "past its deadline: the scheduler's passes stopped")
				if errors.Is(err, ErrNotFound) {
					return nil
				}
				return err
			},
		})
	}
	return out, nil
}
