package registry

import (
	"sync/atomic"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/throttle"
)

// gater is a governance checker that also offers a per-call gate, as
// governance.Checker does.
type gater interface {
	Gate() baldur.Gate
}

// parts is a governance checker that owns the services of the emergency
// and error-budget slots, as governance.Checker does.
type parts interface {
	Emergency() *governance.Emergency
	Budget() *governance.Budget
	BudgetDecider() *governance.BudgetDecider
}

// levelSource forwards to the emergency level of the current checker, so
// that throttles built against it survive a rebuild of the checker.
type levelSource struct {
	src atomic.Pointer[throttle.LevelSource]
}

// Level returns the current checker's emergency level, or NORMAL.
func (l *levelSource) Level() baldur.EmergencyLevel {
	if p := l.src.Load(); p != nil {
		return (*p).Level()
	}
	return baldur.LevelNormal
}

// Level3From forwards to the current checker when it is a
// throttle.Level3Source (governance.Checker is), so that a throttle rebuilt
// during LEVEL_3 applies the factor of the level LEVEL_3 began from.
func (l *levelSource) Level3From() (baldur.EmergencyLevel, bool) {
	if p := l.src.Load(); p != nil {
		if s, ok := (*p).(throttle.Level3Source); ok {
			return s.Level3From()
		}
	}
	return baldur.LevelNormal, false
}

func (l *levelSource) set(s throttle.LevelSource) {
	if s == nil {
		l.src.Store(nil)
		return
	}
	l.src.Store(&s)
}

// governance resolves the checker the policies use. A checker the user Set
// in the governance slot wins (its state is the operator's): its gate backs
// "governance": true when it offers one (governance.Checker does), and the
// emergency and error-budget slots are filled from it where they are unset.
// Otherwise one is built from the governance section, reused while the
// section is unchanged, and sharing one store across rebuilds so that kill
// switches and levels survive a settings change.
func (b *builder) governance() error {
	if b.r.Governance.IsSet() && !b.r.ownsGovernance {
		user := b.r.Governance.Get()
		if g, ok := user.(gater); ok {
			b.gate = g.Gate()
		}
		if ls, ok := user.(throttle.LevelSource); ok {
			b.level = ls
		}
		if c, ok := user.(parts); ok {
			b.commit = append(b.commit, func() {
				fillUnset(&b.r.Emergency, baldur.EmergencyManager(c.Emergency()))
				fillUnset(&b.r.ErrorBudgetService, baldur.ErrorBudgetService(c.Budget()))
				fillUnset(&b.r.ErrorBudgetDecider, baldur.ErrorBudgetDecider(c.BudgetDecider()))
			})
		}
		ls := b.level
		b.commit = append(b.commit, func() { b.r.level.set(ls) })
		return nil
	}
	if b.cfg.Governance == nil {
		if b.r.ownsGovernance {
			// The section was removed: back to the fail-open default.
			b.commit = append(b.commit, func() {
				b.r.Governance.Unset()
				b.r.Emergency.Unset()
				b.r.ErrorBudgetService.Unset()
				b.r.ErrorBudgetDecider.Unset()
				b.r.level.set(nil)
				b.r.ownsGovernance = false
			})
		}
		return nil
	}
	cfg := *b.cfg.Governance
	cfg.Clock = b.r.clock
	cfg.Store = b.r.govStore
	c, err := reuse(b.r, b.next, "governance", cfg, func() (*governance.Checker, error) { return governance.New(cfg) })
	if err != nil {
		return wrapField("governance", cfg, err)
	}
	b.gate, b.level = c.Gate(), c
	b.commit = append(b.commit, func() {
		b.r.Governance.Set(c)
		b.r.Emergency.Set(c.Emergency())
		b.r.ErrorBudgetService.Set(c.Budget())
		b.r.ErrorBudgetDecider.Set(c.BudgetDecider())
		b.r.level.set(c)
		b.r.ownsGovernance = true
	})
	return nil
}

func (b *builder) governanceGate() (baldur.Gate, bool) { return b.gate, b.gate != nil }

func fillUnset[T any](s *Slot[T], v T) {
	if !s.IsSet() {
		s.Set(v)
	}
}
