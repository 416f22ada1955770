package blast_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/internal/gatetest"
)

var conformanceStart = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func conformanceCall(clk *clock.Fake) baldur.Call {
	return baldur.Call{Operation: "GET /items/{id}", Key: "tenant-a", Tier: baldur.TierStandard, Now: clk.Now()}
}

// TestBreakersConformance runs the shared gate suite against the breakers:
// a forced-open partition is the rejection, and three failures in a row open
// the partition, which is how the suite sees an outcome delivered.
func TestBreakersConformance(t *testing.T) {
	for _, by := range []blast.PartitionBy{blast.ByKey, blast.ByKeyAndOperation} {
		t.Run(by.String(), func(t *testing.T) {
			gatetest.Run(t, gatetest.Harness{New: func(t testing.TB) *gatetest.Subject {
				clk := clock.NewFake(conformanceStart)
				const failures = 3
				b, err := blast.NewBreakers(blast.BreakerConfig{PartitionBy: by, ConsecutiveFailures: failures, Clock: clk})
				require.NoError(t, err)
				call := conformanceCall(clk)
				part := blast.Partition{Key: call.Key, Operation: call.Operation}
				return &gatetest.Subject{
					Gate:   b,
					Call:   call,
					Reject: func(testing.TB) { b.ForceOpen(part, time.Hour) },
					Learn: &gatetest.Learn{
						Outcome: baldur.Outcome{Result: baldur.Failure, Latency: time.Millisecond},
						Times:   failures,
						Learned: func() bool { return b.State(part) == blast.StateOpen },
					},
				}
			}})
		})
	}
}

// TestShareCapConformance runs the shared gate suite against the share cap:
// a key holding its limit of in-flight calls is the rejection.
func TestShareCapConformance(t *testing.T) {
	for name, cfg := range map[string]blast.ShareCapConfig{
		"max_per_key": {MaxPerKey: 4},
		"share":       {Capacity: 20, Share: 0.2},
	} {
		t.Run(name, func(t *testing.T) {
			gatetest.Run(t, gatetest.Harness{New: func(t testing.TB) *gatetest.Subject {
				s, err := blast.NewShareCap(cfg)
				require.NoError(t, err)
				call := conformanceCall(clock.NewFake(conformanceStart))
				return &gatetest.Subject{
					Gate:  s,
					Call:  call,
					InUse: func() int { return s.InFlight(call.Key) },
					Limit: s.Limit(),
				}
			}})
		})
	}
}
