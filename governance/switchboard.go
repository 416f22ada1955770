package governance

import (
	"context"

	"github.com/baldur-go/baldur"
)

// Switchboard is the operator's side of a governance checker: the kill
// switches and break glass. *Checker implements it. The admin API and the
// metrics find it on the registry's governance slot with an interface
// assertion, so that any checker offering these methods is operated the
// same way; the fail-open default does not offer them.
//
// Implementations must be safe for concurrent use.
type Switchboard interface {
	// Activate throws a kill switch (see Checker.Activate).
	Activate(ctx context.Context, ks KillSwitch) error
	// Deactivate lifts the kill switch with scope and pattern and reports
	// whether there was one.
	Deactivate(ctx context.Context, scope Scope, pattern string) (bool, error)
	// KillSwitches returns the active kill switches.
	KillSwitches(ctx context.Context) ([]KillSwitch, error)
	// BreakGlass turns break glass on (a reason is required) or off.
	BreakGlass(ctx context.Context, on bool, actor, reason string) error
}

// AuditCounter reports how many audit records of a reason the audit rate
// limit has dropped. *Checker implements it; the metrics read it on the
// registry's governance slot.
//
// Implementations must be safe for concurrent use.
type AuditCounter interface {
	AuditDropped(reason baldur.BlockReason) uint64
}

var (
	_ Switchboard  = (*Checker)(nil)
	_ AuditCounter = (*Checker)(nil)
)
