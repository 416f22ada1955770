package dlq

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/watchdog"
)

// StuckCheck is the watchdog check of replays that outlived their lease
// (a replayer that crashed or hung after taking an entry): each such entry
// is a finding whose action, "reclaim", moves it back to pending without
// counting an attempt. The reclaim is a compare-and-set on the lease
// (Move.Expired), so applying it twice, or after the replay finished, or
// after another replica reclaimed it, changes nothing. An entry stuck for
// longer than PageAfter past its lease also pages (the reclaims are not
// keeping up, or the watchdog could not act).
//
// StuckCheck is safe for concurrent use.
type StuckCheck struct {
	q *Queue
	// Limit bounds the entries one pass looks at. Default 1000.
	Limit int
	// PageAfter is how long past its lease an entry pages. Default 10m.
	PageAfter time.Duration
}

var _ watchdog.Check = (*StuckCheck)(nil)

// StuckCheck returns the queue's stuck-replay check.
func (q *Queue) StuckCheck() *StuckCheck { return &StuckCheck{q: q} }

// Name implements watchdog.Check.
func (c *StuckCheck) Name() string { return "dlq_stuck_replay" }

// Observe implements watchdog.Check: it lists the entries in replaying
// whose lease ended at or before now.
func (c *StuckCheck) Observe(ctx context.Context, now time.Time) ([]watchdog.Observation, error) {
	limit, pageAfter := c.Limit, c.PageAfter
	if limit <= 0 {
		limit = 1000
	}
	if pageAfter <= 0 {
		pageAfter = 10 * time.Minute
	}
	es, err := c.q.repo.List(ctx, Filter{Statuses: []Status{Replaying}, Limit: limit})
	if err != nil {
		return nil, err
	}
	var out []watchdog.Observation
	for _, e := range es {
		if e.LeaseUntil.After(now) {
			continue
		}
		id := e.ID
		late := now.Sub(e.LeaseUntil)
		out = append(out, watchdog.Observation{
			Subject: id,
			Action:  "reclaim",
			Detail: "dlq entry " + id + " (" + e.Domain + ", attempt " + strconv.Itoa(e.Attempts+1) + ") replaying " +
				late.Round(time.Second).String() + " past its lease",
			Page:     late >= pageAfter,
			Priority: notify.PriorityWarning,
			Apply: func(ctx context.Context, _ uint64) error {
				_, err := c.q.repo.Move(ctx, Move{ID: id, From: Replaying, To: Pending, Expired: true})
				if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
					return nil // finished, reclaimed elsewhere, or gone: nothing to do
				}
				return err
			},
		})
	}
	return out, nil
}
