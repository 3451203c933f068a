package attention

import "fmt"

// DefaultTargets returns the class each map should explain: labels[i] (the
// true class) where it is known, else pred[i] (the model's prediction).
// labels may be nil (no labels known) or hold -1 for unknown entries;
// otherwise it must have one entry per prediction.
func DefaultTargets(labels, pred []int) ([]int, error) {
	if labels != nil && len(labels) != len(pred) {
		return nil, fmt.Errorf("attention: %d labels for %d images", len(labels), len(pred))
	}
	t := make([]int, len(pred))
	for i := range pred {
		t[i] = pred[i]
		if labels != nil && labels[i] >= 0 {
			t[i] = labels[i]
		}
	}
	return t, nil
}
