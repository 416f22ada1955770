package baldur_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

func TestDurationJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{in: `"50ms"`, want: 50 * time.Millisecond},
		{in: `"1m30s"`, want: 90 * time.Second},
		{in: `1.5`, want: 1500 * time.Millisecond},
		{in: `0`, want: 0},
		{in: `null`, want: 0},
		{in: `"-1s"`, want: -time.Second},
		{in: `"2562047h"`, want: 2562047 * time.Hour},
		{in: `9223372036.854776`, err: true}, // 2^63 ns wraps
		{in: `1e308`, err: true},
		{in: `"5 minutes"`, err: true},
		{in: `true`, err: true},
		{in: `{}`, err: true},
		{in: `"9999999999h"`, err: true},
	}
	for _, tt := range tests {
		var d baldur.Duration
		err := json.Unmarshal([]byte(tt.in), &d)
		if tt.err {
			assert.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, d.D(), tt.in)
	}
}

func TestDurationRoundTrip(t *testing.T) {
	t.Parallel()
	type cfg struct {
		Wait baldur.Duration `json:"wait"`
	}
	in := cfg{Wait: baldur.Duration(1500 * time.Millisecond)}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	assert.JSONEq(t, `{"wait":"1.5s"}`, string(b))
	var out cfg
	require.NoError(t, json.Unmarshal(b, &out))
	assert.Equal(t, in, out)
	assert.Equal(t, "1.5s", in.Wait.String())
}

func FuzzDurationJSON(f *testing.F) {
	for _, s := range []string{`"50ms"`, `1.5`, `null`, `9223372036.854776`, `-9223372036.854775`, `"-2562047h47m16.854775808s"`, `1e-9`, `"NaN"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var d baldur.Duration
		if json.Unmarshal([]byte(s), &d) != nil {
			return
		}
		b, err := json.Marshal(d)
		require.NoError(t, err)
		var back baldur.Duration
		require.NoError(t, json.Unmarshal(b, &back), "%s marshals to %s, which must read back", s, b)
		require.Equal(t, d, back)
	})
}
