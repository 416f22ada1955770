package governance

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// TestExpiredKillSwitchesArePurged: expired switches leave the store at
// the next snapshot rebuild, so rebuilds stop walking them; live ones
// (and one replaced by a live switch) stay.
func TestExpiredKillSwitchesArePurged(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	const n = 1000
	for i := range n {
		require.NoError(t, f.c.Activate(bg, KillSwitch{Scope: ScopeOperation, Pattern: "op" + strconv.Itoa(i), Reason: "r", ExpiresAt: t0.Add(time.Minute)}))
	}
	require.NoError(t, f.c.Activate(bg, KillSwitch{Scope: ScopeService, Pattern: "forever", Reason: "r"}))
	require.NoError(t, f.c.Activate(bg, KillSwitch{Scope: ScopeService, Pattern: "later", Reason: "r", ExpiresAt: t0.Add(time.Hour)}))

	f.clk.Advance(time.Minute)
	// The first rebuild after the expiry (a per-call refresh here) purges.
	require.NoError(t, f.admit(t, f.call("op1", baldur.TierStandard), baldur.Success))
	stored, err := f.store.MemoryStore.KillSwitches(bg)
	require.NoError(t, err)
	assert.Equal(t, 2, len(stored), "expired switches still stored")
	list, err := f.c.KillSwitches(bg)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "forever", list[0].Pattern)
	assert.Equal(t, "later", list[1].Pattern)
}

func TestMemoryStorePurgeKillSwitches(t *testing.T) {
	t.Parallel()
	m := NewMemoryStore()
	for i, exp := range []time.Time{{}, t0.Add(-time.Second), t0, t0.Add(time.Second)} {
		require.NoError(t, m.PutKillSwitch(bg, KillSwitch{Scope: ScopeService, Pattern: strconv.Itoa(i), Reason: "r", ExpiresAt: exp}))
	}
	n, err := m.PurgeKillSwitches(bg, t0)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "expired at or before now")
	left, err := m.KillSwitches(bg)
	require.NoError(t, err)
	pats := []string{}
	for _, ks := range left {
		pats = append(pats, ks.Pattern)
	}
	assert.ElementsMatch(t, []string{"0", "3"}, pats)
}
