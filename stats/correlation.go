package stats

import (
	"fmt"
	"math"
)

// Pearson returns the Pearson correlation of x and y. It is an error if the lengths differ,
// there are fewer than two pairs, a value is not finite, or either variable is constant.
func Pearson(x, y []float64) (float64, error) {
	if err := checkPairs("Pearson", x, y, 2); err != nil {
		return 0, err
	}
	return pearson(x, y)
}

func pearson(x, y []float64) (float64, error) {
	mx, my := Mean(x), Mean(y)
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		which := "x"
		if sxx != 0 {
			which = "y"
		}
		return 0, fmt.Errorf("correlation: %s is constant", which)
	}
	r := sxy / math.Sqrt(sxx*syy)
	return math.Max(-1, math.Min(1, r)), nil
}

func checkPairs(what string, x, y []float64, min int) error {
	if len(x) != len(y) {
		return fmt.Errorf("%s: x has %d values but y has %d", what, len(x), len(y))
	}
	if len(x) < min {
		return fmt.Errorf("%s: %d pairs, need at least %d", what, len(x), min)
	}
	for i := range x {
		if math.IsNaN(x[i]) || math.IsInf(x[i], 0) {
			return fmt.Errorf("%s: x[%d] is %v", what, i, x[i])
		}
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return fmt.Errorf("%s: y[%d] is %v", what, i, y[i])
		}
	}
	return nil
}

// SpearmanResult is a Spearman rank correlation with its two-sided p-value.
type SpearmanResult struct {
	N   int
	Rho float64 // Pearson correlation of the ranks (ties get average ranks)
	// P is the two-sided p-value of rho = 0 from the t approximation
	// t = rho*sqrt((n-2)/(1-rho^2)) with n-2 degrees of freedom (as in SciPy's spearmanr).
	P float64
}

// Spearman returns the Spearman rank correlation of x and y with a two-sided p-value. It needs
// at least 3 pairs, finite values, and neither variable constant.
func Spearman(x, y []float64) (SpearmanResult, error) {
	if err := checkPairs("Spearman", x, y, 3); err != nil {
		return SpearmanResult{}, err
	}
	rx, _ := Ranks(x)
	ry, _ := Ranks(y)
	rho, err := pearson(rx, ry)
	if err != nil {
		return SpearmanResult{}, fmt.Errorf("Spearman: %w", err)
	}
	df := float64(len(x) - 2)
	var p float64
	if math.Abs(rho) < 1 {
		t := rho * math.Sqrt(df/((1+rho)*(1-rho)))
		p = tTwoSided(t, df)
	}
	return SpearmanResult{N: len(x), Rho: rho, P: p}, nil
}
