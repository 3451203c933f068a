package lime

import (
	"errors"
	"fmt"
	"math"
)

// Pick is the result of [SubmodularPick].
type Pick struct {
	// Indices of the chosen explanations, in the order they were picked.
	Indices []int
	// Features are the feature keys over all explanations (Name, or "#j"
	// for unnamed feature j), in order of first appearance, and Importance
	// their global importance sqrt(sum over explanations of |weight|).
	Features   []string
	Importance []float64
	// Coverage[i] is the total importance of the features covered by the
	// first i+1 picked explanations.
	Coverage []float64
}

func featureKey(f FeatureWeight) string {
	if f.Name != "" {
		return f.Name
	}
	return fmt.Sprintf("#%d", f.Feature)
}

// SubmodularPick chooses up to budget explanations that together cover the
// globally important features (SP-LIME, Ribeiro et al. 2016). Features are
// matched across explanations by name. A feature's importance is the square
// root of its summed |weight| over all explanations; the coverage of a set
// of explanations is the total importance of the features with a non-zero
// weight in at least one of them. Explanations are added greedily, each
// time the one that raises coverage most (the first on ties). A budget
// larger than the number of explanations picks them all.
func SubmodularPick(exps [][]FeatureWeight, budget int) (*Pick, error) {
	if len(exps) == 0 {
		return nil, errors.New("lime: submodular pick over no explanations")
	}
	if budget < 1 {
		return nil, fmt.Errorf("lime: submodular pick budget %d, want >= 1", budget)
	}
	idx := map[string]int{}
	res := &Pick{}
	for _, e := range exps {
		for _, f := range e {
			if math.IsNaN(f.Weight) || math.IsInf(f.Weight, 0) {
				return nil, fmt.Errorf("lime: feature %q has weight %v", featureKey(f), f.Weight)
			}
			k := featureKey(f)
			if _, ok := idx[k]; !ok {
				idx[k] = len(res.Features)
				res.Features = append(res.Features, k)
			}
		}
	}
	m := len(res.Features)
	// covers[i][j]: explanation i has a non-zero weight on feature j.
	covers := make([][]bool, len(exps))
	imp := make([]float64, m)
	for i, e := range exps {
		covers[i] = make([]bool, m)
		for _, f := range e {
			j := idx[featureKey(f)]
			imp[j] += math.Abs(f.Weight)
			if f.Weight != 0 {
				covers[i][j] = true
			}
		}
	}
	for j := range imp {
		imp[j] = math.Sqrt(imp[j])
	}
	res.Importance = imp
	covered := make([]bool, m)
	chosen := make([]bool, len(exps))
	total := 0.0
	for len(res.Indices) < min(budget, len(exps)) {
		best, bestGain := -1, -1.0
		for i := range exps {
			if chosen[i] {
				continue
			}
			gain := 0.0
			for j, c := range covers[i] {
				if c && !covered[j] {
					gain += imp[j]
				}
			}
			if gain > bestGain {
				best, bestGain = i, gain
			}
		}
		chosen[best] = true
		for j, c := range covers[best] {
			covered[j] = covered[j] || c
		}
		total += bestGain
		res.Indices = append(res.Indices, best)
		res.Coverage = append(res.Coverage, total)
	}
	return res, nil
}
