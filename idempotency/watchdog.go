package idempotency

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/watchdog"
)

// ExpiredClaimsConfig configures an ExpiredClaimsCheck.
type ExpiredClaimsConfig struct {
	// Ledger is the memory ledger watched. Required.
	Ledger *Memory
	// Name is the check's name. Empty means "idempotency_expired_claims".
	Name string
	// After is how long past its lease's end an in-progress claim must be
	// before it is reported. Zero means at once.
	After time.Duration
	// Limit bounds the findings of one pass, the longest expired first.
	// Zero means 100.
	Limit int
	// Page opens an incident per expired claim at Priority; false (the
	// default) only reports and reclaims: an expired claim already blocks
	// nobody.
	Page     bool
	Priority notify.Priority
}

// ExpiredClaimsCheck is the watchdog check of a memory ledger's stuck
// claims: in-progress records whose lease ended without a completion or a
// release, the trace of a holder that crashed or hung. Such a record no
// longer blocks its key (a claim past its lease is granted anew), but it
// stays in memory until swept and says that work may have half run, so the
// check reports each one (subject: the hex SHA-256 of its key, as
// Key.Digest; detail: its domain, operation and times, never the key or
// scope) and its Apply reclaims the record ("reclaim").
//
// Apply is idempotent and compares the claim's token: it deletes the record
// only while it is still the same claim, in progress, and expired at the
// time it was observed and on the ledger's clock, so a key claimed again
// since (another token) or a claim the ledger's clock still renews is left
// alone. The memory
// ledger is per process and keeps no fenced state: Apply ignores the
// watchdog's fencing token. Completed records past their TTL are Sweep's
// (and each insert's) to delete, not this check's.
//
// ExpiredClaimsCheck is safe for concurrent use.
type ExpiredClaimsCheck struct {
	m     *Memory
	name  string
	after time.Duration
	limit int
	page  bool
	prio  notify.Priority
}

var _ watchdog.Check = (*ExpiredClaimsCheck)(nil)

// NewExpiredClaimsCheck returns the check of cfg.Ledger; a
// *baldur.ConfigError names a missing ledger or a negative After or Limit.
func NewExpiredClaimsCheck(cfg ExpiredClaimsConfig) (*ExpiredClaimsCheck, error) {
	switch {
	case cfg.Ledger == nil:
		return nil, &baldur.ConfigError{Field: "Ledger", Reason: "is required"}
	case cfg.After < 0:
		return nil, &baldur.ConfigError{Field: "After", Value: cfg.After.String(), Reason: "must not be negative"}
	case cfg.Limit < 0:
		return nil, &baldur.ConfigError{Field: "Limit", Value: fmt.Sprint(cfg.Limit), Reason: "must not be negative"}
	}
	c := &ExpiredClaimsCheck{m: cfg.Ledger, name: cfg.Name, after: cfg.After, limit: cfg.Limit, page: cfg.Page, prio: cfg.Priority}
	if c.name == "" {
		c.name = "idempotency_expired_claims"
	}
	if c.limit == 0 {
		c.limit = 100
	}
	return c, nil
}

// Name implements watchdog.Check.
func (c *ExpiredClaimsCheck) Name() string { return c.name }

// expiredClaim is one stuck record as a pass saw it.
type expiredClaim struct {
	key   Key
	token uint64
	e     memEntry
}

// Observe implements watchdog.Check: the in-progress records whose lease
// ended at least After before now (on the watchdog's clock and on the
// ledger's, whichever is earlier), the longest expired first, at most
// Limit. It changes nothing.
func (c *ExpiredClaimsCheck) Observe(ctx context.Context, now time.Time) ([]watchdog.Observation, error) {
	m := c.m
	// Expired on the watchdog's clock and on the ledger's: a watchdog
	// clock ahead of the ledger's must not reclaim a claim its holder still
	// renews.
	seen := min(now.Sub(m.base), m.now())
	cutoff := seen - c.after
	var found []expiredClaim
	for i := range m.shards {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s := &m.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if e.status == InProgress && e.expires <= cutoff {
				found = append(found, expiredClaim{key: k, token: e.token, e: *e})
			}
		}
		s.mu.Unlock()
	}
	slices.SortFunc(found, func(a, b expiredClaim) int { return cmp.Compare(a.e.expires, b.e.expires) })
	if len(found) > c.limit {
		found = found[:c.limit]
	}
	obs := make([]watchdog.Observation, len(found))
	for i := range found {
		f := &found[i]
		d := f.key.Digest()
		key, token := f.key, f.token
		obs[i] = watchdog.Observation{
			Subject: hex.EncodeToString(d[:]),
			Action:  "reclaim",
			Detail: fmt.Sprintf("in-progress claim on %q %q expired %v ago (claimed %v, lease ended %v): its holder stopped heartbeating without completing or releasing",
				f.key.Domain, f.key.Operation, (seen - f.e.expires).Round(time.Millisecond), m.at(f.e.claimedAt).Format(time.RFC3339), m.at(f.e.expires).Format(time.RFC3339)),
			Page:     c.page,
			Priority: c.prio,
			Apply:    func(context.Context, uint64) error { m.reclaim(key, token, seen); return nil },
		}
	}
	return obs, nil
}

// reclaim deletes k's record while it is the claim token, in progress and
// expired at seen (an offset from m.base) and on the ledger's clock now; it
// reports whether it deleted.
func (m *Memory) reclaim(k Key, token uint64, seen time.Duration) bool {
	seen = min(seen, m.now())
	s := m.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok || e.token != token || e.status != InProgress || e.expires > seen {
		return false
	}
	s.remove(k, e)
	return true
}
