package main

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/baldur-go/baldur/redisstore"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/baldur-go/baldur/registry"
	"github.com/baldur-go/baldur/throttle"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests check the demo itself, not the fleet stores: a phase whose
// store is missing is skipped and fails the run; with stand-in stores (the
// crudest that could pass, defined here and never in the program) every
// phase runs and passes; a throttle store that is not fleet-wide fails
// phase b.

func TestMain(m *testing.M) {
	redis.SetLogger(quietRedis{})
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

func TestDemoSkipsMissingStoresAndFails(t *testing.T) {
	redistest.Binary(t)
	var out strings.Builder
	code, err := run(&out, stores{LeaseWindow: 50 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, 1, code, out.String())
	assert.Equal(t, 8, strings.Count(out.String(), "SKIPPED: "), out.String())
	assert.Contains(t, out.String(), "SKIPPED: governance store not built")
	assert.NotContains(t, out.String(), "PASSED")
}

// TestDemoPassesWithTheRealStores runs the whole demo on the stores of
// redisstore. It is what make demo-fleet runs; here it is opt-in
// (BALDUR_DEMO_FLEET=1) and skipped under -race, because its phases time
// real traffic against 20 ms Redis deadlines, which a race-built binary on
// two shared cores cannot promise.
func TestDemoPassesWithTheRealStores(t *testing.T) {
	redistest.Binary(t)
	if os.Getenv("BALDUR_DEMO_FLEET") != "1" || raceEnabled {
		t.Skip("set BALDUR_DEMO_FLEET=1 and build without -race (or run make demo-fleet)")
	}
	var out strings.Builder
	code, err := run(&out, newStores())
	require.NoError(t, err)
	t.Log("\n" + out.String())
	assert.Equal(t, 0, code)
	assert.Contains(t, out.String(), "PASSED")
}

func TestDemoCatchesAPerReplicaLimit(t *testing.T) {
	redistest.Binary(t)
	st := stores{Throttle: func(context.Context, *redisstore.Backend, registry.FleetConfig, string, ReplicaCounter) (fleetThrottle, error) {
		return &localOnly{throttle.NewMemory(1000, time.Now())}, nil
	}, LeaseWindow: 50 * time.Millisecond}
	var out strings.Builder
	code, err := run(&out, st)
	require.NoError(t, err)
	assert.Equal(t, 1, code)
	assert.Contains(t, out.String(), "above the bound", out.String())
}

type localOnly struct{ *throttle.Memory }

func (*localOnly) FallbackDecisions() uint64 { return 0 }
