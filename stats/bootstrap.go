package stats

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// CI is a point estimate with a confidence interval [Lo, Hi] at the given Level (e.g. 0.95).
type CI struct {
	Estimate, Lo, Hi, Level float64
}

func (c CI) String() string {
	return fmt.Sprintf("%.4g [%.4g, %.4g] (%g%% CI)", c.Estimate, c.Lo, c.Hi, 100*c.Level)
}

// Bootstrap computes percentile bootstrap confidence intervals. The zero value is usable:
// 2000 resamples, level 0.95, seed 0. The same settings and data always give the same interval.
type Bootstrap struct {
	Resamples int     // number of resamples; 0 means 2000
	Level     float64 // confidence level in (0, 1); 0 means 0.95
	Seed      uint64  // seed of the resampling generator
}

// DefaultResamples is the number of bootstrap resamples used when Bootstrap.Resamples is 0.
const DefaultResamples = 2000

func (b Bootstrap) settings() (int, float64, error) {
	n, level := b.Resamples, b.Level
	if n == 0 {
		n = DefaultResamples
	}
	if level == 0 {
		level = 0.95
	}
	if n < 10 {
		return 0, 0, fmt.Errorf("bootstrap: %d resamples, want at least 10", n)
	}
	if !(level > 0 && level < 1) {
		return 0, 0, fmt.Errorf("bootstrap: confidence level %v, want a value in (0, 1)", b.Level)
	}
	return n, level, nil
}

func checkSample(name string, x []float64) error {
	if len(x) == 0 {
		return fmt.Errorf("%s is empty", name)
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s[%d] is %v", name, i, v)
		}
	}
	return nil
}

// Mean returns the sample mean of x with a percentile bootstrap confidence interval.
func (b Bootstrap) Mean(x []float64) (CI, error) { return b.CI(x, Mean) }

// Median returns the sample median of x with a percentile bootstrap confidence interval.
func (b Bootstrap) Median(x []float64) (CI, error) { return b.CI(x, Median) }

// CI returns stat(x) with a percentile bootstrap confidence interval: stat is evaluated on
// Resamples samples drawn from x with replacement, and the interval is formed by the
// (1-Level)/2 and (1+Level)/2 quantiles of those values. stat may reorder its argument.
func (b Bootstrap) CI(x []float64, stat func([]float64) float64) (CI, error) {
	n, level, err := b.settings()
	if err != nil {
		return CI{}, err
	}
	if err := checkSample("bootstrap: sample", x); err != nil {
		return CI{}, err
	}
	est := stat(slices.Clone(x))
	r := rand.New(rand.NewPCG(b.Seed, 0x9e3779b97f4a7c15))
	vals := make([]float64, n)
	buf := make([]float64, len(x))
	for i := range vals {
		for j := range buf {
			buf[j] = x[r.IntN(len(x))]
		}
		vals[i] = stat(buf)
		if math.IsNaN(vals[i]) {
			return CI{}, fmt.Errorf("bootstrap: statistic is NaN on resample %d", i)
		}
	}
	return percentileCI(est, vals, level), nil
}

// Diff returns stat(x) - stat(y) with a percentile bootstrap confidence interval, resampling
// the two independent samples separately (e.g. the completeness of attacked versus not attacked
// images).
func (b Bootstrap) Diff(x, y []float64, stat func([]float64) float64) (CI, error) {
	n, level, err := b.settings()
	if err != nil {
		return CI{}, err
	}
	if err := errors.Join(checkSample("bootstrap: first sample", x), checkSample("bootstrap: second sample", y)); err != nil {
		return CI{}, err
	}
	est := stat(slices.Clone(x)) - stat(slices.Clone(y))
	r := rand.New(rand.NewPCG(b.Seed, 0x9e3779b97f4a7c15))
	vals := make([]float64, n)
	bx := make([]float64, len(x))
	by := make([]float64, len(y))
	for i := range vals {
		for j := range bx {
			bx[j] = x[r.IntN(len(x))]
		}
		for j := range by {
			by[j] = y[r.IntN(len(y))]
		}
		vals[i] = stat(bx) - stat(by)
		if math.IsNaN(vals[i]) {
			return CI{}, fmt.Errorf("bootstrap: statistic is NaN on resample %d", i)
		}
	}
	return percentileCI(est, vals, level), nil
}

func percentileCI(est float64, vals []float64, level float64) CI {
	slices.Sort(vals)
	a := (1 - level) / 2
	return CI{Estimate: est, Lo: quantileSorted(vals, a), Hi: quantileSorted(vals, 1-a), Level: level}
}
