package viz

import (
	"image"
	"image/draw"
	"math"
	"strconv"
)

// colorBarHeight is the height of the colour strip of ColorBar in pixels.
const colorBarHeight = 8

// ColorBar returns img with a colour scale under it: a strip running
// through cmap from 0 at its left end to 1 at its right end, labelled with
// the values they stand for, lo and hi (for a map drawn by Overlay or
// Heatmap, which normalise it: the map's minimum and maximum, see
// MapRange). The strip spans the image, or the labels where they are
// wider; then the image is centred above it. The background is white and
// the labels black, in the 7x13 font of Panel.
func ColorBar(img image.Image, cmap Colormap, lo, hi float64) *image.RGBA {
	l := DefaultLayout()
	left, right := FormatValue(lo), FormatValue(hi)
	b := img.Bounds()
	w := max(b.Dx(), l.textWidth(left)+l.textWidth(right)+l.textWidth("  "))
	const gap = 2
	out := l.canvas(w, b.Dy()+gap+colorBarHeight+1+l.lineHeight())
	place(out, img, (w-b.Dx())/2, 0)
	top := b.Dy() + gap
	for x := range w {
		c := cmap(float64(x) / float64(max(w-1, 1)))
		draw.Draw(out, image.Rect(x, top, x+1, top+colorBarHeight), image.NewUniform(c), image.Point{}, draw.Src)
	}
	y := top + colorBarHeight + 1
	l.drawLines(out, []string{left}, 0, l.textWidth(left), y)
	l.drawLines(out, []string{right}, w-l.textWidth(right), l.textWidth(right), y)
	return out
}

// MapRange returns the smallest and largest finite values of m: the values
// Overlay and Heatmap draw at the two ends of the colour map (both NaN when
// m has no finite value).
func MapRange(m []float32) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range m {
		if f := float64(v); finite(f) {
			lo, hi = min(lo, f), max(hi, f)
		}
	}
	if lo > hi {
		return math.NaN(), math.NaN()
	}
	return lo, hi
}

// FormatValue writes v with two significant digits, as short as possible
// (0.094, 2.1e-05, 1), for labels.
func FormatValue(v float64) string {
	return strconv.FormatFloat(v, 'g', 2, 64)
}
