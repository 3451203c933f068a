package stats

import (
	"math"
	"slices"
)

// Mean returns the arithmetic mean of x, or NaN if x is empty.
func Mean(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	var s float64
	for _, v := range x {
		s += v
	}
	m := s / float64(len(x))
	// One correction pass removes most of the rounding error of the naive sum.
	var c float64
	for _, v := range x {
		c += v - m
	}
	return m + c/float64(len(x))
}

// Variance returns the sample variance of x (divisor n-1), or NaN if x has fewer than two
// values.
func Variance(x []float64) float64 {
	if len(x) < 2 {
		return math.NaN()
	}
	m := Mean(x)
	var ss, c float64
	for _, v := range x {
		d := v - m
		ss += d * d
		c += d
	}
	n := float64(len(x))
	return (ss - c*c/n) / (n - 1)
}

// StdDev returns the sample standard deviation of x (divisor n-1), or NaN if x has fewer than
// two values.
func StdDev(x []float64) float64 { return math.Sqrt(Variance(x)) }

// Median returns the median of x (the mean of the two middle values for even n), or NaN if x
// is empty or contains NaN.
func Median(x []float64) float64 { return Quantile(x, 0.5) }

// Quantile returns the p-quantile of x by linear interpolation between order statistics
// (Hyndman and Fan's type 7, the default of R, NumPy and spreadsheets): with the values sorted
// as v[0..n-1] and h = (n-1)p, it is v[floor(h)] + (h-floor(h))(v[floor(h)+1]-v[floor(h)]).
// It returns NaN if x is empty, contains NaN, or p is outside [0, 1].
func Quantile(x []float64, p float64) float64 {
	return Quantiles(x, p)[0]
}

// Quantiles returns the quantiles of x for each p (see [Quantile]), sorting x only once.
func Quantiles(x []float64, ps ...float64) []float64 {
	out := make([]float64, len(ps))
	s, ok := sortedCopy(x)
	for i, p := range ps {
		if !ok || !(p >= 0 && p <= 1) {
			out[i] = math.NaN()
			continue
		}
		out[i] = quantileSorted(s, p)
	}
	return out
}

// sortedCopy returns x sorted, and false if x is empty or holds NaN.
func sortedCopy(x []float64) ([]float64, bool) {
	if len(x) == 0 || hasNaN(x) {
		return nil, false
	}
	s := slices.Clone(x)
	slices.Sort(s)
	return s, true
}

func hasNaN(x []float64) bool {
	for _, v := range x {
		if math.IsNaN(v) {
			return true
		}
	}
	return false
}

// quantileSorted is the type-7 quantile of sorted, non-empty s.
func quantileSorted(s []float64, p float64) float64 {
	h := float64(len(s)-1) * p
	lo := math.Floor(h)
	i := int(lo)
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	frac := h - lo
	if frac == 0 {
		return s[i]
	}
	return s[i] + frac*(s[i+1]-s[i])
}

// Summary describes a sample.
type Summary struct {
	N                        int
	Mean, StdDev             float64
	Min, Q1, Median, Q3, Max float64 // type-7 quantiles (see Quantile)
}

// Describe returns the summary of x. For an empty x all fields but N are NaN; StdDev is NaN
// for a single value.
func Describe(x []float64) Summary {
	q := Quantiles(x, 0, 0.25, 0.5, 0.75, 1)
	return Summary{
		N: len(x), Mean: Mean(x), StdDev: StdDev(x),
		Min: q[0], Q1: q[1], Median: q[2], Q3: q[3], Max: q[4],
	}
}
