package viz

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"strings"

	"github.com/arp-robustness/arp/checkpoint"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Default plot size in pixels.
const (
	DefaultPlotWidth  = 640
	DefaultPlotHeight = 420
)

// plotDPI is the resolution plots are drawn at; gonum/plot's point sizes
// (12 pt titles, 10 pt tick labels) read well at it.
const plotDPI = 96

// Palette is the colour sequence of plot series: the Okabe-Ito colours,
// distinguishable by colour-blind readers, then black.
var Palette = []color.RGBA{
	{0, 114, 178, 255},   // blue
	{213, 94, 0, 255},    // vermillion
	{0, 158, 115, 255},   // bluish green
	{204, 121, 167, 255}, // reddish purple
	{230, 159, 0, 255},   // orange
	{86, 180, 233, 255},  // sky blue
	{240, 228, 66, 255},  // yellow
	{0, 0, 0, 255},       // black
}

func paletteColor(i int) color.RGBA { return Palette[i%len(Palette)] }

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// AxisLimit bounds the values plots draw: a value beyond ±AxisLimit is
// drawn at ±AxisLimit. Wider ranges overflow float64 when gonum/plot places
// the tick marks (it would loop or panic).
const AxisLimit = 1e300

// clampAxis limits v to [-AxisLimit, AxisLimit].
func clampAxis(v float64) float64 { return max(-AxisLimit, min(AxisLimit, v)) }

// drawableRange returns a range gonum/plot can draw around [lo, hi]: both
// ends finite and within ±AxisLimit, lo < hi, and hi - lo wide enough to
// tell apart at float64 precision (a constant series of 1e20, say, gets a
// range of ±0.1% around it; gonum's own ±1 would vanish in rounding).
// Non-finite ends become the other end, or 0.
func drawableRange(lo, hi float64) (float64, float64) {
	if !finite(lo) && !finite(hi) {
		lo, hi = 0, 0
	} else if !finite(lo) {
		lo = hi
	} else if !finite(hi) {
		hi = lo
	}
	lo, hi = clampAxis(lo), clampAxis(hi)
	if lo > hi {
		lo, hi = hi, lo
	}
	mag := max(math.Abs(lo), math.Abs(hi))
	if hi-lo <= mag*1e-9 {
		pad := max(1, mag*1e-3)
		if mag < 1e-300 {
			pad = 1
		}
		lo, hi = clampAxis(lo-pad), clampAxis(hi+pad)
	}
	return lo, hi
}

// fitAxis makes an axis range drawable (see drawableRange).
func fitAxis(a *plot.Axis) { a.Min, a.Max = drawableRange(a.Min, a.Max) }

// FontFamily is the typeface of plot text: Liberation Sans, which
// gonum/plot embeds (its default is Liberation Serif). It has the metrics
// of Arial and Helvetica, so the report's style sheet names it first and
// falls back to those.
const FontFamily = "Liberation Sans"

// plotFont is FontFamily at size pt, as gonum/plot names it.
func plotFont(pt float64) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: vg.Points(pt)}
}

// newPlot makes a plot with a title, axis labels and a light grid.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Title.TextStyle.Font = plotFont(14)
	p.X.Label.TextStyle.Font = plotFont(12)
	p.Y.Label.TextStyle.Font = plotFont(12)
	p.X.Tick.Label.Font = plotFont(10)
	p.Y.Tick.Label.Font = plotFont(10)
	p.Legend.TextStyle.Font = plotFont(11)
	p.Title.Padding = vg.Points(6)
	p.Legend.Padding = vg.Points(3)
	g := plotter.NewGrid()
	g.Horizontal.Color = color.Gray{220}
	g.Vertical.Color = color.Gray{220}
	p.Add(g)
	return p
}

