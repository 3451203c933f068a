package lime

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// Selection chooses which features enter the local linear model.
type Selection int

const (
	// SelectAuto uses forward selection when at most 6 features are asked
	// for and highest weights otherwise (as the Python LIME does).
	SelectAuto Selection = iota
	// SelectForward adds, one at a time, the feature that most improves the
	// weighted R^2 of an unregularised least-squares fit.
	SelectForward
	// SelectLassoPath follows the LARS-lasso path on the kernel-weighted,
	// centred data and keeps the last (least regularised) set with at most
	// the requested number of features.
	SelectLassoPath
	// SelectHighestWeights fits a ridge model (alpha 0.01) on all features and
	// keeps those with the largest |coefficient * value in the first row|.
	SelectHighestWeights
	// SelectNone uses all features.
	SelectNone
)

var selectionNames = []string{"auto", "forward_selection", "lasso_path", "highest_weights", "none"}

func (s Selection) String() string {
	if s >= 0 && int(s) < len(selectionNames) {
		return selectionNames[s]
	}
	return fmt.Sprintf("Selection(%d)", int(s))
}

// ParseSelection parses the Python LIME names "auto", "forward_selection",
// "lasso_path", "highest_weights" and "none" (also "forward" and "lasso").
func ParseSelection(s string) (Selection, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto":
		return SelectAuto, nil
	case "forward_selection", "forward":
		return SelectForward, nil
	case "lasso_path", "lasso":
		return SelectLassoPath, nil
	case "highest_weights":
		return SelectHighestWeights, nil
	case "none":
		return SelectNone, nil
	}
	return 0, fmt.Errorf("lime: unknown feature selection %q (valid: %s)", s, strings.Join(selectionNames, ", "))
}

// Kernel is LIME's exponential kernel sqrt(exp(-d^2/width^2)).
func Kernel(d, width float64) float64 {
	return math.Sqrt(math.Exp(-d * d / (width * width)))
}

// KernelWeights applies [Kernel] to every distance.
func KernelWeights(distances []float64, width float64) []float64 {
	w := make([]float64, len(distances))
	for i, d := range distances {
		w[i] = Kernel(d, width)
	}
	return w
}

// CosineDistance returns 1 - a.b/(|a||b|), clamped to [0,2]. A zero vector has
// distance 1 from everything (as in scikit-learn, which treats its cosine
// similarity as 0). It panics if the lengths differ.
func CosineDistance(a, b []float64) float64 {
	if len(a) != len(b) {
		panic("lime: CosineDistance of vectors of different lengths")
	}
	var ab, aa, bb float64
	for i := range a {
		ab += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
	}
	if aa == 0 || bb == 0 {
		return 1
	}
	return min(2, max(0, 1-ab/math.Sqrt(aa*bb)))
}

// EuclideanDistance returns |a-b|. It panics if the lengths differ.
func EuclideanDistance(a, b []float64) float64 {
	if len(a) != len(b) {
		panic("lime: EuclideanDistance of vectors of different lengths")
	}
	s := 0.0
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return math.Sqrt(s)
}

// FitOptions configures [Fit].
type FitOptions struct {
	// NumFeatures is the maximum number of features in the explanation
	// (>= 1); larger values than the number of features select them all.
	NumFeatures int
	// Selection is the feature-selection method.
	Selection Selection
	// Alpha is the L2 penalty of the final ridge model (>= 0; LIME uses 1).
	Alpha float64
}

// Explanation is a local linear model of one output of a black box.
type Explanation struct {
	Label     int       // the explained output (class index); -1 if unknown
	Features  []int     // selected features, by decreasing |weight|
	Weights   []float64 // coefficients of Features
	Intercept float64
	Score     float64 // weighted R^2 of the local model on the samples
	LocalPred float64 // local model's prediction for the first sample
}

// Weight returns the coefficient of feature f (0 if it was not selected).
func (e *Explanation) Weight(f int) float64 {
	for i, g := range e.Features {
		if g == f {
			return e.Weights[i]
		}
	}
	return 0
}

// FeatureWeight is one named entry of an explanation.
type FeatureWeight struct {
	Feature int
	Name    string
	Weight  float64
}

