package enum

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type color uint8

var colors = New[color]("color", "red", "green")

func TestNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v     color
		name  string
		valid bool
	}{
		{0, "red", true},
		{1, "green", true},
		{2, "color(2)", false},
		{255, "color(255)", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.name, colors.String(tt.v))
		assert.Equal(t, tt.valid, colors.Valid(tt.v))
		if tt.valid {
			got, err := colors.Parse(tt.name)
			require.NoError(t, err)
			assert.Equal(t, tt.v, got)
		}
	}
	assert.Equal(t, 2, colors.Len())
}

func TestOutOfRangeName(t *testing.T) {
	t.Parallel()
	n := New[color]("DLQ status", "pending")
	assert.Equal(t, "dlq_status(7)", n.String(7))
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "Red", "color(2)", " red", string(make([]byte, 4096))} {
		_, err := colors.Parse(in)
		require.Error(t, err, "%q", in)
		assert.Contains(t, err.Error(), "unknown color")
		assert.Less(t, len(err.Error()), 400, "the input is clipped in the error")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("red")
	f.Add("green")
	f.Add("\xff")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := colors.Parse(s)
		if err == nil {
			require.Equal(t, s, colors.String(v))
			require.True(t, colors.Valid(v))
		}
	})
}
