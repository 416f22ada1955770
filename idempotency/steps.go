package idempotency

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
)

// Steps runs the toolkit's own actions (DLQ replays, canary applies,
// watchdog actions) at most once per key across the fleet, with the
// original system's semantics: a completed key is ErrDuplicateKey, not a
// replay. Safe for concurrent use.
type Steps struct {
	ledger     Ledger
	domain     string
	clock      baldur.Clock
	lease, ttl time.Duration
	metrics    *Metrics
}

// StepsConfig configures Steps.
type StepsConfig struct {
	// Domain namespaces the records ("automation" when empty).
	Domain string
	// Lease and TTL of each step; zero means DefaultLease and TTL.
	Lease, TTL time.Duration
	// Clock times heartbeats. Nil means baldur.SystemClock().
	Clock baldur.Clock
	// Metrics, when set, counts decisions.
	Metrics *Metrics
}

// NewSteps returns the step runner on l.
func NewSteps(l Ledger, cfg StepsConfig) (*Steps, error) {
	if l == nil {
		return nil, &baldur.ConfigError{Field: "Ledger", Reason: "is required"}
	}
	if cfg.Lease < 0 || cfg.TTL < 0 {
		return nil, &baldur.ConfigError{Field: "Lease/TTL", Reason: "must not be negative"}
	}
	s := &Steps{ledger: l, domain: cfg.Domain, clock: cfg.Clock, lease: cfg.Lease, ttl: cfg.TTL, metrics: cfg.Metrics}
	if s.domain == "" {
		s.domain = "automation"
	}
	if s.clock == nil {
		s.clock = baldur.SystemClock()
	}
	if s.lease == 0 {
		s.lease = DefaultLease
	}
	if s.ttl == 0 {
		s.ttl = TTL
	}
	if s.metrics == nil {
		s.metrics = &Metrics{}
	}
	return s, nil
}

// DLQKey, CanaryKey and WatchdogKey are the step keys of the toolkit's
// automation.
func DLQKey(entryID string, attempt int) string {
	return "dlq:" + entryID + ":" + strconv.Itoa(attempt)
}

// CanaryKey is the key of one canary stage apply on one cluster.
func CanaryKey(rolloutID string, stage int, cluster string) string {
	return "canary:" + rolloutID + ":" + strconv.Itoa(stage) + ":" + cluster
}

// WatchdogKey is the key of one watchdog action on one subject.
func WatchdogKey(check, subject string, pass uint64) string {
	return "watchdog:" + check + ":" + subject + ":" + strconv.FormatUint(pass, 10)
}

// Do runs fn once for (operation, key): it claims the key, runs fn with a
// context cancelled (cause ErrLeaseLost) if the claim is lost, and
// completes the record when fn returns nil or releases it when fn fails,
// so that a retry runs. A key that completed before is ErrDuplicateKey
// (fn does not run); one held by another runner is ErrInProgress; the
// ledger's own errors are returned as they are (fail closed: fn does not
// run). The returned Record is the key's record.
func (s *Steps) Do(ctx context.Context, operation, key string, fn func(context.Context) error) (Record, error) {
	c, err := s.ledger.Claim(ctx, ClaimRequest{Key: Key{Domain: s.domain, Operation: operation, Key: key}, Lease: s.lease, TTL: s.ttl})
	if err != nil {
		s.metrics.StoreError.Add(1)
		return Record{}, err
	}
	switch c.Outcome {
	case Busy:
		s.metrics.InFlight.Add(1)
		return c.Record, ErrInProgress
	case Done, Mismatch:
		s.metrics.Duplicate.Add(1)
		return c.Record, ErrDuplicateKey
	}
	s.metrics.First.Add(1)
	run, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	dl, _ := ctx.Deadline()
	k := StartKeeper(s.ledger, c, s.clock, LeaseLimit(s.clock.Now(), dl, DefaultGrace, s.ttl), func() { cancel(ErrLeaseLost) })
	var ferr error
	func() {
		defer func() {
			if v := recover(); v != nil {
				k.Stop()
				_ = s.ledger.Release(context.WithoutCancel(ctx), &c)
				panic(v)
			}
		}()
		ferr = fn(run)
	}()
	lost := k.Lost()
	k.Stop()
	bg := context.WithoutCancel(ctx)
	if ferr != nil {
		if err := s.ledger.Release(bg, &c); err == nil {
			s.metrics.Released.Add(1)
		}
		return c.Record, ferr
	}
	if err := s.ledger.Complete(bg, &c, nil); err != nil {
		if errors.Is(err, ErrLeaseLost) || lost {
			s.metrics.LeaseLost.Add(1)
		}
		return c.Record, err
	}
	s.metrics.Stored.Add(1)
	c.Record.Status = Completed
	return c.Record, nil
}