// checkData validates an n x p design with targets and sample weights.
func checkData(data [][]float64, y, w []float64) (p int, err error) {
	n := len(data)
	if n == 0 {
		return 0, errors.New("lime: no samples")
	}
	p = len(data[0])
	if p == 0 {
		return 0, errors.New("lime: samples have no features")
	}
	if len(y) != n {
		return 0, fmt.Errorf("lime: %d targets for %d samples", len(y), n)
	}
	if len(w) != n {
		return 0, fmt.Errorf("lime: %d sample weights for %d samples", len(w), n)
	}
	sw := 0.0
	for i, row := range data {
		if len(row) != p {
			return 0, fmt.Errorf("lime: sample %d has %d features, sample 0 has %d", i, len(row), p)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("lime: non-finite value %v in sample %d feature %d", v, i, j)
			}
		}
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return 0, fmt.Errorf("lime: non-finite target %v for sample %d", y[i], i)
		}
		if !(w[i] >= 0) || math.IsInf(w[i], 0) {
			return 0, fmt.Errorf("lime: sample weight %v for sample %d, want a finite value >= 0", w[i], i)
		}
		sw += w[i]
	}
	if !(sw > 0) {
		return 0, errors.New("lime: sample weights sum to zero")
	}
	return p, nil
}

// Fit fits LIME's local model: it selects at most opts.NumFeatures columns
// of data with opts.Selection, then fits a ridge regression with intercept
// (penalty opts.Alpha) of y on them, with sample weights w (usually
// [KernelWeights] of the distances to the first sample, which is the
// instance being explained). Score is the weighted R^2 and LocalPred the
// model's prediction for data[0]. The returned Label is -1.
func Fit(data [][]float64, y, w []float64, opts FitOptions) (*Explanation, error) {
	p, err := checkData(data, y, w)
	if err != nil {
		return nil, err
	}
	if opts.NumFeatures < 1 {
		return nil, fmt.Errorf("lime: NumFeatures %d, want >= 1", opts.NumFeatures)
	}
	if !(opts.Alpha >= 0) || math.IsInf(opts.Alpha, 0) {
		return nil, fmt.Errorf("lime: ridge Alpha %v, want a finite value >= 0", opts.Alpha)
	}
	used, err := selectFeatures(data, y, w, min(opts.NumFeatures, p), opts.Selection)
	if err != nil {
		return nil, err
	}
	coef, icpt, err := ridge(data, used, y, w, opts.Alpha)
	if err != nil {
		return nil, err
	}
	e := &Explanation{Label: -1, Intercept: icpt, Score: r2(data, used, y, w, coef, icpt)}
	e.LocalPred = icpt
	for i, f := range used {
		e.LocalPred += coef[i] * data[0][f]
	}
	order := make([]int, len(used))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmpDesc(math.Abs(coef[a]), math.Abs(coef[b]))
	})
	for _, i := range order {
		e.Features = append(e.Features, used[i])
		e.Weights = append(e.Weights, coef[i])
	}
	return e, nil
}

func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

func selectFeatures(data [][]float64, y, w []float64, k int, s Selection) ([]int, error) {
	p := len(data[0])
	all := func() []int {
		u := make([]int, p)
		for i := range u {
			u[i] = i
		}
		return u
	}
	if s == SelectAuto {
		if k <= 6 {
			s = SelectForward
		} else {
			s = SelectHighestWeights
		}
	}
	switch s {
	case SelectNone:
		return all(), nil
	case SelectForward:
		var used []int
		for len(used) < k {
			best, bestScore := -1, math.Inf(-1)
			cols := append(slices.Clone(used), 0)
			for f := 0; f < p; f++ {
				if slices.Contains(used, f) {
					continue
				}
				cols[len(cols)-1] = f
				coef, icpt, err := ridge(data, cols, y, w, 0)
				if err != nil {
					return nil, err
				}
				if sc := r2(data, cols, y, w, coef, icpt); sc > bestScore || best < 0 {
					best, bestScore = f, sc
				}
			}
			used = append(used, best)
		}
		return used, nil
	case SelectHighestWeights:
		if k >= p {
			return all(), nil
		}
		coef, _, err := ridge(data, all(), y, w, 0.01)
		if err != nil {
			return nil, err
		}
		order := all()
		slices.SortStableFunc(order, func(a, b int) int {
			return cmpDesc(math.Abs(coef[a]*data[0][a]), math.Abs(coef[b]*data[0][b]))
		})
		return order[:k], nil
	case SelectLassoPath:
		return lassoSelect(data, y, w, k)
	}
	return nil, fmt.Errorf("lime: unknown feature selection %v", s)
}

