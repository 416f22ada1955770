package chart

import (
	"bytes"
	"image/png"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRenderWritesPNGOfPanelSize(t *testing.T) {
	t.Parallel()
	p := Panel{Title: "t", XLabel: "x", YLabel: "y", LogY: true, LogX: true, XTicks: []float64{0.5, 1, 2, 5},
		Series: []Series{{Name: "a", Color: Palette[0], X: []float64{0.5, 1, 2, 5}, Y: []float64{10, 20, 0, 1000}}}}
	p.Ref.Y, p.Ref.Label = 25, "ref"
	var buf bytes.Buffer
	require.NoError(t, Render(&buf, "caption", p, p))
	img, err := png.Decode(&buf)
	require.NoError(t, err)
	require.Equal(t, 2*panelW, img.Bounds().Dx(), "width")
}

func TestNiceCeil(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want float64 }{{0, 1}, {0.7, 1}, {1.5, 2}, {3, 5}, {7, 10}, {880, 1000}, {160, 200}} {
		assert.Equal(t, tc.want, niceCeil(tc.in), "niceCeil(%g)", tc.in)
	}
}
