package registry

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/chaos"
	"github.com/baldur-go/baldur/governance"
)

// Registry is the one place every provider and every policy is resolved
// from. Its slots hold the roles that several packages read (admin, metrics,
// the request path); its policy table maps operations to policies and is
// swapped atomically on reload. A service package adds its slot when it
// has a reader here; until then its users hand it its dependencies.
//
// A Registry is safe for concurrent use. Resolving a policy reads one atomic
// pointer and, for an operation seen before, one map; it takes no lock.
type Registry struct {
	Governance         Slot[baldur.GovernanceChecker]
	AdminIdentity      Slot[baldur.AdminIdentityResolver]
	Emergency          Slot[baldur.EmergencyManager]
	ErrorBudgetService Slot[baldur.ErrorBudgetService]
	ErrorBudgetDecider Slot[baldur.ErrorBudgetDecider]
	Bulkheads          Slot[baldur.BulkheadRegistry]

	table atomic.Pointer[table]

	mu             sync.Mutex // serializes Apply and Load
	gates          map[string]reusable
	clock          baldur.Clock
	settings       settings
	ownsGovernance bool             // the governance slot holds a checker Load built
	ownsBulkheads  bool             // the bulkheads slot holds the registry Load built
	level          levelSource      // emergency level for throttles, across rebuilds
	govStore       governance.Store // survives rebuilds of that checker
	fleet          *FleetConfig     // the loaded fleet section, resolved
	loaded         bool             // a Load has committed (fleet is fixed)
	breakerHook    BreakerHook      // WithBreakerStateChange

	// A canary rollout's state (cohort.go).
	cfg       Config                  // the last loaded configuration (Document)
	cohorts   atomic.Pointer[cohorts] // an installed canary split (PolicyFor)
	chaosOnce sync.Once
	chaosInj  *chaos.Injector // Chaos(): outlives reloads
	chaosCfg  *chaos.Config   // the loaded chaos section
}

func ptr[T any](v T) *T { return &v }

// New returns a registry with its defaults: a fail-open NoOp governance
// checker; every other slot is unset. It serves no policy until Apply or
// Load: every operation admits.
func New(opts ...Option) *Registry {
	r := &Registry{
		Governance:         newSlot("governance", ptr[baldur.GovernanceChecker](baldur.NoOpGovernance{})),
		AdminIdentity:      newSlot[baldur.AdminIdentityResolver]("admin_identity_resolver", nil),
		Emergency:          newSlot[baldur.EmergencyManager]("emergency_manager", nil),
		ErrorBudgetService: newSlot[baldur.ErrorBudgetService]("error_budget_service", nil),
		ErrorBudgetDecider: newSlot[baldur.ErrorBudgetDecider]("error_budget_decider", nil),
		Bulkheads:          newSlot[baldur.BulkheadRegistry]("bulkhead_registry", nil),
	}
	r.table.Store(emptyTable())
	for _, o := range opts {
		o(r)
	}
	if r.clock == nil {
		r.clock = baldur.SystemClock()
	}
	if r.govStore == nil { // WithGovernanceStore sets a shared one
		r.govStore = governance.NewMemoryStore()
	}
	return r
}

// SlotInfo describes one slot for status views.
type SlotInfo struct {
	Name string
	// Set is true when a provider was Set; Default when the slot has a
	// pre-registered default.
	Set, Default bool
}

type slotLike interface {
	Name() string
	IsSet() bool
	HasDefault() bool
}

// Slots lists every slot, sorted by name.
func (r *Registry) Slots() []SlotInfo {
	all := []slotLike{
		&r.Governance, &r.AdminIdentity, &r.Emergency, &r.ErrorBudgetService, &r.ErrorBudgetDecider,
		&r.Bulkheads,
	}
	out := make([]SlotInfo, 0, len(all))
	for _, s := range all {
		out = append(out, SlotInfo{Name: s.Name(), Set: s.IsSet(), Default: s.HasDefault()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
