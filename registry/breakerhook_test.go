package registry_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/registry"
)

// TestBreakerStateChangeHook: the hook hears the state changes of the
// breakers Load builds, named, and survives a reload that keeps the
// breaker.
func TestBreakerStateChangeHook(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	type change struct {
		name     string
		key      string
		from, to blast.State
	}
	var mu sync.Mutex
	var got []change
	reg := registry.New(registry.WithClock(clk), registry.WithBreakerStateChange(func(name string, p blast.Partition, from, to blast.State) {
		mu.Lock()
		got = append(got, change{name, p.Key, from, to})
		mu.Unlock()
	}))
	const file = `{"breakers":{"upstream":{"consecutive_failures":1,"open_timeout":"1s","half_open_probes":1}},
		"policies":[{"name":"out","operations":["POST /charges"],"breaker":"upstream"}]}`
	cfg, err := registry.ParseConfig(strings.NewReader(file))
	require.NoError(t, err)
	require.NoError(t, reg.Load(cfg))
	call := func(r baldur.Result) {
		tk, err := reg.Policy("POST /charges").Admit(context.Background(), baldur.Call{Operation: "POST /charges", Key: "pay.example", Now: clk.Now()})
		require.NoError(t, err)
		tk.Release(baldur.Outcome{Result: r})
	}
	call(baldur.Failure)
	require.NoError(t, reg.Load(cfg), "a reload keeps the breaker and its hook")
	clk.Advance(2 * time.Second)
	call(baldur.Success)
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, got)
	assert.Equal(t, change{"upstream", "pay.example", blast.StateClosed, blast.StateOpen}, got[0])
	last := got[len(got)-1]
	assert.Equal(t, "upstream", last.name)
	assert.Equal(t, blast.StateClosed, last.to, "the close is heard")
}
