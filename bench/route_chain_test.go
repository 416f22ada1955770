package bench

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/bench/internal/peer"
	"github.com/baldur-go/baldur/bench/internal/route"
)

// BenchmarkRouteChain is the route's policy alone, as the adapters drive
// it: the policy the registry resolves for the route's pattern, admitted
// with Policy.AdmitInto from a Call on the caller's stack and released as a
// success, the partition key one of many tenants on the admit path and one
// drained tenant on the reject path. It is the floor under the route
// benchmarks: what they add to it is the adapter's own work.
func BenchmarkRouteChain(b *testing.B) {
	for _, m := range []peer.Mode{peer.Admit, peer.Reject} {
		b.Run("path="+m.String(), func(b *testing.B) {
			reg, err := route.Registry(route.Burst, sys)
			require.NoError(b, err)
			p := reg.Policy(route.Pattern)
			ctx := context.Background()
			admit := func(key string) error {
				c := baldur.Call{Operation: route.Pattern, Key: key}
				var t baldur.Ticket
				if err := p.AdmitInto(ctx, &c, &t); err != nil {
					return err
				}
				t.Release(baldur.Outcome{Result: baldur.Success})
				return nil
			}
			if m == peer.Reject {
				drainTenants(func(first int) bool { return admit(route.ClientIP(first)) != nil })
			}
			var gs, rejected atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				g := int(gs.Add(1))
				n := clientsPerG
				if m == peer.Reject {
					n = 1
				}
				keys := make([]string, n)
				for i := range keys {
					keys[i] = route.ClientIP(g*clientsPerG + i)
				}
				i, rej := 0, 0
				for pb.Next() {
					if admit(keys[i]) != nil {
						rej++
					}
					if i++; i == n {
						i = 0
					}
				}
				rejected.Add(int64(rej))
			})
			reportCPU(b, cpu0)
			checkPath(b, m, rejected.Load())
		})
	}
}
