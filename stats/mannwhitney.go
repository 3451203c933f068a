package stats

import (
	"errors"
	"fmt"
	"math"
)

// Method selects how a rank test computes its p-value.
type Method int

const (
	// Auto uses the exact distribution when there are no ties and one sample has at most 8
	// values (the rule SciPy uses), as long as n1*n2 <= MaxExactPairs; otherwise Asymptotic.
	Auto Method = iota
	// Exact uses the exact null distribution of U. It requires no ties and n1*n2 <= MaxExactPairs.
	Exact
	// Asymptotic uses the normal approximation with tie and continuity corrections.
	Asymptotic
)

// MaxExactPairs bounds n1*n2 for the exact Mann-Whitney distribution, whose cost grows as
// (n1*n2)^2.
const MaxExactPairs = 20000

// MannWhitneyResult is the outcome of a two-sided Mann-Whitney U (Wilcoxon rank-sum) test of
// whether x and y come from the same distribution.
type MannWhitneyResult struct {
	N1, N2 int
	// U is the statistic of x: the number of pairs (x_i, y_j) with x_i > y_j, plus half the
	// number of tied pairs. U ranges from 0 to N1*N2; N1*N2/2 means no tendency either way.
	U float64
	// Z is the normal-approximation statistic with tie and continuity corrections; it is
	// positive when x tends to be larger than y.
	Z float64
	// P is the two-sided p-value.
	P float64
	// Exact reports whether P comes from the exact null distribution rather than from Z.
	Exact bool
	// CommonLanguage is U/(N1*N2), the probability that a random x exceeds a random y (ties
	// counting half): the common-language effect size, 0.5 for no effect.
	CommonLanguage float64
	// RankBiserial is 2*CommonLanguage - 1, the rank-biserial correlation in [-1, 1]: positive
	// when x tends to be larger.
	RankBiserial float64
}

// MannWhitneyU runs a two-sided Mann-Whitney U test with the [Auto] method.
func MannWhitneyU(x, y []float64) (MannWhitneyResult, error) {
	return MannWhitneyUMethod(x, y, Auto)
}

// MannWhitneyUMethod runs a two-sided Mann-Whitney U test computing the p-value as method says.
// The normal approximation uses
//
//	z = sign(U-m) * max(|U-m| - 1/2, 0) / s,   m = n1*n2/2,
//	s^2 = n1*n2/12 * ((n+1) - sum(t^3-t)/(n(n-1))),
//
// with n = n1+n2 and t the sizes of groups of tied values; P = 2*P(Z >= |z|), at most 1. The
// exact p-value is 2*P(U' <= min(U, n1*n2-U)) under the null, at most 1. These match SciPy's
// mannwhitneyu(x, y, alternative="two-sided"). If every value is tied, P is 1 and Z is 0.
func MannWhitneyUMethod(x, y []float64, method Method) (MannWhitneyResult, error) {
	if err := errors.Join(checkSample("Mann-Whitney: first sample", x), checkSample("Mann-Whitney: second sample", y)); err != nil {
		return MannWhitneyResult{}, err
	}
	n1, n2 := len(x), len(y)
	pooled := make([]float64, 0, n1+n2)
	pooled = append(append(pooled, x...), y...)
	ranks, tie := Ranks(pooled)
	var r1 float64
	for _, r := range ranks[:n1] {
		r1 += r
	}
	f1, f2 := float64(n1), float64(n2)
	u := r1 - f1*(f1+1)/2
	res := MannWhitneyResult{N1: n1, N2: n2, U: u}
	res.CommonLanguage = u / (f1 * f2)
	res.RankBiserial = 2*res.CommonLanguage - 1

	n := f1 + f2
	mu := f1 * f2 / 2
	var variance float64
	if n > 1 {
		variance = f1 * f2 / 12 * ((n + 1) - tie/(n*(n-1)))
	}
	if variance > 0 {
		d := math.Max(math.Abs(u-mu)-0.5, 0)
		res.Z = math.Copysign(d, u-mu) / math.Sqrt(variance)
		if d == 0 {
			res.Z = 0
		}
		res.P = math.Min(1, normalTwoSided(res.Z))
	} else {
		res.P = 1 // all values tied: no evidence either way
	}

	pairs := n1 * n2
	switch method {
	case Auto:
		if tie == 0 && (n1 <= 8 || n2 <= 8) && pairs <= MaxExactPairs {
			method = Exact
		}
	case Exact:
		if tie != 0 {
			return MannWhitneyResult{}, errors.New("Mann-Whitney: the exact method needs samples without tied values")
		}
		if pairs > MaxExactPairs {
			return MannWhitneyResult{}, fmt.Errorf("Mann-Whitney: the exact method is limited to n1*n2 <= %d, have %d*%d", MaxExactPairs, n1, n2)
		}
	case Asymptotic:
	default:
		return MannWhitneyResult{}, fmt.Errorf("Mann-Whitney: unknown method %d", method)
	}
	if method == Exact {
		res.Exact = true
		dist := uDistribution(min(n1, n2), max(n1, n2)) // U's null distribution is symmetric in n1, n2
		k := int(math.Min(u, f1*f2-u))                  // U is an integer without ties
		var tail float64
		for _, p := range dist[:k+1] {
			tail += p
		}
		res.P = math.Min(1, 2*tail)
	}
	return res, nil
}

// uDistribution returns P(U = u) for u = 0..n1*n2 under the null hypothesis, for samples without
// ties. It counts the arrangements with the Gaussian binomial recurrence
// c(k, j) = q^j c(k-1, j) + c(k, j-1), where c(k, j) is the generating polynomial of U for k
// values of x and j of y (the largest value is either an x, above all j values of y, or a y).
func uDistribution(n1, n2 int) []float64 {
	// c[k] holds c(k, j) for the current j, a polynomial of degree k*j.
	c := make([][]float64, n1+1)
	for k := range c {
		c[k] = make([]float64, k*n2+1)
	}
	c[0][0] = 1
	// j = 0: c(k, 0) = 1 for all k (U = 0).
	for k := 1; k <= n1; k++ {
		c[k][0] = 1
	}
	for j := 1; j <= n2; j++ {
		// Going up in k, c[k-1] already holds c(k-1, j) and c[k] still holds c(k, j-1).
		for k := 1; k <= n1; k++ {
			prev := c[k-1]
			cur := c[k]
			deg := (k - 1) * j // degree of c(k-1, j)
			for u := 0; u <= deg; u++ {
				cur[u+j] += prev[u]
			}
		}
	}
	p := c[n1]
	var total float64
	for _, v := range p {
		total += v
	}
	for i := range p {
		p[i] /= total
	}
	return p
}
