package baldur

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur/internal/clip"
)

// EmergencyLevel is the fleet's emergency level, NORMAL (0) to LEVEL_3 (3).
// Each level admits a fraction of each tier; see package governance.
type EmergencyLevel int8

const (
	// LevelUnknown is reported when no emergency manager is wired in.
	LevelUnknown EmergencyLevel = -1
	// LevelNormal admits everything.
	LevelNormal EmergencyLevel = 0
	// Level1 sheds non_essential traffic.
	Level1 EmergencyLevel = 1
	// Level2 also sheds 90 % of standard traffic.
	Level2 EmergencyLevel = 2
	// Level3 also sheds half of critical traffic.
	Level3 EmergencyLevel = 3

	// MaxEmergencyLevel is the highest level.
	MaxEmergencyLevel = Level3
)

// String returns "NORMAL", "LEVEL_1", "LEVEL_2", "LEVEL_3" or "UNKNOWN".
func (l EmergencyLevel) String() string {
	switch l {
	case LevelNormal:
		return "NORMAL"
	case Level1, Level2, Level3:
		return fmt.Sprintf("LEVEL_%d", int(l))
	}
	return "UNKNOWN"
}

// Valid reports whether l is one of NORMAL..LEVEL_3.
func (l EmergencyLevel) Valid() bool { return l >= LevelNormal && l <= MaxEmergencyLevel }

// MarshalText implements encoding.TextMarshaler with the level's name
// ("NORMAL", "LEVEL_1".."LEVEL_3"), so that a level is a JSON map key. An
// invalid level (LevelUnknown) is an error.
func (l EmergencyLevel) MarshalText() ([]byte, error) {
	if !l.Valid() {
		return nil, fmt.Errorf("baldur: emergency level %d has no name", int(l))
	}
	return []byte(l.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler. It accepts a level's
// number or name in any case: "0".."3", "LEVEL_0".."LEVEL_3", "NORMAL".
func (l *EmergencyLevel) UnmarshalText(b []byte) error {
	s := strings.ToUpper(string(b))
	if s == "NORMAL" {
		s = "0"
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "LEVEL_"))
	if err != nil || n < int(LevelNormal) || n > int(MaxEmergencyLevel) {
		return fmt.Errorf("baldur: unknown emergency level %q (want 0..3, NORMAL or LEVEL_1..LEVEL_3)", clip.String(string(b)))
	}
	*l = EmergencyLevel(n)
	return nil
}

// MarshalJSON writes the level as its number (a level outside NORMAL..LEVEL_3
// too), as configurations write it.
func (l EmergencyLevel) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, int64(l), 10), nil
}

// UnmarshalJSON reads a number 0..3 or a string UnmarshalText accepts.
func (l *EmergencyLevel) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		return l.UnmarshalText([]byte(s))
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil || n < int(LevelNormal) || n > int(MaxEmergencyLevel) {
		return fmt.Errorf("baldur: emergency level %s must be 0..3", clip.String(string(b)))
	}
	*l = EmergencyLevel(n)
	return nil
}

// BlockReason is why governance blocked an action.
type BlockReason string

// Block reasons of GovernanceResult.
const (
	BlockNone             BlockReason = ""
	BlockKillSwitch       BlockReason = "kill_switch"
	BlockEmergency        BlockReason = "emergency_mode"
	BlockErrorBudget      BlockReason = "error_budget"
	BlockRateLimited      BlockReason = "rate_limited"
	BlockManual           BlockReason = "manually_blocked"
	BlockShadowEvalFailed BlockReason = "shadow_evaluation_failed"
)

// GovernanceRequest asks whether an action (an automated recovery, a replay,
// a canary step, or a served call) may proceed. The zero value checks
// everything with the defaults.
type GovernanceRequest struct {
	// SkipKillSwitch, SkipEmergency and SkipErrorBudget turn single checks
	// off; by default all three run.
	SkipKillSwitch, SkipEmergency, SkipErrorBudget bool
	// EmergencyMinLevel is the level from which the emergency check blocks.
	// Zero means the checker's default (LEVEL_2).
	EmergencyMinLevel EmergencyLevel
	// Operation, Service and Domain scope the kill switch and the audit
	// record. An empty Operation is audited as "unknown_operation".
	Operation, Service, Domain string
	// SkipAudit suppresses the audit record of a block.
	SkipAudit bool
	// Tier and Region select error-budget thresholds.
	Tier   Tier
	Region string
	// Resource is free-form context carried into the audit record.
	Resource map[string]string
}

// GovernanceResult is the aggregated answer of CheckAll.
type GovernanceResult struct {
	Allowed bool
	// Reason is the first failing check; BlockNone when allowed.
	Reason BlockReason
	// Message explains the block for an operator.
	Message string
	// BreakGlass is true when break glass allowed the action.
	BreakGlass bool
	// Level is the emergency level at evaluation.
	Level EmergencyLevel
	// BudgetRemainingPct is the remaining error budget, 0..100.
	BudgetRemainingPct float64
	// ThresholdPct is the blocking threshold that applied, 0..100.
	ThresholdPct float64
}

