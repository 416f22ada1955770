package chaos_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/chaos"
	"github.com/baldur-go/baldur/clock"
)

// FuzzSchedule feeds experiment documents as the admin API receives them:
// every one is scheduled or refused with a typed error, never a panic, and
// an accepted one has a rate within (0, max_rate] and a duration within
// its TTL.
func FuzzSchedule(f *testing.F) {
	for _, s := range []string{
		`{"id":"a","target":{"policy":"api"},"fault":{"kind":"latency","delay":"50ms"},"rate":0.01}`,
		`{"id":"b","target":{"operation":"GET /*/x*"},"fault":{"kind":"error","http_status":500,"grpc_code":13},"duration":"1m","ttl":"2m"}`,
		`{"id":"c","target":{"service":"s","tiers":["critical"]},"fault":{"kind":"abort"}}`,
		`{"id":"d","target":{},"fault":{"kind":"meteor"},"rate":2}`,
		`{"id":"e","target":{"policy":"p"},"fault":{"kind":"latency","delay":"1s","jitter":"2s","distribution":"exponential"},"windows":["22:00-02:00"]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var x chaos.Experiment
		if json.Unmarshal([]byte(doc), &x) != nil {
			return
		}
		clk := clock.NewFake(t0)
		sc, err := chaos.New(chaos.Config{Enabled: true, Governance: baldur.NoOpGovernance{}, Budget: &fakeBudget{remaining: 100},
			Blast: mustBlast(nil, nil), Clock: clk, Logger: discard})
		require.NoError(t, err)
		r, err := sc.Schedule(context.Background(), x)
		if err != nil {
			var ce *baldur.ConfigError
			if !errors.As(err, &ce) && !errors.Is(err, chaos.ErrBlocked) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		e := r.Experiment
		require.True(t, e.Rate > 0 && e.Rate <= chaos.DefaultMaxRate, "rate %v", e.Rate)
		require.LessOrEqual(t, e.Duration, e.TTL)
		require.LessOrEqual(t, e.TTL.D(), chaos.DefaultTTL)
		require.True(t, e.DryRun, "dry by default")
		sc.Tick(context.Background())
		clk.Advance(time.Second)
		sc.Tick(context.Background())
	})
}
