package bench

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/bench/internal/ours"
)

// manyKeys are the partition keys of BenchmarkChainKeys: 10,000 live
// clients, as a public endpoint sees them.
var manyKeys = func() []string {
	k := make([]string, 10_000)
	for i := range k {
		k[i] = "198.51." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
	}
	return k
}()

// BenchmarkChainKeys is the admit path of the full chain with calls spread
// over 10,000 partition keys (each goroutine walks the keys from its own
// offset), so that the throttle buckets and breaker partitions of different
// calls are different memory: the case where parallel throughput should
// scale with cores. BenchmarkChain keeps every call on one key, the worst
// case for contention.
func BenchmarkChainKeys(b *testing.B) {
	for _, c := range realChains {
		b.Run("path=admit/impl="+c.name, func(b *testing.B) {
			reg, err := c.build(benchCall.Key, ours.None)
			require.NoError(b, err)
			ctx := context.Background()
			var goroutines atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(goroutines.Add(1)) * 7919
				c := benchCall
				for pb.Next() {
					c.Key = manyKeys[i%len(manyKeys)]
					i++
					t, err := reg.Policy(c.Operation).Admit(ctx, c)
					if err != nil {
						assert.NoError(b, err, "admit path rejected")
						return
					}
					t.Release(okOutcome)
				}
			})
		})
	}
}
