// Package chart draws small line charts as PNG with the standard library's
// image packages and x/image's basicfont: enough for the overload
// experiment's two panels (latency and goodput against offered load), with
// axes, ticks, a legend and labels, and no plotting dependency.
package chart

import (
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Series is one line of a panel.
type Series struct {
	Name  string
	Color color.RGBA
	// X and Y are the points, in the same order.
	X, Y []float64
}

// Panel is one chart: a title, axis labels, the series and, optionally, a
// horizontal reference line.
type Panel struct {
	Title, XLabel, YLabel string
	// LogY draws the y axis on a log10 scale (values <= 0 are skipped).
	LogY bool
	// XTicks are the x positions labeled on the axis; X is drawn on a log10
	// scale when LogX is set.
	XTicks []float64
	LogX   bool
	// Ref draws a dashed horizontal line at y = Ref.Y labeled Ref.Label,
	// when Ref.Label is not empty.
	Ref struct {
		Y     float64
		Label string
	}
	Series []Series
}

// Palette holds distinguishable colors for up to four series.
var Palette = []color.RGBA{
	{0xd6, 0x27, 0x28, 0xff}, // red
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0x2c, 0xa0, 0x2c, 0xff}, // green
	{0x94, 0x67, 0xbd, 0xff}, // purple
}

const (
	panelW, panelH = 560, 420
	marginL        = 70
	marginR        = 20
	marginT        = 40
	marginB        = 60
)

var (
	black = color.RGBA{0, 0, 0, 0xff}
	grey  = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	dark  = color.RGBA{0x66, 0x66, 0x66, 0xff}
)

// Render draws the panels side by side under a caption and writes a PNG.
func Render(w io.Writer, caption string, panels ...Panel) error {
	const captionH = 28
	img := image.NewRGBA(image.Rect(0, 0, panelW*len(panels), panelH+captionH))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	text(img, 10, 18, caption, black)
	for i, p := range panels {
		drawPanel(img, image.Rect(i*panelW, captionH, (i+1)*panelW, captionH+panelH), p)
	}
	return png.Encode(w, img)
}

type scale struct {
	lo, hi   float64
	log      bool
	pxLo, px float64 // pixel of lo, pixels across
}

func (s scale) at(v float64) float64 {
	lo, hi := s.lo, s.hi
	if s.log {
		v, lo, hi = math.Log10(v), math.Log10(lo), math.Log10(hi)
	}
	return s.pxLo + (v-lo)/(hi-lo)*s.px
}

func drawPanel(img *image.RGBA, r image.Rectangle, p Panel) {
	plot := image.Rect(r.Min.X+marginL, r.Min.Y+marginT, r.Max.X-marginR, r.Max.Y-marginB)
	text(img, plot.Min.X, r.Min.Y+20, p.Title, black)

	xlo, xhi, ylo, yhi := bounds(p)
	xs := scale{lo: xlo, hi: xhi, log: p.LogX, pxLo: float64(plot.Min.X), px: float64(plot.Dx())}
	ys := scale{lo: ylo, hi: yhi, log: p.LogY, pxLo: float64(plot.Max.Y), px: -float64(plot.Dy())}

	// Grid and y ticks.
	for _, t := range yTicks(ylo, yhi, p.LogY) {
		y := int(ys.at(t))
		hline(img, plot.Min.X, plot.Max.X, y, grey, false)
		label := fmtNum(t)
		text(img, plot.Min.X-8-7*len(label), y+4, label, dark)
	}
	for _, t := range p.XTicks {
		x := int(xs.at(t))
		vline(img, x, plot.Min.Y, plot.Max.Y, grey)
		label := fmtNum(t) + "x"
		text(img, x-7*len(label)/2, plot.Max.Y+16, label, dark)
	}
	// Axes.
	hline(img, plot.Min.X, plot.Max.X, plot.Max.Y, black, false)
	vline(img, plot.Min.X, plot.Min.Y, plot.Max.Y, black)
	text(img, plot.Min.X+plot.Dx()/2-7*len(p.XLabel)/2, plot.Max.Y+38, p.XLabel, black)
	text(img, r.Min.X+4, plot.Min.Y-8, p.YLabel, black)

	if p.Ref.Label != "" {
		y := int(ys.at(p.Ref.Y))
		hline(img, plot.Min.X, plot.Max.X, y, dark, true)
		text(img, plot.Max.X-7*len(p.Ref.Label)-4, y-4, p.Ref.Label, dark)
	}
	for _, s := range p.Series {
		var px, py float64
		first := true
		for i := range s.X {
			if p.LogY && s.Y[i] <= 0 {
				first = true
				continue
			}
			x, y := xs.at(s.X[i]), ys.at(s.Y[i])
			dot(img, int(x), int(y), s.Color)
			if !first {
				line(img, px, py, x, y, s.Color)
			}
			px, py, first = x, y, false
		}
	}
	// Legend, top left inside the plot.
	for i, s := range p.Series {
		y := plot.Min.Y + 14 + 16*i
		for d := 0; d < 3; d++ {
			hline(img, plot.Min.X+8, plot.Min.X+30, y-4+d, s.Color, false)
		}
		text(img, plot.Min.X+36, y, s.Name, black)
	}
}

