package throttle

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/baldur-go/baldur"
)

func TestHeaderGolden(t *testing.T) {
	t.Parallel()
	q := baldur.Quota{Name: "api", Limit: 100, Window: time.Second}
	s := baldur.QuotaStatus{Quota: q, Remaining: 42, Reset: 1200 * time.Millisecond}
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"policy", AppendPolicy(nil, q), `"api";q=100;w=1`},
		{"ratelimit", AppendRateLimit(nil, s), `"api";r=42;t=2`},
		{"ratelimit full", AppendRateLimit(nil, baldur.QuotaStatus{Quota: q, Remaining: 100}), `"api";r=100;t=0`},
		{"escaped name", AppendPolicy(nil, baldur.Quota{Name: `a"b\c`, Limit: 1, Window: 90 * time.Second}), `"a\"b\\c";q=1;w=90`},
		{"non-ASCII name", AppendPolicy(nil, baldur.Quota{Name: "ü\x00", Limit: 1, Window: time.Second}), `"___";q=1;w=1`},
		{"negative values", AppendRateLimit(nil, baldur.QuotaStatus{Remaining: -3, Reset: -time.Second}), `"default";r=0;t=0`},
		{"rejected", AppendRateLimit(nil, RejectedStatus(q)), `"api";r=0;t=1`},
		{"appends", AppendPolicy([]byte("x, "), q), `x, "api";q=100;w=1`},
		{"legacy limit", AppendLegacyLimit(nil, q), `100`},
		{"legacy remaining", AppendLegacyRemaining(nil, s), `42`},
		{"legacy reset", AppendLegacyReset(nil, s), `2`},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, string(tt.got), tt.name)
	}
}

func TestSeconds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		d    time.Duration
		want int64
	}{{-1, 0}, {0, 0}, {1, 1}, {time.Second, 1}, {time.Second + 1, 2}, {59*time.Second + 999*time.Millisecond, 60}} {
		assert.Equal(t, tt.want, Seconds(tt.d), "Seconds(%v)", tt.d)
	}
}

func TestHeadersDoNotAllocate(t *testing.T) {
	q := baldur.Quota{Name: "api", Limit: 100, Window: time.Second}
	s := baldur.QuotaStatus{Quota: q, Remaining: 42, Reset: time.Second}
	buf := make([]byte, 0, 64)
	n := testing.AllocsPerRun(100, func() {
		buf = AppendPolicy(buf[:0], q)
		buf = AppendRateLimit(buf[:0], s)
	})
	assert.Zero(t, n, "allocs")
}
