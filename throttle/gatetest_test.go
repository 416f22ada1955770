package throttle_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/internal/gatetest"
	"github.com/baldur-go/baldur/throttle"
)

// TestGateConformance runs the shared gate suite against the throttle: the
// built-in memory fast path, a Store behind the interface, and the waiting
// mode (MaxWait), which consults the context first. The bucket holds more
// than the suite's 1001 measured admissions; the fake clock never refills
// it, so draining it is how the suite gets its rejections.
func TestGateConformance(t *testing.T) {
	variants := map[string]func(*throttle.Config, *clock.Fake){
		"memory": func(*throttle.Config, *clock.Fake) {},
		"store": func(cfg *throttle.Config, clk *clock.Fake) {
			cfg.Store = throttle.NewMemory(1024, clk.Now())
		},
		"wait": func(cfg *throttle.Config, _ *clock.Fake) {
			// The next token is a second away: past MaxWait, so an empty
			// bucket rejects at once instead of waiting on the fake clock.
			cfg.MaxWait = baldur.Duration(time.Millisecond)
		},
	}
	for name, set := range variants {
		t.Run(name, func(t *testing.T) {
			gatetest.Run(t, gatetest.Harness{New: func(t testing.TB) *gatetest.Subject {
				clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
				cfg := throttle.Config{Name: "conformance", Rate: 1, Burst: 2048, Clock: clk}
				set(&cfg, clk)
				th, err := throttle.New(cfg)
				require.NoError(t, err)
				return &gatetest.Subject{
					Gate:  th,
					Call:  baldur.Call{Operation: "GET /items/{id}", Key: "tenant-a", Tier: baldur.TierStandard, Now: clk.Now()},
					Waits: cfg.MaxWait > 0,
				}
			}})
		})
	}
}
