package watchdog

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/notify"
)

// Leases is the built-in check "lock_renewal": it renews the fenced leases
// of long-running actions that registered them (a rollout holding its lock
// for 30 minutes between stages), so that the action need not run a
// renewal loop of its own. A lease is renewed once less than half of its
// TTL is left; a lease found lost (ErrNotHeld: it expired, or was taken)
// is paged HIGH until its action unregisters it, and the action learns it
// from Registration.Err.
//
// It is a LocalCheck (every replica renews the leases of the actions it
// runs) and a BudgetedCheck: renewals are upkeep, not remediation, so its
// budget is 1,000 per hour.
//
// Safe for concurrent use.
type Leases struct {
	lock lock.Fenced

	mu  sync.Mutex
	reg map[string]*Registration
}

// Registration is one registered lease. Safe for concurrent use.
type Registration struct {
	l                  *Leases
	namespace, session string
	token              uint64
	ttl                time.Duration

	mu    sync.Mutex
	until time.Time
	err   error
}

var (
	_ LocalCheck    = (*Leases)(nil)
	_ BudgetedCheck = (*Leases)(nil)
)

// NewLeases returns the lease-renewal check on l, the lock the actions
// took their leases from.
func NewLeases(l lock.Fenced) (*Leases, error) {
	if l == nil {
		return nil, &baldur.ConfigError{Field: "Lock", Reason: "is required"}
	}
	return &Leases{lock: l, reg: map[string]*Registration{}}, nil
}

// Register hands the lease of namespace, taken by session for ttl, to the
// check. Registering a namespace again replaces its registration.
func (l *Leases) Register(namespace, session string, lease lock.Lease, ttl time.Duration) (*Registration, error) {
	if namespace == "" || len(namespace) > maxSubject {
		return nil, &baldur.ConfigError{Field: "namespace", Value: truncate(namespace, 64), Reason: "must be 1 to 512 bytes"}
	}
	if ttl <= 0 {
		return nil, &baldur.ConfigError{Field: "ttl", Value: ttl.String(), Reason: "must be positive"}
	}
	r := &Registration{l: l, namespace: namespace, session: session, token: lease.Token, ttl: ttl, until: lease.Until}
	l.mu.Lock()
	l.reg[namespace] = r
	l.mu.Unlock()
	return r, nil
}

// Unregister stops renewing (the action ended). It is idempotent and does
// not release the lock.
func (r *Registration) Unregister() {
	r.l.mu.Lock()
	defer r.l.mu.Unlock()
	if r.l.reg[r.namespace] == r {
		delete(r.l.reg, r.namespace)
	}
}

// Until returns the lease's end as last renewed.
func (r *Registration) Until() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.until
}

// Err returns nil while the lease is held, or the renewal error that found
// it lost (matching lock.ErrNotHeld).
func (r *Registration) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Name implements Check.
func (l *Leases) Name() string { return "lock_renewal" }

// Local implements LocalCheck.
func (l *Leases) Local() bool { return true }

// MaxActionsPerHour implements BudgetedCheck.
func (l *Leases) MaxActionsPerHour() int { return 1000 }

// Observe finds the leases due for renewal (less than half their TTL left)
// and the leases lost.
func (l *Leases) Observe(_ context.Context, now time.Time) ([]Observation, error) {
	l.mu.Lock()
	regs := make([]*Registration, 0, len(l.reg))
	for _, r := range l.reg {
		regs = append(regs, r)
	}
	l.mu.Unlock()
	sort.Slice(regs, func(i, j int) bool { return regs[i].namespace < regs[j].namespace })
	var out []Observation
	for _, r := range regs {
		r.mu.Lock()
		until, lost := r.until, r.err
		r.mu.Unlock()
		switch {
		case lost != nil:
			out = append(out, Observation{Subject: r.namespace, Detail: "lease lost: " + lost.Error(), Page: true, Priority: notify.PriorityHigh})
		case until.Sub(now) <= r.ttl/2:
			out = append(out, Observation{Subject: r.namespace, Action: "renew_lock",
				Detail: "lease ends " + until.Format(time.RFC3339), Apply: r.renew})
		}
	}
	return out, nil
}

// renew extends the lease under its own token (the watchdog's token is 0:
// the check is local).
func (r *Registration) renew(ctx context.Context, _ uint64) error {
	lease, err := r.l.lock.ExtendFenced(ctx, r.namespace, r.session, r.token, r.ttl)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err == nil:
		r.until = lease.Until
	case errors.Is(err, lock.ErrNotHeld):
		r.err = err
	}
	return err
}