// render draws p onto a white w x h pixel image with a small margin. The
// legend, if p.Legend has entries, goes to the right of the plot area, top
// aligned with it, so it never hides data.
func render(p *plot.Plot, w, h int) (image.Image, error) {
	if w <= 0 {
		w = DefaultPlotWidth
	}
	if h <= 0 {
		h = DefaultPlotHeight
	}
	if w < 100 || h < 80 || w > 10000 || h > 10000 {
		return nil, fmt.Errorf("plot size %dx%d pixels: want between 100x80 and 10000x10000", w, h)
	}
	fitAxis(&p.X)
	fitAxis(&p.Y)
	// The canvas fills its image with white (the default background).
	c := vgimg.NewWith(vgimg.UseImage(image.NewRGBA(image.Rect(0, 0, w, h))), vgimg.UseDPI(plotDPI))
	m := vg.Points(8)
	dc := draw.Crop(draw.New(c), m, -m, m, -m)
	if err := drawPlot(p, dc); err != nil {
		return nil, err
	}
	return c.Image(), nil
}

// drawPlot draws p onto dc. gonum/plot panics on ranges it cannot place
// ticks on; drawableRange keeps those out, and a panic that still happens
// is returned as an error, so that a plot never takes a run down.
func drawPlot(p *plot.Plot, dc draw.Canvas) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plot %q: gonum/plot failed: %v", p.Title.Text, r)
		}
	}()
	leg := p.Legend
	r := leg.Rectangle(dc)
	if lw := r.Max.X - r.Min.X; lw > 0 {
		p.Legend = plot.NewLegend() // drawn separately below
		gap := vg.Points(10)
		pc := draw.Crop(dc, 0, -(lw + gap), 0, 0)
		wrapLabels(p, pc.Max.X-pc.Min.X, pc.Max.Y-pc.Min.Y)
		p.Draw(pc)
		leg.Top, leg.Left = true, true
		if p.Title.Text != "" {
			leg.YOffs = -(p.Title.TextStyle.Height(p.Title.Text) + p.Title.Padding)
		}
		leg.Draw(draw.Crop(dc, dc.Max.X-dc.Min.X-lw, 0, 0, 0))
		p.Legend = leg
	} else {
		wrapLabels(p, dc.Max.X-dc.Min.X, dc.Max.Y-dc.Min.Y)
		p.Draw(dc)
	}
	return nil
}

// yAxisWidth is about the width of a vertical axis with its tick labels
// and label, which the horizontal axis label is centred beside; xAxisHeight
// likewise for the horizontal axis (with a label of up to two lines).
const (
	yAxisWidth  = 60 // points
	xAxisHeight = 60
)

// wrapLabels breaks the title and the axis labels into lines that fit a
// plot of width x height (gonum/plot centres them and lets the ends run
// off the image).
func wrapLabels(p *plot.Plot, width, height vg.Length) {
	p.Title.Text = wrapText(p.Title.TextStyle, p.Title.Text, width)
	p.X.Label.Text = wrapText(p.X.Label.TextStyle, p.X.Label.Text, width-vg.Points(yAxisWidth))
	if p.Title.Text != "" {
		height -= p.Title.TextStyle.Height(p.Title.Text) + p.Title.Padding
	}
	p.Y.Label.Text = wrapText(p.Y.Label.TextStyle, p.Y.Label.Text, height-vg.Points(xAxisHeight))
}

// wrapText breaks s at spaces into lines no wider than width in style sty
// where possible (a word wider than width gets a line of its own).
func wrapText(sty text.Style, s string, width vg.Length) string {
	if s == "" || sty.Width(s) <= width {
		return s
	}
	words := strings.Fields(s)
	lines := []string{words[0]}
	for _, w := range words[1:] {
		if cur := lines[len(lines)-1] + " " + w; sty.Width(cur) <= width {
			lines[len(lines)-1] = cur
		} else {
			lines = append(lines, w)
		}
	}
	return strings.Join(lines, "\n")
}

func encode(img image.Image, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return EncodePNG(img)
}