// GovernanceChecker evaluates the governance gates in their fixed order:
// break glass, kill switch, emergency level, error budget. It is the
// registry's "governance" slot; NoOpGovernance is its fail-open default.
//
// Implementations must be safe for concurrent use.
type GovernanceChecker interface {
	// CheckAll runs the enabled checks in order and stops at the first
	// block.
	CheckAll(ctx context.Context, req GovernanceRequest) GovernanceResult
	// SystemEnabled reports false while a global kill switch is active.
	SystemEnabled(ctx context.Context) bool
	// EmergencyBlocking reports whether the current level is at or above
	// minLevel (zero: the default), and the current level.
	EmergencyBlocking(ctx context.Context, minLevel EmergencyLevel) (blocked bool, level EmergencyLevel)
	// ErrorBudgetBlocking reports whether the error budget blocks the tier
	// in region, with the remaining and threshold percentages.
	ErrorBudgetBlocking(ctx context.Context, tier Tier, region string) (blocked bool, remainingPct, thresholdPct float64)
	// InvalidateCache drops the cached evaluation so the next check
	// re-reads state. Transitions made through the checker need no call;
	// call it when another process changed the shared state (on a change
	// notification).
	InvalidateCache()
}

// NoOpGovernance allows everything: enabled, level UNKNOWN, budget 100 %. It
// is the registry's default governance checker (fail-open). Safe for
// concurrent use.
type NoOpGovernance struct{}

var _ GovernanceChecker = NoOpGovernance{}

// CheckAll allows.
func (NoOpGovernance) CheckAll(context.Context, GovernanceRequest) GovernanceResult {
	return GovernanceResult{Allowed: true, Level: LevelUnknown, BudgetRemainingPct: 100}
}

// SystemEnabled returns true.
func (NoOpGovernance) SystemEnabled(context.Context) bool { return true }

// EmergencyBlocking returns (false, LevelUnknown).
func (NoOpGovernance) EmergencyBlocking(context.Context, EmergencyLevel) (bool, EmergencyLevel) {
	return false, LevelUnknown
}

// ErrorBudgetBlocking returns (false, 100, 0).
func (NoOpGovernance) ErrorBudgetBlocking(context.Context, Tier, string) (bool, float64, float64) {
	return false, 100, 0
}

// InvalidateCache does nothing.
func (NoOpGovernance) InvalidateCache() {}

// EmergencyState is the emergency manager's current state.
type EmergencyState struct {
	Level EmergencyLevel
	// Reason, Actor and Since describe the last change.
	Reason string
	Actor  string
	Since  time.Time
	// ExpiresAt is when the level returns to NORMAL on its own; zero means
	// never. Stepping down keeps it: the lower level ends at the same time.
	ExpiresAt time.Time
	// Auto is true when the level was raised by automation rather than by
	// hand. governance.Emergency raises only by hand and leaves it false.
	Auto bool
	// From is the level in force before Level began (a refresh of the same
	// level keeps it). At LEVEL_3 the throttle keeps the rate factor of
	// this level, so it is stored with the level: a throttle or checker
	// rebuilt during the incident applies the same factor. A stored state
	// without it reads as NORMAL.
	From EmergencyLevel
}

// EmergencyTrigger asks for a level change by hand.
type EmergencyTrigger struct {
	Level EmergencyLevel
	// Reason is required.
	Reason string
	Actor  string
	// Duration bounds the level; zero means until released.
	Duration time.Duration
}

// EmergencyManager holds the emergency level. The registry's
// "emergency_manager" slot; unset by default.
//
// Implementations must be safe for concurrent use.
type EmergencyManager interface {
	// Level returns the current level; cheap enough for the hot path.
	Level() EmergencyLevel
	// State returns the full state.
	State(ctx context.Context) (EmergencyState, error)
	// Trigger sets a level by hand; a missing reason or an invalid level is
	// an error.
	Trigger(ctx context.Context, t EmergencyTrigger) (EmergencyState, error)
	// StepDown lowers the level by exactly one.
	StepDown(ctx context.Context, actor, reason string) (EmergencyState, error)
	// AdmitFraction returns the fraction (0..1) of tier admitted at level.
	AdmitFraction(level EmergencyLevel, tier Tier) float64
}

// ErrorBudgetStatus describes an SLO's error budget at a moment.
type ErrorBudgetStatus struct {
	// Target is the SLO target, such as 0.999.
	Target float64
	// Window is the rolling window the budget is computed over.
	Window time.Duration
	// Total and Failed count the calls in the window.
	Total, Failed uint64
	// RemainingPct is the share of the budget left, 0..100 (100 when no
	// calls were seen).
	RemainingPct float64
	// BurnRates are the burn rates over the configured look-back windows,
	// in the order configured (fast first).
	BurnRates []BurnRate
}

// BurnRate is the error rate over Window divided by the rate the SLO allows:
// 1 spends the budget exactly over the SLO window.
type BurnRate struct {
	Window time.Duration
	Rate   float64
}

// ErrorBudgetService tracks an SLO's error budget from call outcomes. The
// registry's "error_budget_service" slot; unset by default.
//
// Implementations must be safe for concurrent use.
type ErrorBudgetService interface {
	// Record feeds one call's result at now. Ignored results are skipped.
	Record(now time.Time, r Result)
	// Status returns the budget at now.
	Status(now time.Time) ErrorBudgetStatus
}

// ErrorBudgetDecision is an ErrorBudgetDecider's answer for a tier.
type ErrorBudgetDecision struct {
	Blocked, Warning bool
	RemainingPct     float64
	ThresholdPct     float64
	WarningPct       float64
}

// ErrorBudgetDecider decides whether the budget blocks a tier in a region,
// with hysteresis. The registry's "error_budget_decider" slot; unset by
// default.
//
// Implementations must be safe for concurrent use.
type ErrorBudgetDecider interface {
	Check(now time.Time, tier Tier, region string) ErrorBudgetDecision
	// ReplayAllowed reports whether automated replays may run now.
	ReplayAllowed(now time.Time) bool
}