// WeightedRidge fits y ~ intercept + data*coef minimising
// sum_i w_i (y_i - intercept - x_i.coef)^2 + alpha |coef|^2, the problem
// scikit-learn's Ridge solves with sample_weight. With alpha 0 and a
// singular design it returns the minimum-norm solution.
func WeightedRidge(data [][]float64, y, w []float64, alpha float64) (coef []float64, intercept float64, err error) {
	p, err := checkData(data, y, w)
	if err != nil {
		return nil, 0, err
	}
	if !(alpha >= 0) || math.IsInf(alpha, 0) {
		return nil, 0, fmt.Errorf("lime: ridge alpha %v, want a finite value >= 0", alpha)
	}
	cols := make([]int, p)
	for i := range cols {
		cols[i] = i
	}
	return ridge(data, cols, y, w, alpha)
}

// WeightedR2 is the weighted coefficient of determination
// 1 - sum w (y-pred)^2 / sum w (y-mean_w(y))^2 (1 for a perfect fit of a
// constant target, 0 for an imperfect one).
func WeightedR2(y, pred, w []float64) float64 {
	sw, ym := 0.0, 0.0
	for i := range y {
		sw += w[i]
		ym += w[i] * y[i]
	}
	ym /= sw
	num, den := 0.0, 0.0
	for i := range y {
		num += w[i] * (y[i] - pred[i]) * (y[i] - pred[i])
		den += w[i] * (y[i] - ym) * (y[i] - ym)
	}
	if den == 0 {
		if num == 0 {
			return 1
		}
		return 0
	}
	return 1 - num/den
}

func r2(data [][]float64, cols []int, y, w, coef []float64, icpt float64) float64 {
	pred := make([]float64, len(y))
	for i, row := range data {
		s := icpt
		for j, c := range cols {
			s += coef[j] * row[c]
		}
		pred[i] = s
	}
	return WeightedR2(y, pred, w)
}

// ridge solves the weighted ridge problem on the given columns.
func ridge(data [][]float64, cols []int, y, w []float64, alpha float64) ([]float64, float64, error) {
	k := len(cols)
	sw, ym := 0.0, 0.0
	xm := make([]float64, k)
	for i, row := range data {
		sw += w[i]
		ym += w[i] * y[i]
		for j, c := range cols {
			xm[j] += w[i] * row[c]
		}
	}
	ym /= sw
	for j := range xm {
		xm[j] /= sw
	}
	ad := make([]float64, k*k)
	bd := make([]float64, k)
	xc := make([]float64, k)
	for i, row := range data {
		if w[i] == 0 {
			continue
		}
		for j, c := range cols {
			xc[j] = row[c] - xm[j]
		}
		yc := y[i] - ym
		for j := 0; j < k; j++ {
			wx := w[i] * xc[j]
			bd[j] += wx * yc
			r := ad[j*k : j*k+k]
			for l := j; l < k; l++ {
				r[l] += wx * xc[l]
			}
		}
	}
	for j := 0; j < k; j++ {
		ad[j*k+j] += alpha
		for l := 0; l < j; l++ {
			ad[j*k+l] = ad[l*k+j]
		}
	}
	var a *mat.SymDense
	var b *mat.VecDense
	if k > 0 {
		a = mat.NewSymDense(k, ad)
		b = mat.NewVecDense(k, bd)
	}
	coef := make([]float64, k)
	solved := k == 0
	if alpha > 0 && k > 0 {
		x := mat.NewVecDense(k, coef)
		var ch mat.Cholesky
		if ch.Factorize(a) {
			if err := ch.SolveVecTo(x, b); err == nil {
				solved = true
			}
		}
	}
	if !solved && k > 0 {
		var svd mat.SVD
		if !svd.Factorize(a, mat.SVDFull) {
			return nil, 0, errors.New("lime: ridge regression: SVD failed")
		}
		rank := svd.Rank(1e-12)
		if rank == 0 {
			clear(coef)
		} else {
			dst := mat.NewDense(k, 1, nil)
			bm := mat.NewDense(k, 1, nil)
			for j := 0; j < k; j++ {
				bm.Set(j, 0, b.AtVec(j))
			}
			svd.SolveTo(dst, bm, rank)
			for j := range coef {
				coef[j] = dst.At(j, 0)
			}
		}
	}
	icpt := ym
	for j := range coef {
		icpt -= coef[j] * xm[j]
	}
	return coef, icpt, nil
}