func write(path string, b []byte, err error) error {
	if err != nil {
		return fmt.Errorf("plotting %s: %w", path, err)
	}
	return checkpoint.AtomicWriteFile(path, b, 0o644)
}

// Series is one named curve of a line plot.
type Series struct {
	Name string
	X, Y []float64
	// Envelope draws the series as a wide translucent gray band under the
	// other series, its points as black rings over them: for a series the
	// others touch or coincide with, such as the worst case over several
	// attacks (at every eps it equals the strongest attack).
	Envelope bool
}

// FewPoints is the most points a series can have and still be drawn with
// markers when a plot asks for none (LinePlot.NoPoints).
const FewPoints = 30

// LinePlot draws several named series as lines with point markers, e.g.
// accuracy against eps, loss curves, or attention IoU per attack step.
//
// Series with markers may coincide (several attacks that all leave 0%
// accuracy, every curve's clean accuracy at eps 0), so each stays visible
// under the ones drawn after it: series k gets marker shape k mod 4, a
// marker and a line narrower than those of series k-1 (coinciding points
// show nested markers, coinciding lines nested stripes) and dash pattern
// k mod 4 (solid, dashed, dotted, dash-dot). Dense series drawn without
// markers keep solid lines of one width.
type LinePlot struct {
	Title, XLabel, YLabel string
	Series                []Series
	// YMin and YMax fix the vertical range when YMin < YMax; otherwise it
	// follows the data.
	YMin, YMax float64
	// Width and Height in pixels; zero means DefaultPlotWidth x
	// DefaultPlotHeight.
	Width, Height int
	// NoPoints hides the point markers of series with more than FewPoints
	// points (a loss per step, say); series with fewer keep theirs, as a
	// lone point (one held-out evaluation) has no line to show it.
	NoPoints bool
}

// Line styles of the k-th series with markers (see LinePlot).
var (
	dashes = [][]vg.Length{nil, {vg.Points(7), vg.Points(3)}, {vg.Points(1.5), vg.Points(2)},
		{vg.Points(8), vg.Points(2.5), vg.Points(1.5), vg.Points(2.5)}}
	envelopeColor = color.NRGBA{0, 0, 0, 56}
)

func markerRadius(k int) vg.Length { return vg.Points(max(5.2-0.9*float64(k), 1.6)) }
func lineWidth(k int) vg.Length    { return vg.Points(max(3.2-0.6*float64(k), 1)) }

// Image draws the plot. Points whose X or Y is NaN or infinite are
// dropped and values beyond ±AxisLimit are drawn at ±AxisLimit; a series
// whose X and Y differ in length is an error, as is a plot with no finite
// point at all.
func (lp LinePlot) Image() (image.Image, error) {
	p := newPlot(lp.Title, lp.XLabel, lp.YLabel)
	type prepared struct {
		s   Series
		xys plotter.XYs
	}
	var ps []prepared
	for k, s := range lp.Series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("line plot %q: series %d (%q) has %d x values and %d y values", lp.Title, k, s.Name, len(s.X), len(s.Y))
		}
		var xys plotter.XYs
		for i := range s.X {
			if finite(s.X[i]) && finite(s.Y[i]) {
				xys = append(xys, plotter.XY{X: clampAxis(s.X[i]), Y: clampAxis(s.Y[i])})
			}
		}
		ps = append(ps, prepared{s, xys})
	}
	total := 0
	// Drawn in three layers: envelope bands, the series, envelope rings.
	var bands, lines, rings []plot.Plotter
	styled := 0 // series drawn with markers so far
	for k, pr := range ps {
		s, xys := pr.s, pr.xys
		if len(xys) == 0 {
			continue
		}
		total += len(xys)
		wrap := func(err error) error { return fmt.Errorf("line plot %q: series %q: %w", lp.Title, s.Name, err) }
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, wrap(err)
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, wrap(err)
		}
		thumbs := []plot.Thumbnailer{l}
		switch {
		case s.Envelope:
			l.Color, l.Width = envelopeColor, vg.Points(10)
			sc.Color, sc.Radius, sc.Shape = Black, vg.Points(6.5), ringGlyph{vg.Points(1.3)}
			bands, rings = append(bands, l), append(rings, sc)
			thumbs = append(thumbs, sc)
		case lp.NoPoints && len(xys) > FewPoints:
			l.Color, l.Width = paletteColor(k), vg.Points(2)
			lines = append(lines, l)
		default:
			col := paletteColor(k)
			l.Color, l.Width, l.Dashes = col, lineWidth(styled), dashes[styled%len(dashes)]
			sc.Color, sc.Radius, sc.Shape = col, markerRadius(styled), markerShape(styled)
			lines = append(lines, l, sc)
			thumbs = append(thumbs, sc)
			styled++
		}
		if s.Name != "" {
			p.Legend.Add(s.Name, thumbs...)
		}
	}
	if total == 0 {
		return nil, fmt.Errorf("line plot %q: no finite points to draw", lp.Title)
	}
	p.Add(bands...)
	p.Add(lines...)
	p.Add(rings...)
	if lp.YMin < lp.YMax && finite(lp.YMin) && finite(lp.YMax) {
		p.Y.Min, p.Y.Max = lp.YMin, lp.YMax
	}
	return render(p, lp.Width, lp.Height)
}

