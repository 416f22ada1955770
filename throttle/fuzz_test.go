package throttle

import (
	"bytes"
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// FuzzAdmit sends arbitrary keys, operations and tiers through throttles of
// every KeyBy mode: nothing panics, and a fresh bucket always admits.
func FuzzAdmit(f *testing.F) {
	f.Add("10.0.0.1", "GET /items/{id}", uint8(0), uint8(0))
	f.Add("", "", uint8(7), uint8(9))
	f.Add("\xff\x00\"key\\", "/pkg.Svc/M", uint8(2), uint8(3))
	f.Fuzz(func(t *testing.T, key, op string, tier, by uint8) {
		th, err := New(Config{Rate: 5, Burst: 2, KeyBy: KeyBy(by % 4), MaxKeys: 16})
		require.NoError(t, err)
		c := baldur.Call{Key: key, Operation: op, Tier: baldur.Tier(tier), Now: epoch}
		_, err = th.Admit(context.Background(), c)
		require.NoError(t, err, "fresh bucket rejected")
		th.Admit(context.Background(), c)
		th.Quota(baldur.Tier(tier))
		th.QuotaStatus(baldur.Tier(tier), uint64(len(key))<<40)
	})
}

// FuzzConfig builds throttles from arbitrary numbers: New either returns a
// *baldur.ConfigError or a throttle that admits a fresh key.
func FuzzConfig(f *testing.F) {
	f.Add(10.0, 5, 100, 1.0, 1, int64(0))
	f.Add(math.NaN(), 0, -1, math.Inf(1), -5, int64(-1))
	f.Add(1e-9, 1<<30, 1, 1e9, 1, int64(time.Hour))
	f.Add(1e9, math.MaxInt, 1<<62, 1e-300, math.MinInt, int64(math.MaxInt64)) // edges: MaxKeys is bounded, so this costs nothing
	f.Add(1.0, 1, MaxKeysLimit, 1.0, 1, int64(math.MinInt64))
	f.Fuzz(func(t *testing.T, rate float64, burst, maxKeys int, tierRate float64, tierBurst int, maxWait int64) {
		th, err := New(Config{Rate: rate, Burst: burst, MaxKeys: maxKeys, MaxWait: baldur.Duration(time.Duration(maxWait)),
			Tiers: map[baldur.Tier]TierLimit{baldur.TierCritical: {Rate: tierRate, Burst: tierBurst}}})
		if err != nil {
			require.IsType(t, (*baldur.ConfigError)(nil), err, "error %T: %v", err, err)
			return
		}
		for _, tier := range baldur.Tiers() {
			_, err := th.Admit(context.Background(), baldur.Call{Key: "k", Tier: tier, Now: epoch})
			require.NoError(t, err, "fresh bucket of %v rejected", tier)
		}
	})
}

// FuzzDecide checks Decide's invariants on arbitrary states and times.
func FuzzDecide(f *testing.F) {
	f.Add(Fresh, int64(0), int64(100), int64(200), int64(0))
	f.Add(int64(math.MaxInt64), int64(math.MinInt64), int64(0), int64(-1), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, tat, now, cost, tol, maxWait int64) {
		d, next := Decide(tat, now, Limit{Cost: cost, Tolerance: tol}, maxWait)
		require.GreaterOrEqual(t, d.Remaining, int64(0), "negative field: %+v", d)
		require.GreaterOrEqual(t, d.RetryAfter, time.Duration(0), "negative field: %+v", d)
		require.GreaterOrEqual(t, d.Wait, time.Duration(0), "negative field: %+v", d)
		if d.Allowed {
			require.Zero(t, d.RetryAfter, "allowed with RetryAfter: %+v", d)
		} else {
			require.Equal(t, tat, next, "denied call changed state")
		}
	})
}

// FuzzAppendName checks that any policy name yields a well-formed sf-string.
func FuzzAppendName(f *testing.F) {
	f.Add("api")
	f.Add("a\"b\\\x00\xff")
	f.Fuzz(func(t *testing.T, name string) {
		b := AppendPolicy(nil, baldur.Quota{Name: name, Limit: 1, Window: time.Second})
		i := bytes.LastIndex(b, []byte(`";q=`))
		require.Equal(t, byte('"'), b[0], "malformed: %q", b)
		require.GreaterOrEqual(t, i, 0, "malformed: %q", b)
		for j := 1; j < i; j++ {
			c := b[j]
			require.True(t, c >= 0x20 && c <= 0x7e, "byte %#x in %q", c, b)
			if c == '\\' {
				j++
				require.True(t, b[j] == '"' || b[j] == '\\', "bad escape in %q", b)
			} else {
				require.NotEqual(t, byte('"'), c, "unescaped quote in %q", b)
			}
		}
	})
}
