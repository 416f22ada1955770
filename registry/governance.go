package registry

import (
	"strconv"
	"strings"
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
	cfg, err := governanceConfig(*b.cfg.Governance)
	if err != nil {
		return err
	}
	cfg.Clock = b.r.clock
	cfg.Store = b.r.govStore
	g, err := b.r.reuse(b.next, "governance", cfg, func() (any, error) { return governance.New(cfg) })
	if err != nil {
		return wrapField("governance", GovernanceConfig{}, err)
	}
	c := g.(*governance.Checker)
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

func parseLevel(s string) (baldur.EmergencyLevel, bool) {
	s = strings.TrimPrefix(strings.ToUpper(s), "LEVEL_")
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > int(baldur.MaxEmergencyLevel) {
		return 0, false
	}
	return baldur.EmergencyLevel(n), true
}

func threshold(t Threshold) governance.Threshold {
	return governance.Threshold{BlockPct: t.BlockPct, WarnPct: t.WarnPct}
}

func governanceConfig(gc GovernanceConfig) (governance.Config, error) {
	cfg := governance.Config{
		CacheTTL:              gc.CacheTTL,
		EmergencyMinLevel:     baldur.EmergencyLevel(gc.EmergencyMinLevel),
		ExemptOperations:      gc.ExemptOperations,
		KillSwitchRetryAfter:  gc.KillSwitchRetryAfter,
		EmergencyRetryAfter:   gc.EmergencyRetryAfter,
		ErrorBudgetRetryAfter: gc.ErrorBudgetRetryAfter,
		SLOTarget:             gc.SLOTarget,
		BudgetWindow:          gc.BudgetWindow,
		BudgetBucket:          gc.BudgetBucket,
		BudgetMinCalls:        gc.BudgetMinCalls,
		HysteresisPct:         gc.HysteresisPct,
		AuditRate:             gc.AuditRate,
		AuditBurst:            gc.AuditBurst,
		AlertCooldown:         gc.AlertCooldown,
		BreakGlassDuration:    gc.BreakGlassDuration,
		BudgetEvalInterval:    gc.BudgetEvalInterval,
	}
	if gc.EmergencyMinLevel < 0 || gc.EmergencyMinLevel > int(baldur.MaxEmergencyLevel) {
		return cfg, &baldur.ConfigError{Field: "governance.emergency_min_level", Value: strconv.Itoa(gc.EmergencyMinLevel), Reason: "must be 1..3 (0 for the default)"}
	}
	if gc.Fractions != nil {
		cfg.Fractions = map[baldur.EmergencyLevel]map[baldur.Tier]float64{}
		for ls, tiers := range gc.Fractions {
			l, ok := parseLevel(ls)
			if !ok {
				return cfg, &baldur.ConfigError{Field: "governance.fractions", Value: strconv.Quote(ls), Reason: "unknown level (want 0..3 or LEVEL_1..LEVEL_3)"}
			}
			m, err := tierMap("governance.fractions."+ls, tiers, func(f float64) float64 { return f })
			if err != nil {
				return cfg, err
			}
			if m == nil {
				m = map[baldur.Tier]float64{}
			}
			cfg.Fractions[l] = m
		}
	}
	th, err := tierMap("governance.thresholds", gc.Thresholds, threshold)
	if err != nil {
		return cfg, err
	}
	cfg.Thresholds = th
	if gc.GlobalThreshold != nil {
		th := threshold(*gc.GlobalThreshold)
		cfg.GlobalThreshold = &th
	}
	if gc.RegionThresholds != nil {
		cfg.RegionThresholds = map[string]governance.RegionThresholds{}
		for region, rt := range gc.RegionThresholds {
			var out governance.RegionThresholds
			if rt.Default != nil {
				th := threshold(*rt.Default)
				out.Default = &th
			}
			tiers, err := tierMap("governance.region_thresholds."+region+".tiers", rt.Tiers, threshold)
			if err != nil {
				return cfg, err
			}
			out.Tiers = tiers
			cfg.RegionThresholds[region] = out
		}
	}
	return cfg, nil
}

func parseTierKey(at, s string) (baldur.Tier, error) {
	t, err := baldur.ParseTier(s)
	if err != nil {
		return 0, &baldur.ConfigError{Field: at, Value: strconv.Quote(s), Reason: "unknown tier (want critical, standard or non_essential)"}
	}
	return t, nil
}

// tierMap converts a file's tier-keyed object to the gate's map, converting
// each value with conv. A nil object gives a nil map, an empty one an empty
// map; an unknown tier name is a ConfigError at field at.
func tierMap[V, W any](at string, in map[string]V, conv func(V) W) (map[baldur.Tier]W, error) {
	if in == nil {
		return nil, nil
	}
	out := make(map[baldur.Tier]W, len(in))
	for k, v := range in {
		t, err := parseTierKey(at, k)
		if err != nil {
			return nil, err
		}
		out[t] = conv(v)
	}
	return out, nil
}