// ringGlyph is a hollow circle glyph with a line of the given width
// (draw.RingGlyph's is 0.5 pt).
type ringGlyph struct{ width vg.Length }

func (r ringGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: r.width})
	var p vg.Path
	p.Move(vg.Point{X: pt.X + sty.Radius, Y: pt.Y})
	p.Arc(pt, sty.Radius, 0, 2*math.Pi)
	p.Close()
	c.Stroke(p)
}

// markerShape is the marker of the k-th series with markers: a filled
// circle, square or triangle, then a hollow square.
func markerShape(k int) draw.GlyphDrawer {
	switch k % 4 {
	case 1:
		return draw.BoxGlyph{}
	case 2:
		return draw.PyramidGlyph{}
	case 3:
		return draw.SquareGlyph{}
	}
	return draw.CircleGlyph{}
}

// PNG draws the plot and encodes it as PNG.
func (lp LinePlot) PNG() ([]byte, error) { return encode(lp.Image()) }

// WritePNG draws the plot into the PNG file path (atomically).
func (lp LinePlot) WritePNG(path string) error { b, err := lp.PNG(); return write(path, b, err) }

// Group is a named set of values, e.g. the coverage of attacked images.
type Group struct {
	Name   string
	Values []float64
}

// Histogram overlays the histograms of several groups on common bins,
// e.g. the coverage of images the attack broke against those it did not.
type Histogram struct {
	Title, XLabel string
	Groups        []Group
	// Bins is the number of equal-width bins; zero means 20.
	Bins int
	// Min and Max fix the binned range when Min < Max (values outside are
	// left out); otherwise it spans the data.
	Min, Max float64
	// Counts plots raw counts; by default each bar is the share of its
	// group, so groups of different sizes compare directly.
	Counts        bool
	Width, Height int
}

