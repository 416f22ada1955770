package blastradius

import (
	"context"
	"errors"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
)

// Violation kinds listed in Decision.Violations.
const (
	// ViolationUnknownScope: the action's scope is not instance, service or
	// region.
	ViolationUnknownScope = "unknown_scope"
	// ViolationExcludedService: the target service is on the exclusion
	// list.
	ViolationExcludedService = "excluded_service"
	// ViolationExcludedDomain: the target domain is on the exclusion list.
	ViolationExcludedDomain = "excluded_domain"
	// ViolationInvalidTraffic: TrafficPercent is outside 0..100.
	ViolationInvalidTraffic = "invalid_traffic"
	// ViolationMaxTraffic: TrafficPercent is above the scope's maximum.
	ViolationMaxTraffic = "max_traffic"
	// ViolationGlobalTraffic: the service/region actions together would
	// exceed the global cap.
	ViolationGlobalTraffic = "global_traffic"
	// ViolationMaxConcurrent: the scope already has its maximum of active
	// actions.
	ViolationMaxConcurrent = "max_concurrent"
	// ViolationOutsideWindow: now is outside every allowed window.
	ViolationOutsideWindow = "outside_window"
	// ViolationDuplicateID: an action with this ID is already active
	// (Begin only).
	ViolationDuplicateID = "duplicate_id"
)

// Approval says whether actions of a scope start without a human's approval.
type Approval uint8

const (
	// ApprovalDefault is AutoApprove for the instance scope and
	// RequireApproval for service and region.
	ApprovalDefault Approval = iota
	// AutoApprove lets an action that breaks no rule begin at once.
	AutoApprove
	// RequireApproval makes an action that breaks no rule wait for Approve.
	RequireApproval
)

// ScopeLimits bounds the actions of one scope. Zero fields take the scope's
// defaults (instance / service / region): MaxConcurrent 5 / 2 / 1,
// MaxTrafficPercent 100 / 50 / 10.
type ScopeLimits struct {
	// MaxConcurrent is how many actions of the scope may be active at once.
	MaxConcurrent int
	// MaxTrafficPercent is the largest TrafficPercent an action may touch,
	// in (0, 100]; at most 50 for the region scope.
	MaxTrafficPercent float64
	// Approval says whether rule-abiding actions begin without Approve.
	Approval Approval
}

// Config configures a Manager. The zero value is valid and gives the
// defaults documented on each field and in ScopeLimits.
type Config struct {
	// Scopes overrides the limits per scope; a scope that is absent keeps
	// its defaults. Keys other than ScopeInstance, ScopeService and
	// ScopeRegion are invalid.
	Scopes map[Scope]ScopeLimits
	// Windows are the UTC windows in which actions may begin; they must not
	// be empty or overlap. Nil (or empty) means 02:00–06:00 UTC; use
	// []Window{AnyTime} to allow any time.
	Windows []Window
	// ExcludedServices and ExcludedDomains are never targeted.
	ExcludedServices []string
	ExcludedDomains  []string
	// GlobalMaxTraffic caps, as a fraction in (0, 1], the traffic that the
	// active service- and region-scoped actions may touch together,
	// including the proposed one; instance-scoped actions, whose
	// TrafficPercent is a share of one instance, do not count. Default
	// 0.10.
	GlobalMaxTraffic float64
	// ApprovalTTL is how long an Approve stays valid for a Begin. Default
	// one hour.
	ApprovalTTL time.Duration
	// Clock tells the time of day for Windows. Nil means
	// baldur.SystemClock().
	Clock baldur.Clock
}

var scopeDefaults = map[Scope]ScopeLimits{
	ScopeInstance: {MaxConcurrent: 5, MaxTrafficPercent: 100, Approval: AutoApprove},
	ScopeService:  {MaxConcurrent: 2, MaxTrafficPercent: 50, Approval: RequireApproval},
	ScopeRegion:   {MaxConcurrent: 1, MaxTrafficPercent: 10, Approval: RequireApproval},
}

const (
	regionMaxTraffic        = 50
	defaultGlobalMaxTraffic = 0.10
	defaultApprovalTTL      = time.Hour
	defaultWindowStart      = 2 * time.Hour
	defaultWindowEnd        = 6 * time.Hour
	// maxConcurrentActions bounds ScopeLimits.MaxConcurrent: risky actions
	// run by the handful, and a larger number is a typo.
	maxConcurrentActions = 10000
)

