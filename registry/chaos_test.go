package registry_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/chaos"
	"github.com/baldur-go/baldur/registry"
)

// TestChaosSection: the chaos section decodes strictly, validates with
// path-named errors, and gives every policy the fault stage reading the
// registry's one injector, across reloads.
func TestChaosSection(t *testing.T) {
	t.Parallel()
	doc := `{"service": "shop", "breakers": {"b": {}}, "bulkheads": {"bh": {"max_concurrent": 4}},
		"policies": [{"name": "api", "operations": ["GET /a"], "breaker": "b", "bulkhead": "bh"}],
		"chaos": {"enabled": true, "dry_run": false, "max_rate": 0.2, "ttl": "5m", "windows": ["00:00-24:00"]}}`
	cfg, err := registry.ParseConfig(strings.NewReader(doc))
	require.NoError(t, err)
	require.NotNil(t, cfg.Chaos)
	assert.Equal(t, 5*time.Minute, cfg.Chaos.TTL.D())
	r := registry.New()
	require.NoError(t, r.Load(cfg))
	p, ok := r.PolicyByName("api")
	require.True(t, ok)
	var stages []baldur.Stage
	for _, g := range p.Gates() {
		stages = append(stages, g.Stage())
	}
	assert.Equal(t, []baldur.Stage{chaos.StageObserve, baldur.StageBlast, baldur.StageBulkhead, baldur.StageFault}, stages)
	cc, ok := r.ChaosConfig()
	require.True(t, ok)
	assert.True(t, cc.Enabled)
	inj := r.Chaos()
	require.NoError(t, r.Load(cfg))
	assert.Same(t, inj, r.Chaos(), "one injector across reloads")

	// No experiment: the policy admits as before.
	tk, err := p.Admit(context.Background(), baldur.Call{Operation: "GET /a", Key: "k"})
	require.NoError(t, err)
	tk.Release(baldur.Outcome{})

	for _, tt := range []struct{ doc, field string }{
		{`{"policies": [], "chaos": {"max_rate": 0.9}}`, "chaos.max_rate"},
		{`{"policies": [], "chaos": {"enabeld": true}}`, "chaos.enabeld"},
		{`{"policies": [], "chaos": {"windows": ["9-5"]}}`, "chaos.windows[0]"},
	} {
		c, err := registry.ParseConfig(strings.NewReader(tt.doc))
		if err == nil {
			err = registry.New().Load(c)
		}
		var ce *baldur.ConfigError
		require.ErrorAs(t, err, &ce, tt.doc)
		assert.Equal(t, tt.field, ce.Field, tt.doc)
	}

	// Without the section no policy has a fault stage.
	cfg.Chaos = nil
	require.NoError(t, r.Load(cfg))
	p, _ = r.PolicyByName("api")
	assert.Len(t, p.Gates(), 2)
	_, ok = r.ChaosConfig()
	assert.False(t, ok)
}
