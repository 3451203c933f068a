package eval

import (
	"fmt"
	"github.com/arp-robustness/arp/checkpoint"

	"github.com/arp-robustness/arp/viz"
)

// Plot returns the accuracy-vs-eps curves of norm ("linf" or "l2"): one
// series per attack and the worst case, with the clean accuracy at eps 0.
// The worst case equals the strongest attack at every eps, so it is drawn
// as an envelope (a band under the attacks, rings over their points) and
// each attack keeps its own marker, width and dashes where they coincide.
// ok is false when the report has no threat model of that norm.
func (r *Report) Plot(norm string) (p viz.LinePlot, ok bool) {
	var ts []Threat
	for _, t := range r.Threats {
		if t.Norm == norm {
			ts = append(ts, t)
		}
	}
	if len(ts) == 0 {
		return p, false
	}
	what := "accuracy"
	if r.Mode == "cascade" {
		what = "accuracy after this and earlier attacks"
	}
	p = viz.LinePlot{
		Title:  fmt.Sprintf("%s on %s (%d images, %s)", r.Model, r.Data, r.Images, r.Mode),
		XLabel: fmt.Sprintf("%s eps on the [0,1] pixel scale", normName(norm)),
		YLabel: what,
		YMin:   0, YMax: 1,
	}
	for k, a := range ts[0].Attacks {
		s := viz.Series{Name: a.Spec, X: []float64{0}, Y: []float64{r.Clean.Accuracy}}
		for _, t := range ts {
			s.X = append(s.X, t.Eps)
			s.Y = append(s.Y, t.Attacks[k].Accuracy.Accuracy)
		}
		p.Series = append(p.Series, s)
	}
	worst := viz.Series{Name: "worst case", X: []float64{0}, Y: []float64{r.Clean.Accuracy}, Envelope: true}
	for _, t := range ts {
		worst.X = append(worst.X, t.Eps)
		worst.Y = append(worst.Y, t.Worst.Accuracy)
	}
	p.Series = append(p.Series, worst)
	return p, true
}

// WritePlot writes the accuracy-vs-eps curves as a PNG: the L-inf threat
// models, or the L2 ones when there are no L-inf ones.
func (r *Report) WritePlot(path string) error {
	b, err := r.PlotPNG()
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return checkpoint.AtomicWriteFile(path, b, 0o644)
}

// PlotPNG draws the accuracy-vs-eps plot of WritePlot as PNG bytes.
func (r *Report) PlotPNG() ([]byte, error) {
	p, ok := r.Plot("linf")
	if !ok {
		p, ok = r.Plot("l2")
	}
	if !ok {
		return nil, fmt.Errorf("no results to plot")
	}
	return p.PNG()
}