// ErrNoActionID is returned by Begin for an action without an ID.
var ErrNoActionID = errors.New("blastradius: action has no ID")

// Manager bounds risky actions (chaos experiments, canary stages, automated
// recoveries) by scope: how many run at once, how much traffic each
// touches, when they may begin, what they may target and whether a human
// must approve them.
//
// Manager is safe for concurrent use; its decisions and registrations are
// serialized by one mutex (it is not on the call path).
type Manager struct {
	limits    map[Scope]ScopeLimits
	windows   []Window
	services  map[string]bool
	domains   map[string]bool
	global    float64 // percent
	approval  time.Duration
	clock     baldur.Clock
	mu        sync.Mutex
	active    map[string]ActiveAction
	count     map[Scope]int
	approved  map[string]time.Time
	globalUse float64 // percent held by active service/region actions
}

// New validates cfg and returns a Manager with no active action.
func New(cfg Config) (*Manager, error) {
	m := &Manager{
		limits:   make(map[Scope]ScopeLimits, 3),
		services: make(map[string]bool),
		domains:  make(map[string]bool),
		clock:    cfg.Clock,
		active:   make(map[string]ActiveAction),
		count:    make(map[Scope]int),
		approved: make(map[string]time.Time),
	}
	for s, def := range scopeDefaults {
		m.limits[s] = def
	}
	for s, l := range cfg.Scopes {
		def, ok := scopeDefaults[s]
		field := "Scopes[" + string(s) + "]"
		if !ok {
			return nil, &baldur.ConfigError{Field: "Scopes", Value: string(s), Reason: "unknown scope (want instance, service or region)"}
		}
		switch {
		case l.MaxConcurrent < 0 || l.MaxConcurrent > maxConcurrentActions:
			return nil, &baldur.ConfigError{Field: field + ".MaxConcurrent", Value: strconv.Itoa(l.MaxConcurrent),
				Reason: "must be in [0, " + strconv.Itoa(maxConcurrentActions) + "] (zero means the default " + strconv.Itoa(def.MaxConcurrent) + ")"}
		case l.MaxConcurrent == 0:
			l.MaxConcurrent = def.MaxConcurrent
		}
		limit := 100.0
		if s == ScopeRegion {
			limit = regionMaxTraffic
		}
		if l.MaxTrafficPercent < 0 || l.MaxTrafficPercent > limit || math.IsNaN(l.MaxTrafficPercent) {
			return nil, &baldur.ConfigError{Field: field + ".MaxTrafficPercent", Value: ftoa(l.MaxTrafficPercent), Reason: "must be a percentage in (0, " + ftoa(limit) + "]"}
		}
		if l.MaxTrafficPercent == 0 {
			l.MaxTrafficPercent = def.MaxTrafficPercent
		}
		switch l.Approval {
		case ApprovalDefault:
			l.Approval = def.Approval
		case AutoApprove, RequireApproval:
		default:
			return nil, &baldur.ConfigError{Field: field + ".Approval", Value: strconv.Itoa(int(l.Approval)), Reason: "unknown approval mode"}
		}
		m.limits[s] = l
	}
	m.windows = cfg.Windows
	if len(m.windows) == 0 {
		m.windows = []Window{{Start: defaultWindowStart, End: defaultWindowEnd}}
	} else {
		if err := validateWindows(cfg.Windows); err != nil {
			return nil, err
		}
		m.windows = append([]Window(nil), cfg.Windows...)
	}
	for _, s := range cfg.ExcludedServices {
		m.services[s] = true
	}
	for _, d := range cfg.ExcludedDomains {
		m.domains[d] = true
	}
	g := cfg.GlobalMaxTraffic
	if g < 0 || g > 1 || math.IsNaN(g) {
		return nil, &baldur.ConfigError{Field: "GlobalMaxTraffic", Value: ftoa(g), Reason: "must be a fraction in (0, 1]"}
	}
	if g == 0 {
		g = defaultGlobalMaxTraffic
	}
	m.global = g * 100
	m.approval = cfg.ApprovalTTL
	if m.approval < 0 {
		return nil, &baldur.ConfigError{Field: "ApprovalTTL", Value: m.approval.String(), Reason: "must not be negative"}
	}
	if m.approval == 0 {
		m.approval = defaultApprovalTTL
	}
	if m.clock == nil {
		m.clock = baldur.SystemClock()
	}
	return m, nil
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// Check evaluates a without registering it.
func (m *Manager) Check(ctx context.Context, a Action) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.check(a, now), nil
}