// Image draws the histogram. NaN and infinite values are skipped; a plot
// with no finite value is an error.
func (hp Histogram) Image() (image.Image, error) {
	bins := hp.Bins
	if bins <= 0 {
		bins = 20
	}
	if bins > 1000 {
		return nil, fmt.Errorf("histogram %q: %d bins, want at most 1000", hp.Title, bins)
	}
	lo, hi := hp.Min, hp.Max
	fixed := lo < hi && finite(lo) && finite(hi)
	if !fixed {
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, g := range hp.Groups {
			for _, v := range g.Values {
				if finite(v) {
					lo, hi = min(lo, v), max(hi, v)
				}
			}
		}
		if math.IsInf(lo, 1) {
			return nil, fmt.Errorf("histogram %q: no finite values to draw", hp.Title)
		}
		if lo == hi {
			lo, hi = lo-0.5, hi+0.5
		}
	}
	lo, hi = drawableRange(lo, hi)
	ylabel := "share of group"
	if hp.Counts {
		ylabel = "count"
	}
	p := newPlot(hp.Title, hp.XLabel, ylabel)
	width := (hi - lo) / float64(bins)
	for k, g := range hp.Groups {
		h := &plotter.Histogram{Bins: make([]plotter.HistogramBin, bins), Width: width}
		for i := range h.Bins {
			h.Bins[i].Min = lo + float64(i)*width
			h.Bins[i].Max = lo + float64(i+1)*width
		}
		n := 0
		for _, v := range g.Values {
			if !finite(v) {
				continue
			}
			if !fixed {
				v = clampAxis(v) // the range spans the data
			}
			if v < lo || v > hi {
				continue
			}
			i := max(0, min(int((v-lo)/width), bins-1))
			h.Bins[i].Weight++
			n++
		}
		if !hp.Counts && n > 0 {
			for i := range h.Bins {
				h.Bins[i].Weight /= float64(n)
			}
		}
		col := paletteColor(k)
		fill := col
		fill.A = 110
		h.FillColor = color.NRGBA{fill.R, fill.G, fill.B, fill.A}
		h.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(1.5)}
		p.Add(h)
		if g.Name != "" {
			p.Legend.Add(fmt.Sprintf("%s (n=%d)", g.Name, n), h)
		}
	}
	p.X.Min, p.X.Max = lo, hi
	p.Y.Min = 0
	return render(p, hp.Width, hp.Height)
}

// PNG draws the histogram and encodes it as PNG.
func (hp Histogram) PNG() ([]byte, error) { return encode(hp.Image()) }

// WritePNG draws the histogram into the PNG file path (atomically).
func (hp Histogram) WritePNG(path string) error { b, err := hp.PNG(); return write(path, b, err) }

// Bars is one named set of bars, one per category, with an optional
// interval per bar given by its absolute bounds (e.g. a 95% bootstrap
// confidence interval): Lo[i] <= Values[i] <= Hi[i]. Lo and Hi may be nil.
type Bars struct {
	Name           string
	Values, Lo, Hi []float64
}

// BarChart draws grouped bars with error bars, e.g. the attack success
// rate by completeness bin, one group of bars per model.
type BarChart struct {
	Title, XLabel, YLabel string
	Categories            []string
	Groups                []Bars
	// YMin and YMax fix the vertical range when YMin < YMax.
	YMin, YMax    float64
	Width, Height int
}

// errorPoints feeds plotter.NewYErrorBars.
type errorPoints struct {
	plotter.XYs
	plotter.YErrors
}

