package chaos

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"time"
)

// Chart colours: the experiment cohort red, the control cohort blue.
var (
	colExp    = color.RGBA{0xd6, 0x27, 0x28, 0xff}
	colCtl    = color.RGBA{0x1f, 0x77, 0xb4, 0xff}
	colAxis   = color.RGBA{0x60, 0x60, 0x60, 0xff}
	colGrid   = color.RGBA{0xe4, 0xe4, 0xe4, 0xff}
	colInject = color.RGBA{0xff, 0xf2, 0xcc, 0xff}
	colBg     = color.RGBA{0xff, 0xff, 0xff, 0xff}
)

const (
	chartW, chartH = 800, 360
	margin         = 20
	panelGap       = 20
)

// Chart renders r's series as a PNG: the top panel is each cohort's
// success rate (0..100 %) over time, the bottom its p99 latency (0 to
// the highest seen), the experiment cohort red and the control blue, the
// injection span shaded. A legend square of each colour sits top left.
func Chart(r Report) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, chartW, chartH))
	fill(img, img.Bounds(), colBg)
	panelH := (chartH - 2*margin - panelGap) / 2
	top := image.Rect(margin, margin, chartW-margin, margin+panelH)
	bottom := image.Rect(margin, margin+panelH+panelGap, chartW-margin, chartH-margin)
	pts := r.Series
	var t0, t1 time.Time
	if len(pts) > 0 {
		t0, t1 = pts[0].At, pts[len(pts)-1].At
	}
	span := t1.Sub(t0)
	x := func(t time.Time, p image.Rectangle) int {
		if span <= 0 {
			return p.Min.X
		}
		return p.Min.X + int(float64(p.Dx()-1)*float64(t.Sub(t0))/float64(span))
	}
	var maxLat time.Duration
	for _, pt := range pts {
		maxLat = max(maxLat, pt.Exp.P99.D(), pt.Ctl.P99.D())
	}
	for _, p := range []image.Rectangle{top, bottom} {
		if !r.InjectAt.IsZero() && span > 0 {
			end := r.InjectEnd
			if end.IsZero() {
				end = t1
			}
			fill(img, image.Rect(x(r.InjectAt, p), p.Min.Y, x(end, p)+1, p.Max.Y), colInject)
		}
		for i := 1; i < 4; i++ {
			y := p.Min.Y + p.Dy()*i/4
			line(img, p.Min.X, y, p.Max.X-1, y, colGrid)
		}
		line(img, p.Min.X, p.Max.Y-1, p.Max.X-1, p.Max.Y-1, colAxis)
		line(img, p.Min.X, p.Min.Y, p.Min.X, p.Max.Y-1, colAxis)
	}
	yRate := func(v float64) int { return top.Max.Y - 1 - int(v*float64(top.Dy()-1)) }
	yLat := func(d time.Duration) int {
		if maxLat <= 0 {
			return bottom.Max.Y - 1
		}
		return bottom.Max.Y - 1 - int(float64(d)/float64(maxLat)*float64(bottom.Dy()-1))
	}
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		for _, s := range []struct {
			col    color.RGBA
			va, vb PointStats
		}{{colCtl, a.Ctl, b.Ctl}, {colExp, a.Exp, b.Exp}} {
			if s.va.Calls == 0 || s.vb.Calls == 0 {
				continue
			}
			thick(img, x(a.At, top), yRate(s.va.SuccessRate), x(b.At, top), yRate(s.vb.SuccessRate), s.col)
			thick(img, x(a.At, bottom), yLat(s.va.P99.D()), x(b.At, bottom), yLat(s.vb.P99.D()), s.col)
		}
	}
	fill(img, image.Rect(margin+6, margin+6, margin+16, margin+16), colExp)
	fill(img, image.Rect(margin+22, margin+6, margin+32, margin+16), colCtl)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// line draws from (x0, y0) to (x1, y1) (Bresenham).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	err := dx + dy
	for {
		if (image.Point{x0, y0}).In(img.Bounds()) {
			img.SetRGBA(x0, y0, c)
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * err
		if e2 >= dy {
			err += dy
			x0 += sx
		}
		if e2 <= dx {
			err += dx
			y0 += sy
		}
	}
}

func thick(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	line(img, x0, y0, x1, y1, c)
	line(img, x0, y0+1, x1, y1+1, c)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}
