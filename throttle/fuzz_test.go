package throttle

import (
	"bytes"
	"context"
	"math"
	"testing"
	"time"

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
		if err != nil {
			t.Fatal(err)
		}
		c := baldur.Call{Key: key, Operation: op, Tier: baldur.Tier(tier), Now: epoch}
		if _, err := th.Admit(context.Background(), c); err != nil {
			t.Fatalf("fresh bucket rejected: %v", err)
		}
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
			if _, ok := err.(*baldur.ConfigError); !ok {
				t.Fatalf("error %T: %v", err, err)
			}
			return
		}
		for _, tier := range baldur.Tiers() {
			if _, err := th.Admit(context.Background(), baldur.Call{Key: "k", Tier: tier, Now: epoch}); err != nil {
				t.Fatalf("fresh bucket of %v rejected: %v", tier, err)
			}
		}
	})
}

// FuzzDecide checks Decide's invariants on arbitrary states and times.
func FuzzDecide(f *testing.F) {
	f.Add(Fresh, int64(0), int64(100), int64(200), int64(0))
	f.Add(int64(math.MaxInt64), int64(math.MinInt64), int64(0), int64(-1), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, tat, now, cost, tol, maxWait int64) {
		d, next := Decide(tat, now, Limit{Cost: cost, Tolerance: tol}, maxWait)
		if d.Remaining < 0 || d.RetryAfter < 0 || d.Wait < 0 {
			t.Fatalf("negative field: %+v", d)
		}
		if !d.Allowed && next != tat {
			t.Fatalf("denied call changed state")
		}
		if d.Allowed && d.RetryAfter != 0 {
			t.Fatalf("allowed with RetryAfter: %+v", d)
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
		if b[0] != '"' || i < 0 {
			t.Fatalf("malformed: %q", b)
		}
		for j := 1; j < i; j++ {
			c := b[j]
			if c < 0x20 || c > 0x7e {
				t.Fatalf("byte %#x in %q", c, b)
			}
			if c == '\\' {
				j++
				if b[j] != '"' && b[j] != '\\' {
					t.Fatalf("bad escape in %q", b)
				}
			} else if c == '"' {
				t.Fatalf("unescaped quote in %q", b)
			}
		}
	})
}
