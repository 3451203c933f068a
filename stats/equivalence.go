package stats

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mathext"
)

// RankBiserialCI returns the rank-biserial correlation r = 2*P(x > y) - 1
// (ties counting half) of two samples with a confidence interval at level
// from DeLong's variance of P(x > y) (DeLong, DeLong and Clarke-Pearson
// 1988): Var = S10/n1 + S01/n2, with S10 and S01 the sample variances of
// the placement values of x among y and of y among x. The interval is the
// normal one, r ± z*SE, clipped to [-1, 1]; se is the standard error of r.
func RankBiserialCI(x, y []float64, level float64) (ci CI, se float64, err error) {
	if err := errors.Join(checkSample("rank-biserial: first sample", x), checkSample("rank-biserial: second sample", y)); err != nil {
		return CI{}, 0, err
	}
	if !(level > 0 && level < 1) {
		return CI{}, 0, fmt.Errorf("rank-biserial: level %g must be in (0,1)", level)
	}
	n1, n2 := len(x), len(y)
	pooled := append(append(make([]float64, 0, n1+n2), x...), y...)
	r, _ := Ranks(pooled)
	rx, _ := Ranks(x)
	ry, _ := Ranks(y)
	v10 := make([]float64, n1) // P(y < x_i), ties half
	for i := range v10 {
		v10[i] = (r[i] - rx[i]) / float64(n2)
	}
	v01 := make([]float64, n2) // P(x > y_j), ties half
	for j := range v01 {
		v01[j] = 1 - (r[n1+j]-ry[j])/float64(n1)
	}
	auc := Mean(v10)
	variance := 0.0
	if n1 > 1 {
		variance += sampleVariance(v10) / float64(n1)
	}
	if n2 > 1 {
		variance += sampleVariance(v01) / float64(n2)
	}
	se = 2 * math.Sqrt(variance)
	est := 2*auc - 1
	z := normalQuantile(0.5 + level/2)
	return CI{Estimate: est, Lo: math.Max(-1, est-z*se), Hi: math.Min(1, est+z*se), Level: level}, se, nil
}

func sampleVariance(x []float64) float64 {
	m := Mean(x)
	s := 0.0
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return s / float64(len(x)-1)
}

// EquivalenceP is the p-value of the two one-sided tests (TOST) of the
// hypothesis that an effect lies outside (-margin, margin), given its
// estimate and standard error under a normal approximation: the larger of
// P(Z >= (est+margin)/se) and P(Z <= (est-margin)/se) with signs such that
// a small p means the effect is inside the margin. p < alpha is the same as
// the (1-2*alpha) confidence interval lying inside the margin. A zero
// standard error gives 0 when the estimate is inside the margin and 1
// otherwise.
func EquivalenceP(est, se, margin float64) float64 {
	if math.IsNaN(est) || math.IsNaN(se) || !(margin > 0) {
		return math.NaN()
	}
	if se == 0 {
		if math.Abs(est) < margin {
			return 0
		}
		return 1
	}
	lower := normalSF((est + margin) / se) // H0: effect <= -margin
	upper := normalSF((margin - est) / se) // H0: effect >= margin
	return math.Max(lower, upper)
}

// Holm returns Holm's step-down adjustment of p-values for a family of
// tests, in the order given: the i-th smallest p becomes the largest of
// (m-j+1)*p_(j) over j <= i, at most 1. Rejecting where the adjusted p is
// below alpha keeps the family-wise error rate at alpha. NaN p-values are
// not part of the family and stay NaN.
func Holm(p []float64) []float64 {
	type item struct {
		p float64
		i int
	}
	var items []item
	for i, v := range p {
		if !math.IsNaN(v) {
			items = append(items, item{v, i})
		}
	}
	sort.SliceStable(items, func(a, b int) bool { return items[a].p < items[b].p })
	out := make([]float64, len(p))
	for i := range out {
		out[i] = math.NaN()
	}
	m := len(items)
	run := 0.0
	for k, it := range items {
		run = math.Max(run, math.Min(1, float64(m-k)*it.p))
		out[it.i] = run
	}
	return out
}

// TQuantile returns the p-quantile of Student's t distribution with df
// degrees of freedom (df > 0, 0 < p < 1).
func TQuantile(p, df float64) float64 {
	if p == 0.5 {
		return 0
	}
	q := math.Min(p, 1-p)
	// P(|T| >= t) = I_{df/(df+t^2)}(df/2, 1/2) = 2q
	x := mathext.InvRegIncBeta(df/2, 0.5, 2*q)
	t := math.Sqrt(df * (1 - x) / x)
	if p < 0.5 {
		return -t
	}
	return t
}

// MeanCIT returns the mean of x with the Student t interval at level:
// mean ± t_{(1+level)/2, n-1} * s/sqrt(n), the interval of a mean over a
// few independent replicates (e.g. training seeds). It needs two values.
func MeanCIT(x []float64, level float64) (CI, error) {
	if err := checkSample("t interval", x); err != nil {
		return CI{}, err
	}
	if len(x) < 2 {
		return CI{}, fmt.Errorf("t interval: need at least 2 values, have %d", len(x))
	}
	if !(level > 0 && level < 1) {
		return CI{}, fmt.Errorf("t interval: level %g must be in (0,1)", level)
	}
	n := float64(len(x))
	m := Mean(x)
	h := TQuantile(0.5+level/2, n-1) * StdDev(x) / math.Sqrt(n)
	return CI{Estimate: m, Lo: m - h, Hi: m + h, Level: level}, nil
}