// Begin checks a and, when it is allowed, registers it as active until End.
// An action that needs approval is not registered; Approve its ID and call
// Begin again.
func (m *Manager) Begin(ctx context.Context, a Action) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	if a.ID == "" {
		return Decision{}, ErrNoActionID
	}
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.check(a, now)
	if _, dup := m.active[a.ID]; dup {
		d.Violations = append(d.Violations, ViolationDuplicateID)
		d.Allowed, d.RequiresApproval = false, false
	}
	if !d.Allowed {
		return d, nil
	}
	delete(m.approved, a.ID)
	m.active[a.ID] = ActiveAction{Action: a, Started: now}
	m.count[a.Scope]++
	if a.Scope != ScopeInstance {
		m.globalUse += a.TrafficPercent
	}
	d.CurrentConcurrent++
	return d, nil
}

// Approve approves the action with id: a Begin within ApprovalTTL that
// breaks no rule registers it although its scope requires approval.
func (m *Manager) Approve(id string) {
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, until := range m.approved { // pending approvals expire
		if !now.Before(until) {
			delete(m.approved, k)
		}
	}
	m.approved[id] = now.Add(m.approval)
}

// End unregisters the action with id; ending an unknown id is a no-op.
func (m *Manager) End(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.active[id]
	if !ok {
		return nil
	}
	delete(m.active, id)
	m.count[a.Scope]--
	if a.Scope != ScopeInstance {
		m.globalUse -= a.TrafficPercent
		if m.count[ScopeService]+m.count[ScopeRegion] == 0 {
			m.globalUse = 0 // no float drift left behind
		}
	}
	return nil
}

// Active lists the active actions, oldest first.
func (m *Manager) Active(context.Context) []ActiveAction {
	m.mu.Lock()
	out := make([]ActiveAction, 0, len(m.active))
	for _, a := range m.active {
		out = append(out, a)
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.Before(out[j].Started)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// check evaluates a at now; mu is held.
func (m *Manager) check(a Action, now time.Time) Decision {
	var d Decision
	d.WithinWindow = m.inWindow(now)
	l, ok := m.limits[a.Scope]
	if !ok {
		d.Violations = []string{ViolationUnknownScope}
		return d
	}
	d.MaxTrafficPercent = l.MaxTrafficPercent
	d.MaxConcurrent = l.MaxConcurrent
	d.CurrentConcurrent = m.count[a.Scope]
	var v []string
	if m.services[a.TargetService] && a.TargetService != "" {
		v = append(v, ViolationExcludedService)
	}
	if m.domains[a.TargetDomain] && a.TargetDomain != "" {
		v = append(v, ViolationExcludedDomain)
	}
	const eps = 1e-9
	switch {
	case !(a.TrafficPercent >= 0 && a.TrafficPercent <= 100): // NaN too
		v = append(v, ViolationInvalidTraffic)
	default:
		if a.TrafficPercent > l.MaxTrafficPercent+eps {
			v = append(v, ViolationMaxTraffic)
		}
		if a.Scope != ScopeInstance && m.globalUse+a.TrafficPercent > m.global+eps {
			v = append(v, ViolationGlobalTraffic)
		}
	}
	if d.CurrentConcurrent >= l.MaxConcurrent {
		v = append(v, ViolationMaxConcurrent)
	}
	if !d.WithinWindow && !a.WaiveWindow {
		v = append(v, ViolationOutsideWindow)
	}
	d.Violations = v
	if len(v) > 0 {
		return d
	}
	if l.Approval == AutoApprove {
		d.Allowed = true
	} else if until, ok := m.approved[a.ID]; ok && a.ID != "" && now.Before(until) {
		d.Allowed = true
	} else {
		d.RequiresApproval = true
	}
	return d
}

func (m *Manager) inWindow(now time.Time) bool {
	tod := timeOfDay(now)
	for _, w := range m.windows {
		if w.contains(tod) {
			return true
		}
	}
	return false
}