func bounds(p Panel) (xlo, xhi, ylo, yhi float64) {
	xlo, xhi = math.Inf(1), math.Inf(-1)
	ylo, yhi = math.Inf(1), math.Inf(-1)
	for _, t := range p.XTicks {
		xlo, xhi = math.Min(xlo, t), math.Max(xhi, t)
	}
	for _, s := range p.Series {
		for i := range s.X {
			xlo, xhi = math.Min(xlo, s.X[i]), math.Max(xhi, s.X[i])
			if p.LogY && s.Y[i] <= 0 {
				continue
			}
			ylo, yhi = math.Min(ylo, s.Y[i]), math.Max(yhi, s.Y[i])
		}
	}
	if p.Ref.Label != "" {
		ylo, yhi = math.Min(ylo, p.Ref.Y), math.Max(yhi, p.Ref.Y)
	}
	if math.IsInf(xlo, 0) {
		xlo, xhi = 0, 1
	}
	if math.IsInf(ylo, 0) {
		ylo, yhi = 0, 1
	}
	if p.LogX {
		xlo, xhi = xlo/1.25, xhi*1.25
	} else {
		pad := (xhi - xlo) * 0.05
		xlo, xhi = xlo-pad, xhi+pad
	}
	if p.LogY {
		ylo = math.Pow(10, math.Floor(math.Log10(ylo)))
		yhi = math.Pow(10, math.Ceil(math.Log10(yhi)+0.001))
	} else {
		ylo = 0
		yhi = niceCeil(yhi * 1.1)
	}
	return xlo, xhi, ylo, yhi
}

func yTicks(lo, hi float64, log bool) []float64 {
	var out []float64
	if log {
		for v := lo; v <= hi*1.0001; v *= 10 {
			out = append(out, v)
		}
		return out
	}
	step := niceCeil(hi / 5)
	for v := 0.0; v <= hi*1.0001; v += step {
		out = append(out, v)
	}
	return out
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}

func fmtNum(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func text(img *image.RGBA, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA, dashed bool) {
	for x := x0; x <= x1; x++ {
		if dashed && (x/6)%2 == 1 {
			continue
		}
		img.SetRGBA(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	for y := y0; y <= y1; y++ {
		img.SetRGBA(x, y, c)
	}
}

func dot(img *image.RGBA, x, y int, c color.RGBA) {
	for dx := -3; dx <= 3; dx++ {
		for dy := -3; dy <= 3; dy++ {
			if dx*dx+dy*dy <= 9 {
				img.SetRGBA(x+dx, y+dy, c)
			}
		}
	}
}

// line draws a two-pixel-thick segment by stepping along its longer axis.
func line(img *image.RGBA, x0, y0, x1, y1 float64, c color.RGBA) {
	n := int(math.Max(math.Abs(x1-x0), math.Abs(y1-y0))) + 1
	for i := 0; i <= n; i++ {
		t := float64(i) / float64(n)
		x, y := int(math.Round(x0+(x1-x0)*t)), int(math.Round(y0+(y1-y0)*t))
		img.SetRGBA(x, y, c)
		img.SetRGBA(x+1, y, c)
		img.SetRGBA(x, y+1, c)
	}
}
