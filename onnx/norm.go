package onnx

// InputNormalization returns the per-channel mean and std that map pixels
// in [0,1] to the graph's input, (x - mean)/std, combining the metadata's
// Range and Mean/Std: the graph sees (lo + x*(hi-lo) - Mean)/Std.
func (g *Graph) InputNormalization() (mean, std []float64) {
	m := g.Meta()
	lo, hi := 0.0, 1.0
	if len(m.Range) == 2 {
		lo, hi = m.Range[0], m.Range[1]
	}
	c := 1
	if len(m.Mean) > c {
		c = len(m.Mean)
	}
	if len(m.Std) > c {
		c = len(m.Std)
	}
	mean, std = make([]float64, c), make([]float64, c)
	for i := 0; i < c; i++ {
		mu, sd := 0.0, 1.0
		if len(m.Mean) == 1 {
			mu = m.Mean[0]
		} else if i < len(m.Mean) {
			mu = m.Mean[i]
		}
		if len(m.Std) == 1 {
			sd = m.Std[0]
		} else if i < len(m.Std) {
			sd = m.Std[i]
		}
		mean[i] = (mu - lo) / (hi - lo)
		std[i] = sd / (hi - lo)
	}
	return mean, std
}
