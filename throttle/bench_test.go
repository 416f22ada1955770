package throttle

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/baldur-go/baldur"
	"golang.org/x/time/rate"
)

const liveKeys = 10_000

var benchMaxKeys = 100_000

// benchKeys returns the live keys in a random order, so that walking the
// slice visits keys, and the limiters made for them, in no memory order
// (a sequential walk would let the peers' allocation order prefetch).
func benchKeys() []string {
	keys := make([]string, liveKeys)
	for i := range keys {
		keys[i] = "198.51.100." + strconv.Itoa(i)
	}
	rand.New(rand.NewPCG(1, 1)).Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	return keys
}

// BenchmarkAdmit compares, in one run, a per-key admit with 10,000 live keys
// on this throttle and on the two usual x/time/rate setups: a map of
// limiters behind a mutex and a sync.Map of limiters. Each reads the clock
// once per call (time.Now; the adapters pass it in Call.Now); "clock" is
// that read alone, to subtract.
func BenchmarkAdmit(b *testing.B) {
	keys := benchKeys()
	const r, burst = 1e6, 1000 // per-key admits, not rejections

	b.Run("clock", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var t time.Time
			for pb.Next() {
				t = time.Now()
			}
			_ = t
		})
	})

	b.Run("throttle", func(b *testing.B) {
		th, err := New(Config{Rate: r, Burst: burst, MaxKeys: benchMaxKeys})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		for i := range liveKeys { // created in key order, like the peers' limiters
			th.Admit(ctx, baldur.Call{Key: "198.51.100." + strconv.Itoa(i)})
		}
		var seq atomic.Uint32
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(1)) * 7919
			c := baldur.Call{Operation: "GET /items/{id}"}
			for pb.Next() {
				i++
				c.Key = keys[i%liveKeys]
				c.Now = time.Now()
				if _, err := th.Admit(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	})

	b.Run("mutex-map-rate", func(b *testing.B) {
		var mu sync.Mutex
		m := make(map[string]*rate.Limiter, liveKeys)
		get := func(k string) *rate.Limiter {
			mu.Lock()
			l, ok := m[k]
			if !ok {
				l = rate.NewLimiter(r, burst)
				m[k] = l
			}
			mu.Unlock()
			return l
		}
		benchRatePeer(b, keys, get)
	})

	b.Run("syncmap-rate", func(b *testing.B) {
		var m sync.Map
		get := func(k string) *rate.Limiter {
			if l, ok := m.Load(k); ok {
				return l.(*rate.Limiter)
			}
			l, _ := m.LoadOrStore(k, rate.NewLimiter(r, burst))
			return l.(*rate.Limiter)
		}
		benchRatePeer(b, keys, get)
	})
}

// benchRatePeer runs BenchmarkAdmit's loop on an x/time/rate setup whose
// get returns the limiter of a key, creating it the first time.
func benchRatePeer(b *testing.B, keys []string, get func(string) *rate.Limiter) {
	for i := range liveKeys {
		get("198.51.100." + strconv.Itoa(i))
	}
	var seq atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1)) * 7919
		for pb.Next() {
			i++
			if !get(keys[i%liveKeys]).AllowN(time.Now(), 1) {
				b.Fatal("rejected")
			}
		}
	})
}

// BenchmarkReject is the throttled path: one key over its rate.
func BenchmarkReject(b *testing.B) {
	th, _ := New(Config{Rate: 1e-3, Burst: 1})
	ctx := context.Background()
	c := baldur.Call{Key: "noisy"}
	th.Admit(ctx, c)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := th.Admit(ctx, c); err == nil {
				b.Fatal("admitted")
			}
		}
	})
}

// BenchmarkEvictionChurn admits a never-seen key on every call into a full
// table of 10,000 keys (every insert evicts) and reports the p99 latency of
// single admits, sampled every 8th call.
func BenchmarkEvictionChurn(b *testing.B) {
	th, _ := New(Config{Rate: 1, Burst: 10, MaxKeys: liveKeys})
	ctx := context.Background()
	var seq atomic.Uint64
	var mu sync.Mutex
	var all []time.Duration
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		g := seq.Add(1) << 40
		buf := make([]byte, 0, 32)
		samples := make([]time.Duration, 0, 1<<16)
		c := baldur.Call{}
		for n := uint64(0); pb.Next(); n++ {
			buf = strconv.AppendUint(buf[:0], g|n, 36)
			c.Key = unsafe.String(unsafe.SliceData(buf), len(buf)) // a new key; the throttle keeps only its hash
			if n%8 == 0 && len(samples) < cap(samples) {
				start := time.Now()
				th.Admit(ctx, c)
				samples = append(samples, time.Since(start))
				continue
			}
			th.Admit(ctx, c)
		}
		mu.Lock()
		all = append(all, samples...)
		mu.Unlock()
	})
	if len(all) > 0 {
		slices.Sort(all)
		b.ReportMetric(float64(all[len(all)*99/100].Nanoseconds()), "p99-ns")
		b.ReportMetric(float64(all[len(all)/2].Nanoseconds()), "p50-ns")
	}
}
