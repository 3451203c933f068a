package nn

// AttentionLayer returns the model's default attention layer.
func (m *Model) AttentionLayer() string { return m.Spec.Attention }

// InputNormalization returns the per-channel mean and std that map pixels
// in [0,1] to the model's input scale: (x - mean)/std.
func (m *Model) InputNormalization() (mean, std []float64) {
	return m.Spec.InputMean, m.Spec.InputStd
}

// DefaultAttentionLayer returns c's default attention layer when it has
// one (an arp model's Spec.Attention, an imported graph's metadata), else "".
func DefaultAttentionLayer(c Classifier) string {
	if a, ok := c.(interface{ AttentionLayer() string }); ok {
		return a.AttentionLayer()
	}
	return ""
}

// InputNormalization returns how c maps pixels in [0,1] to its input scale,
// (x - mean)/std per channel (one value means all channels), when known.
func InputNormalization(c Classifier) (mean, std []float64, ok bool) {
	if n, ok := c.(interface {
		InputNormalization() ([]float64, []float64)
	}); ok {
		mean, std = n.InputNormalization()
		return mean, std, len(std) > 0
	}
	return nil, nil, false
}
