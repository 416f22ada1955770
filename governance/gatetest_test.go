package governance_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/internal/gatetest"
)

// TestGateConformance runs the shared gate suite against the governance gate,
// with a permissive snapshot and with a restrictive one (an unrelated kill
// switch and LEVEL_1 shedding another tier), which takes the checked path.
func TestGateConformance(t *testing.T) {
	for _, restrictive := range []bool{false, true} {
		name := "permissive"
		if restrictive {
			name = "restrictive"
		}
		t.Run(name, func(t *testing.T) {
			gatetest.Run(t, gatetest.Harness{New: func(t testing.TB) *gatetest.Subject {
				return governanceSubject(t, restrictive)
			}})
		})
	}
}

func governanceSubject(t testing.TB, restrictive bool) *gatetest.Subject {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	c, err := governance.New(governance.Config{Clock: clk, Audit: &governance.MemoryAudit{}})
	require.NoError(t, err)
	if restrictive {
		require.NoError(t, c.Activate(ctx, governance.KillSwitch{Scope: governance.ScopeOperation, Pattern: "GET /other/*", Reason: "conformance"}))
		_, err := c.Emergency().Trigger(ctx, baldur.EmergencyTrigger{Level: baldur.Level1, Reason: "conformance"})
		require.NoError(t, err)
	}
	call := baldur.Call{Operation: "GET /items/{id}", Service: "shop", Tier: baldur.TierStandard, Now: clk.Now()}
	const failures = 3
	return &gatetest.Subject{
		Gate: c.Gate(),
		Call: call,
		Reject: func(t testing.TB) {
			require.NoError(t, c.Activate(ctx, governance.KillSwitch{Scope: governance.ScopeOperation, Pattern: call.Operation, Reason: "conformance"}))
		},
		Learn: &gatetest.Learn{
			Outcome: baldur.Outcome{Result: baldur.Failure},
			Times:   failures,
			Learned: func() bool { return c.Budget().Status(clk.Now()).Failed >= failures },
		},
	}
}
