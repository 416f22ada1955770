package admin_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/governance"
)

// switchboard is a governance checker of another package: it allows
// everything and records what the operator asks of it.
type switchboard struct {
	baldur.NoOpGovernance
	mu         sync.Mutex
	activated  []governance.KillSwitch
	breakGlass []bool
}

func (s *switchboard) Activate(_ context.Context, ks governance.KillSwitch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.activated = append(s.activated, ks)
	return nil
}

func (s *switchboard) Deactivate(context.Context, governance.Scope, string) (bool, error) {
	return true, nil
}

func (s *switchboard) KillSwitches(context.Context) ([]governance.KillSwitch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]governance.KillSwitch(nil), s.activated...), nil
}

func (s *switchboard) BreakGlass(_ context.Context, on bool, _, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.breakGlass = append(s.breakGlass, on)
	return nil
}

// TestSwitchboardOfAnotherChecker checks that the kill-switch and
// break-glass endpoints operate any checker in the governance slot that is
// a governance.Switchboard, not only a *governance.Checker.
func TestSwitchboardOfAnotherChecker(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, nil)
	sb := &switchboard{}
	e.reg.Governance.Set(sb)

	w := e.op(http.MethodPost, "/killswitch", `{"scope": "service", "pattern": "payments", "reason": "incident"}`)
	require.Equal(t, http.StatusOK, w.Code, "body: %s", w.Body)
	w = e.op(http.MethodDelete, "/killswitch", `{"scope": "service", "pattern": "payments"}`)
	require.Equal(t, http.StatusOK, w.Code, "body: %s", w.Body)
	assert.Equal(t, true, decodeBody(t, w)["removed"])
	w = e.op(http.MethodPost, "/breakglass", `{"on": true, "reason": "incident"}`)
	require.Equal(t, http.StatusOK, w.Code, "body: %s", w.Body)

	sb.mu.Lock()
	defer sb.mu.Unlock()
	require.Len(t, sb.activated, 1)
	assert.Equal(t, governance.ScopeService, sb.activated[0].Scope)
	assert.Equal(t, "payments", sb.activated[0].Pattern)
	assert.Equal(t, []bool{true}, sb.breakGlass)
}
