package viz

import (
	"math"
	"testing"
)

// plotValues are the values the plot fuzz tests start from: the ranges that
// made gonum/plot panic ("illegal range": a constant series of 1e300) or
// loop forever (a range of ±1e308, whose width overflows), a training loss
// after --lr 1e6, and ordinary ones.
var plotValues = [][3]float64{
	{1, 2, 3},
	{5, 5, 5},
	{1e300, 1e300, 1e300},
	{-1e308, 1e308, 0},
	{math.MaxFloat64, -math.MaxFloat64, math.MaxFloat64},
	{2.3e28, 2.3e28, 1e38},
	{1e-320, 2e-320, 0},
	{1e16, 1e16 + 2, 1e16},
	{math.NaN(), math.Inf(1), 1},
	{math.Inf(-1), math.Inf(1), math.NaN()},
	{-0.0, 0, 1e-300},
}

// drawNoPanic fails the test if draw panics; errors are fine.
func drawNoPanic(t *testing.T, what string, draw func() error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s panicked: %v", what, r)
		}
	}()
	_ = draw()
}

// FuzzPlots draws a line plot, a histogram and a bar chart of arbitrary
// values: none may panic (or hang: a hang fails the test by its timeout);
// a plot with a finite value is drawn.
func FuzzPlots(f *testing.F) {
	for _, v := range plotValues {
		f.Add(v[0], v[1], v[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c float64) {
		var line, hist, bars error
		drawNoPanic(t, "line plot", func() error {
			_, line = LinePlot{Title: "t", Series: []Series{{Name: "s", X: []float64{a, b, c}, Y: []float64{c, a, b}},
				{Name: "one point", X: []float64{b}, Y: []float64{a}}}}.Image()
			return line
		})
		drawNoPanic(t, "line plot with an envelope, without markers", func() error {
			_, err := LinePlot{NoPoints: true, Series: []Series{{Name: "s", X: []float64{a, b, c}, Y: []float64{c, a, b}},
				{Name: "worst", X: []float64{a, b, c}, Y: []float64{c, b, a}, Envelope: true}}}.Image()
			return err
		})
		drawNoPanic(t, "fixed-range line plot", func() error {
			_, err := LinePlot{Series: []Series{{X: []float64{1, 2}, Y: []float64{a, b}}}, YMin: b, YMax: c}.Image()
			return err
		})
		drawNoPanic(t, "histogram", func() error {
			_, hist = Histogram{Title: "h", Groups: []Group{{Name: "g", Values: []float64{a, b, c}}}}.Image()
			return hist
		})
		drawNoPanic(t, "fixed-range histogram", func() error {
			_, err := Histogram{Groups: []Group{{Values: []float64{a, b, c}}}, Min: a, Max: b}.Image()
			return err
		})
		drawNoPanic(t, "bar chart", func() error {
			lo, hi := math.Min(a, b), math.Max(a, b)
			_, bars = BarChart{Categories: []string{"x", "y"}, Groups: []Bars{{Name: "g", Values: []float64{a, c}, Lo: []float64{lo, c}, Hi: []float64{hi, c}}}}.Image()
			return bars
		})
		if finite(a) && finite(b) && line != nil {
			t.Errorf("line plot of finite values %g %g %g: %v", a, b, c, line)
		}
		if (finite(a) || finite(b) || finite(c)) && hist != nil {
			t.Errorf("histogram of %g %g %g: %v", a, b, c, hist)
		}
	})
}
