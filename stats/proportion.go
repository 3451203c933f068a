package stats

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"
)

// Wilson returns the proportion successes/n with its Wilson score confidence interval at the
// given level (e.g. 0.95):
//
//	(p + z^2/(2n) ± z*sqrt(p(1-p)/n + z^2/(4n^2))) / (1 + z^2/n),  z = the (1+level)/2 normal quantile.
//
// Unlike the normal (Wald) interval it stays inside [0, 1] and is sensible for 0 or n successes.
func Wilson(successes, n int, level float64) (CI, error) {
	if n <= 0 {
		return CI{}, fmt.Errorf("Wilson interval: %d trials, need at least 1", n)
	}
	if successes < 0 || successes > n {
		return CI{}, fmt.Errorf("Wilson interval: %d successes out of %d trials", successes, n)
	}
	if !(level > 0 && level < 1) {
		return CI{}, fmt.Errorf("Wilson interval: confidence level %v, want a value in (0, 1)", level)
	}
	z := normalQuantile((1 + level) / 2)
	fn := float64(n)
	p := float64(successes) / fn
	z2 := z * z
	den := 1 + z2/fn
	center := (p + z2/(2*fn)) / den
	half := z * math.Sqrt(p*(1-p)/fn+z2/(4*fn*fn)) / den
	lo, hi := math.Max(0, center-half), math.Min(1, center+half)
	if successes == 0 {
		lo = 0
	}
	if successes == n {
		hi = 1
	}
	return CI{Estimate: p, Lo: lo, Hi: hi, Level: level}, nil
}

// Bin holds the outcomes whose predictor value falls in [Lo, Hi) (the last bin also includes
// Hi).
type Bin struct {
	Lo, Hi    float64
	Count     int     // values in the bin
	Successes int     // of which successes
	Rate      float64 // Successes/Count; NaN for an empty bin
	// RateLo and RateHi are the Wilson interval of Rate; 0 and 1 for an empty bin.
	RateLo, RateHi float64
	MeanX          float64 // mean predictor value in the bin; NaN for an empty bin
}

// BinMethod chooses bin edges.
type BinMethod int

const (
	// EqualWidth splits [min(x), max(x)] into bins of equal width. (Use [BinEdges] for a fixed
	// range such as [0, 1].)
	EqualWidth BinMethod = iota
	// EqualCount puts the edges at quantiles of x so the bins hold about equally many values.
	// Edges that coincide because of tied values are merged, so there may be fewer bins.
	EqualCount
)

// BinRates groups binary outcomes by their predictor x (e.g. attack success by attention
// completeness) into nbins bins chosen by method, and returns each bin's count, successes,
// success rate and its Wilson interval at the given level.
func BinRates(x []float64, success []bool, nbins int, method BinMethod, level float64) ([]Bin, error) {
	if len(x) != len(success) {
		return nil, fmt.Errorf("binning: %d values but %d outcomes", len(x), len(success))
	}
	if err := checkSample("binning: x", x); err != nil {
		return nil, err
	}
	if nbins < 1 {
		return nil, fmt.Errorf("binning: %d bins, need at least 1", nbins)
	}
	lo, hi := slices.Min(x), slices.Max(x)
	var edges []float64
	switch method {
	case EqualWidth:
		for i := 0; i <= nbins; i++ {
			e := lo + (hi-lo)*float64(i)/float64(nbins)
			if i == nbins {
				e = hi
			}
			if len(edges) == 0 || e > edges[len(edges)-1] { // rounding can merge edges
				edges = append(edges, e)
			}
		}
	case EqualCount:
		s, _ := sortedCopy(x)
		for i := 0; i <= nbins; i++ {
			e := quantileSorted(s, float64(i)/float64(nbins))
			if len(edges) == 0 || e > edges[len(edges)-1] {
				edges = append(edges, e)
			}
		}
	default:
		return nil, fmt.Errorf("binning: unknown method %d", method)
	}
	if lo == hi {
		edges = []float64{lo, hi} // one bin holding everything
	}
	return BinEdges(x, success, edges, level)
}

// BinEdges is like [BinRates] with given bin edges, which must be increasing (a single bin may
// have equal edges); bin i holds edges[i] <= x < edges[i+1], the last bin also x = edges[last].
// Every x must lie within [edges[0], edges[last]].
func BinEdges(x []float64, success []bool, edges []float64, level float64) ([]Bin, error) {
	if len(x) != len(success) {
		return nil, fmt.Errorf("binning: %d values but %d outcomes", len(x), len(success))
	}
	if err := checkSample("binning: x", x); err != nil {
		return nil, err
	}
	if len(edges) < 2 {
		return nil, fmt.Errorf("binning: %d edges, need at least 2", len(edges))
	}
	for i, e := range edges {
		if math.IsNaN(e) || math.IsInf(e, 0) {
			return nil, fmt.Errorf("binning: edge %d is %v", i, e)
		}
		if i > 0 && !(e > edges[i-1]) && !(len(edges) == 2 && e == edges[0]) {
			return nil, fmt.Errorf("binning: edges must increase, but edge %d (%v) <= edge %d (%v)", i, e, i-1, edges[i-1])
		}
	}
	if !(level > 0 && level < 1) {
		return nil, fmt.Errorf("binning: confidence level %v, want a value in (0, 1)", level)
	}
	nb := len(edges) - 1
	bins := make([]Bin, nb)
	sums := make([]float64, nb)
	for i := range bins {
		bins[i].Lo, bins[i].Hi = edges[i], edges[i+1]
	}
	for i, v := range x {
		if v < edges[0] || v > edges[nb] {
			return nil, fmt.Errorf("binning: x[%d] = %v is outside the edges [%v, %v]", i, v, edges[0], edges[nb])
		}
		// The last edge <= v, clamped to the last bin.
		b, found := slices.BinarySearch(edges, v)
		if !found {
			b--
		}
		b = min(b, nb-1)
		bins[b].Count++
		sums[b] += v
		if success[i] {
			bins[b].Successes++
		}
	}
	for i := range bins {
		b := &bins[i]
		if b.Count == 0 {
			b.Rate, b.RateLo, b.RateHi, b.MeanX = math.NaN(), 0, 1, math.NaN()
			continue
		}
		ci, err := Wilson(b.Successes, b.Count, level)
		if err != nil {
			return nil, err
		}
		b.Rate, b.RateLo, b.RateHi = ci.Estimate, ci.Lo, ci.Hi
		b.MeanX = sums[i] / float64(b.Count)
	}
	return bins, nil
}

// BinomialUpperP is the one-sided p-value of k or more successes in n
// trials when the success probability is p0: P(X >= k) for X ~ Bin(n, p0),
// the exact binomial test of H0: p <= p0 against p > p0 (SciPy's
// binomtest(k, n, p0, alternative="greater")).
func BinomialUpperP(k, n int, p0 float64) (float64, error) {
	if n < 0 || k < 0 || k > n {
		return 0, fmt.Errorf("binomial test: %d successes in %d trials", k, n)
	}
	if !(p0 >= 0 && p0 <= 1) {
		return 0, fmt.Errorf("binomial test: probability %g outside [0,1]", p0)
	}
	switch {
	case k == 0:
		return 1, nil
	case p0 == 0:
		return 0, nil
	case p0 == 1:
		return 1, nil
	}
	// P(X >= k) = I_{p0}(k, n-k+1)
	return mathext.RegIncBeta(float64(k), float64(n-k+1), p0), nil
}
