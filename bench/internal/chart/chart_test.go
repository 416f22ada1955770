package chart

import (
	"bytes"
	"image/png"
	"testing"
)

func TestRenderWritesPNGOfPanelSize(t *testing.T) {
	t.Parallel()
	p := Panel{Title: "t", XLabel: "x", YLabel: "y", LogY: true, LogX: true, XTicks: []float64{0.5, 1, 2, 5},
		Series: []Series{{Name: "a", Color: Palette[0], X: []float64{0.5, 1, 2, 5}, Y: []float64{10, 20, 0, 1000}}}}
	p.Ref.Y, p.Ref.Label = 25, "ref"
	var buf bytes.Buffer
	if err := Render(&buf, "caption", p, p); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Bounds().Dx(); got != 2*panelW {
		t.Fatalf("width = %d, want %d", got, 2*panelW)
	}
}

func TestNiceCeil(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want float64 }{{0, 1}, {0.7, 1}, {1.5, 2}, {3, 5}, {7, 10}, {880, 1000}, {160, 200}} {
		if got := niceCeil(tc.in); got != tc.want {
			t.Errorf("niceCeil(%g) = %g, want %g", tc.in, got, tc.want)
		}
	}
}
