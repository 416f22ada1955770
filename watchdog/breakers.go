package watchdog

import (
	"context"
	"fmt"
	"time"

	"github.com/baldur-go/baldur"
)

// Breakers is the built-in check "breaker_force_expired": a breaker
// partition still forced (open or closed) after its force's end is
// unforced (baldur.BreakerForcer.ForcePartition with ForceNone), so that
// its breaker decides again. A force that has not ended is an operator's
// and is never touched; a force without an end is reported as
// operator-held and never touched either.
//
// It is a LocalCheck: breakers keep their state per process. Subjects are
// "policy operation key" and may name a partition key (a tenant, a client
// address), as the admin's breaker view does.
//
// Safe for concurrent use.
type Breakers struct {
	policies Policies
}

var _ LocalCheck = (*Breakers)(nil)

// NewBreakers returns the check over the breakers of p's policies.
func NewBreakers(p Policies) (*Breakers, error) {
	if p == nil {
		return nil, &baldur.ConfigError{Field: "Policies", Reason: "is required"}
	}
	return &Breakers{policies: p}, nil
}

// Name implements Check.
func (b *Breakers) Name() string { return "breaker_force_expired" }

// Local implements LocalCheck.
func (b *Breakers) Local() bool { return true }

// Observe finds forced partitions past their force's end.
func (b *Breakers) Observe(_ context.Context, now time.Time) ([]Observation, error) {
	var out []Observation
	for _, ng := range gatesOf(b.policies) {
		f, ok := ng.gate.(baldur.BreakerForcer)
		if !ok {
			continue
		}
		for _, p := range f.OpenPartitions() {
			if p.State != "forced_open" && p.State != "forced_closed" {
				continue
			}
			subject := ng.policy + " " + p.Operation + " " + p.Key
			switch {
			case p.Until.IsZero():
				out = append(out, Observation{Subject: subject, Action: "unforce", OperatorHeld: true,
					Detail: p.State + " without an end: left to the operator", Apply: unforce(f, p)})
			case now.Before(p.Until):
				// An operator's force that has not ended: not ours to judge.
			default:
				out = append(out, Observation{Subject: subject, Action: "unforce",
					Detail: fmt.Sprintf("%s past its end %s", p.State, p.Until.Format(time.RFC3339)), Apply: unforce(f, p)})
			}
		}
	}
	return out, nil
}

// unforce lifts the partition's force and checks that it took.
func unforce(f baldur.BreakerForcer, p baldur.BreakerPartition) func(context.Context, uint64) error {
	return func(ctx context.Context, _ uint64) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		state, err := f.ForcePartition(p.Key, p.Operation, baldur.ForceNone, 0)
		if err != nil {
			return err
		}
		if state == "forced_open" || state == "forced_closed" {
			return fmt.Errorf("watchdog: partition still %s after unforcing", state)
		}
		return nil
	}
}