// Image draws the chart. A NaN value (e.g. an empty bin) draws no bar and
// no error bar; lengths that disagree with the categories are an error.
func (bc BarChart) Image() (image.Image, error) {
	n := len(bc.Categories)
	if n == 0 || len(bc.Groups) == 0 {
		return nil, errors.New("bar chart " + fmt.Sprintf("%q", bc.Title) + ": no categories or no bars")
	}
	p := newPlot(bc.Title, bc.XLabel, bc.YLabel)
	// Legend entries first: their width decides how wide the bars can be.
	for k, g := range bc.Groups {
		if g.Name != "" {
			p.Legend.Add(g.Name, legendSwatch(paletteColor(k)))
		}
	}
	// The bars of one category fill 80% of its slot; the data area is
	// estimated as the plot width less the legend and about 80 pixels of
	// axis, labels and margins.
	w := DefaultPlotWidth
	if bc.Width > 0 {
		w = bc.Width
	}
	lr := p.Legend.Rectangle(draw.Canvas{})
	areaPt := vg.Length(max(float64(w)-80, 20))*vg.Inch/plotDPI - (lr.Max.X - lr.Min.X)
	slot := max(areaPt, vg.Points(20)) / vg.Length(n)
	barW := slot * 0.8 / vg.Length(len(bc.Groups))
	for k, g := range bc.Groups {
		if len(g.Values) != n || (g.Lo != nil && len(g.Lo) != n) || (g.Hi != nil && len(g.Hi) != n) {
			return nil, fmt.Errorf("bar chart %q: group %q has %d values, %d lower and %d upper bounds for %d categories",
				bc.Title, g.Name, len(g.Values), len(g.Lo), len(g.Hi), n)
		}
		vals := make(plotter.Values, n)
		var pts errorPoints
		for i, v := range g.Values {
			if !finite(v) {
				continue
			}
			lo, hi := v, v
			if g.Lo != nil && finite(g.Lo[i]) {
				lo = g.Lo[i]
			}
			if g.Hi != nil && finite(g.Hi[i]) {
				hi = g.Hi[i]
			}
			if lo > v || hi < v {
				return nil, fmt.Errorf("bar chart %q: group %q, category %q: interval [%g, %g] does not contain the value %g",
					bc.Title, g.Name, bc.Categories[i], lo, hi, v)
			}
			v, lo, hi = clampAxis(v), clampAxis(lo), clampAxis(hi)
			vals[i] = v
			if lo < v || hi > v {
				pts.XYs = append(pts.XYs, plotter.XY{X: float64(i), Y: v})
				pts.YErrors = append(pts.YErrors, struct{ Low, High float64 }{v - lo, hi - v})
			}
		}
		b, err := plotter.NewBarChart(vals, barW)
		if err != nil {
			return nil, fmt.Errorf("bar chart %q: group %q: %w", bc.Title, g.Name, err)
		}
		col := paletteColor(k)
		b.Color = col
		b.LineStyle.Width = 0
		b.Offset = barW * (vg.Length(k) - vg.Length(len(bc.Groups)-1)/2)
		p.Add(b)
		if len(pts.XYs) > 0 {
			eb, err := plotter.NewYErrorBars(pts)
			if err != nil {
				return nil, fmt.Errorf("bar chart %q: group %q: %w", bc.Title, g.Name, err)
			}
			eb.LineStyle.Width = vg.Points(1.2)
			eb.CapWidth = barW * 0.4
			// Shift the error bars onto their bars.
			p.Add(&offsetErrorBars{eb, b.Offset})
		}
	}
	p.NominalX(bc.Categories...)
	if bc.YMin < bc.YMax && finite(bc.YMin) && finite(bc.YMax) {
		p.Y.Min, p.Y.Max = bc.YMin, bc.YMax
	}
	return render(p, bc.Width, bc.Height)
}

// legendSwatch is a filled square for a legend entry.
type legendSwatch color.RGBA

func (s legendSwatch) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	h := r.Max.Y - r.Min.Y
	side := min(h, r.Max.X-r.Min.X)
	x0 := r.Min.X + (r.Max.X-r.Min.X-side)/2
	c.FillPolygon(color.RGBA(s), []vg.Point{{X: x0, Y: r.Min.Y}, {X: x0 + side, Y: r.Min.Y},
		{X: x0 + side, Y: r.Min.Y + side}, {X: x0, Y: r.Min.Y + side}})
}

// offsetErrorBars draws error bars shifted horizontally by a fixed length,
// to sit on grouped bars.
type offsetErrorBars struct {
	*plotter.YErrorBars
	off vg.Length
}

func (o *offsetErrorBars) Plot(c draw.Canvas, p *plot.Plot) {
	c.Rectangle.Min.X += o.off
	c.Rectangle.Max.X += o.off
	o.YErrorBars.Plot(c, p)
}

// PNG draws the chart and encodes it as PNG.
func (bc BarChart) PNG() ([]byte, error) { return encode(bc.Image()) }

// WritePNG draws the chart into the PNG file path (atomically).
func (bc BarChart) WritePNG(path string) error { b, err := bc.PNG(); return write(path, b, err) }
