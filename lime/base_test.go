package lime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// Hand-computed example (one feature):
//
//	x = 0 1 2 3, y = 1 3 2 5, w = 1 2 1 2
//	weighted means: x̄ = 10/6 = 5/3, ȳ = 19/6
//	Sxx = Σw(x-x̄)² = 22/3, Sxy = Σw(x-x̄)(y-ȳ) = 25/3
//	alpha 1: coef = Sxy/(Sxx+1) = 1, intercept = ȳ - x̄ = 3/2
//	alpha 0: coef = 25/22, intercept = 19/6 - (25/22)(5/3) = 14/11
//	alpha 1 residuals -1/2, 1/2, -3/2, 1/2: Σw r² = 7/2, Σw(y-ȳ)² = 77/6,
//	so the weighted R² = 1 - 21/77 = 8/11.
func TestWeightedRidgeHandComputed(t *testing.T) {
	x := [][]float64{{0}, {1}, {2}, {3}}
	y := []float64{1, 3, 2, 5}
	w := []float64{1, 2, 1, 2}
	tests := []struct {
		alpha, coef, icpt float64
	}{
		{1, 1, 1.5},
		{0, 25.0 / 22, 14.0 / 11},
	}
	for _, tc := range tests {
		coef, icpt, err := WeightedRidge(x, y, w, tc.alpha)
		if err != nil {
			t.Fatal(err)
		}
		if !near(coef[0], tc.coef, 1e-12) || !near(icpt, tc.icpt, 1e-12) {
			t.Errorf("alpha %v: coef %v intercept %v, want %v %v", tc.alpha, coef[0], icpt, tc.coef, tc.icpt)
		}
	}
	e, err := Fit(x, y, w, FitOptions{NumFeatures: 1, Selection: SelectNone, Alpha: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !near(e.Weights[0], 1, 1e-12) || !near(e.Intercept, 1.5, 1e-12) ||
		!near(e.Score, 8.0/11, 1e-12) || !near(e.LocalPred, 1.5, 1e-12) {
		t.Errorf("Fit = %+v, want weight 1, intercept 1.5, score 8/11, local prediction 1.5", e)
	}

	// Two identical columns and no penalty: the minimum-norm solution
	// splits the coefficient equally.
	x2 := [][]float64{{0, 0}, {1, 1}, {2, 2}, {3, 3}}
	coef, icpt, err := WeightedRidge(x2, y, w, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !near(coef[0], 25.0/44, 1e-9) || !near(coef[1], 25.0/44, 1e-9) || !near(icpt, 14.0/11, 1e-9) {
		t.Errorf("collinear: coef %v intercept %v, want [25/44 25/44] 14/11", coef, icpt)
	}
}

// The ridge solution makes the gradient of the penalised weighted loss
// vanish.
func TestWeightedRidgeOptimality(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n, p := 30, 4
	x := make([][]float64, n)
	y := make([]float64, n)
	w := make([]float64, n)
	for i := range x {
		x[i] = make([]float64, p)
		for j := range x[i] {
			x[i][j] = r.NormFloat64()
		}
		y[i] = r.NormFloat64()
		w[i] = r.Float64()
	}
	for _, alpha := range []float64{0, 0.5, 3} {
		coef, icpt, err := WeightedRidge(x, y, w, alpha)
		if err != nil {
			t.Fatal(err)
		}
		gb := 0.0
		g := make([]float64, p)
		for i := range x {
			res := y[i] - icpt
			for j := range coef {
				res -= coef[j] * x[i][j]
			}
			gb += w[i] * res
			for j := range g {
				g[j] += w[i] * res * x[i][j]
			}
		}
		if !near(gb, 0, 1e-9) {
			t.Errorf("alpha %v: intercept gradient %v", alpha, gb)
		}
		for j := range g {
			if !near(g[j], alpha*coef[j], 1e-9) {
				t.Errorf("alpha %v: gradient %d: %v vs alpha*coef %v", alpha, j, g[j], alpha*coef[j])
			}
		}
	}
}

func TestKernelAndDistances(t *testing.T) {
	if Kernel(0, 0.25) != 1 {
		t.Error("Kernel(0) != 1")
	}
	if got, want := Kernel(0.25, 0.25), math.Sqrt(math.Exp(-1)); !near(got, want, 1e-15) {
		t.Errorf("Kernel(w, w) = %v, want %v", got, want)
	}
	if got, want := CosineDistance([]float64{1, 1, 1, 1}, []float64{1, 0, 1, 0}), 1-1/math.Sqrt2; !near(got, want, 1e-15) {
		t.Errorf("cosine distance %v, want %v", got, want)
	}
	if got := CosineDistance([]float64{0, 0}, []float64{1, 0}); got != 1 {
		t.Errorf("cosine distance from zero vector %v, want 1", got)
	}
	if got := EuclideanDistance([]float64{0, 3}, []float64{4, 0}); got != 5 {
		t.Errorf("Euclidean distance %v, want 5", got)
	}
	s := SampleBinary(50, 7, 3)
	if !slices.Equal(s[0], []float64{1, 1, 1, 1, 1, 1, 1}) {
		t.Errorf("first sample %v, want all on", s[0])
	}
	ones := 0
	for _, row := range s[1:] {
		for _, v := range row {
			if v != 0 && v != 1 {
				t.Fatalf("non-binary sample value %v", v)
			}
			ones += int(v)
		}
	}
	if ones < 100 || ones > 240 { // expected 171.5
		t.Errorf("%d ones in 343 fair coin flips", ones)
	}
}

// sparseLinear returns raw features x ~ U(-1,1) (row 0, the instance, all
// ones) with y = 3 x1 - 2 x4 + 0.5 x6 + noise, and kernel weights on the
// Euclidean distance to the instance.
func sparseLinear(n, p int, noise float64, seed uint64) (x [][]float64, y, w []float64) {
	r := rand.New(rand.NewPCG(seed, 9))
	x = make([][]float64, n)
	y = make([]float64, n)
	for i := range x {
		x[i] = make([]float64, p)
		for j := range x[i] {
			x[i][j] = 2*r.Float64() - 1
			if i == 0 {
				x[i][j] = 1
			}
		}
		y[i] = 3*x[i][1] - 2*x[i][4] + 0.5*x[i][6] + noise*r.NormFloat64()
	}
	d := make([]float64, n)
	for i := range x {
		d[i] = EuclideanDistance(x[i], x[0])
	}
	return x, y, KernelWeights(d, 0.75*math.Sqrt(float64(p)))
}

// LIME recovers a sparse linear model in the raw-feature setting with every
// feature-selection method: the right features, ranked by |coefficient|,
// with approximately the right values.
func TestFitRecoversSparseLinearModel(t *testing.T) {
	x, y, w := sparseLinear(400, 8, 0.05, 1)
	want := map[int]float64{1: 3, 4: -2, 6: 0.5}
	// LIME's ridge penalty (alpha 1) shrinks the weights by a few percent
	// here; without it they match to within the noise.
	for _, alpha := range []float64{1, 0} {
		tol := 0.03
		if alpha > 0 {
			tol = 0.1
		}
		for _, sel := range []Selection{SelectAuto, SelectForward, SelectLassoPath, SelectHighestWeights, SelectNone} {
			t.Run(fmt.Sprintf("%v/alpha=%v", sel, alpha), func(t *testing.T) {
				nf := 3
				if sel == SelectNone {
					nf = 8
				}
				e, err := Fit(x, y, w, FitOptions{NumFeatures: nf, Selection: sel, Alpha: alpha})
				if err != nil {
					t.Fatal(err)
				}
				if len(e.Features) != nf || !slices.Equal(e.Features[:3], []int{1, 4, 6}) {
					t.Fatalf("features by |weight| %v, want [1 4 6 ...] (%d in all)", e.Features, nf)
				}
				for i, f := range e.Features {
					if !near(e.Weights[i], want[f], tol) {
						t.Errorf("feature %d: weight %.4f, want %.4f", f, e.Weights[i], want[f])
					}
				}
				if e.Score < 0.99 {
					t.Errorf("score %v, want > 0.99", e.Score)
				}
				if !near(e.LocalPred, 1.5, tol) {
					t.Errorf("local prediction %v, want about 1.5", e.LocalPred)
				}
			})
		}
	}
}

// Every breakpoint of the lasso path satisfies the lasso optimality
// conditions at its lambda: |x_j.r| = lambda with the sign of b_j on the
// active set and |x_j.r| <= lambda elsewhere; lambda decreases along the
// path, which ends at least squares when n > p. The random problems include
// strongly correlated and exactly duplicated columns and n < p, and some of
// them make features leave the active set (the lasso modification of LARS).
func TestLassoPathKKT(t *testing.T) {
	drops := 0
	for seed := uint64(0); seed < 60; seed++ {
		r := rand.New(rand.NewPCG(seed, 6))
		n, p := 5+int(seed%40), 2+int(seed%9)
		x := make([][]float64, n)
		y := make([]float64, n)
		for i := range x {
			x[i] = make([]float64, p)
			z := r.NormFloat64()
			for j := range x[i] {
				x[i][j] = r.NormFloat64() + 2*z
				if seed%3 == 0 && j == 1 {
					x[i][j] = x[i][0] // duplicated column
				}
			}
			y[i] = 2*x[i][0] - x[i][1] + r.NormFloat64()
		}
		path, lambdas, err := LassoPath(x, y)
		if err != nil {
			t.Fatal(err)
		}
		if len(lambdas) != len(path) {
			t.Fatalf("seed %d: %d lambdas for %d points", seed, len(lambdas), len(path))
		}
		for k, b := range path {
			lam := lambdas[k]
			for j := 0; k > 0 && j < p; j++ {
				if b[j] == 0 && path[k-1][j] != 0 {
					drops++
				}
			}
			for j := 0; j < p; j++ {
				c := 0.0
				for i := range x {
					res := y[i]
					for l := range b {
						res -= x[i][l] * b[l]
					}
					c += x[i][j] * res
				}
				switch {
				case b[j] != 0 && !near(c, lam*math.Copysign(1, b[j]), 1e-6*(1+lam)):
					t.Errorf("seed %d point %d: active feature %d correlation %v, want %v", seed, k, j, c, lam*math.Copysign(1, b[j]))
				case b[j] == 0 && math.Abs(c) > lam+1e-6*(1+lam):
					t.Errorf("seed %d point %d: inactive feature %d correlation %v exceeds lambda %v", seed, k, j, c, lam)
				}
			}
			if k > 0 && lambdas[k] > lambdas[k-1]+1e-9 {
				t.Errorf("seed %d: lambda increases at point %d: %v > %v", seed, k, lambdas[k], lambdas[k-1])
			}
		}
		if n > p+1 && seed%3 != 0 && !near(lambdas[len(lambdas)-1], 0, 1e-8) {
			t.Errorf("seed %d: path ends at lambda %v, want 0 (least squares)", seed, lambdas[len(lambdas)-1])
		}
	}
	if drops == 0 {
		t.Error("no feature ever left the active set; the lasso step is untested")
	}
}

// With orthonormal columns, features enter in order of |x_j.y| and never
// leave.
func TestLassoPathOrthogonal(t *testing.T) {
	x := [][]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {0, 0, 0}}
	y := []float64{-1, 3, 2, 7}
	path, lambdas, err := LassoPath(x, y)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float64{{0, 0, 0}, {0, 1, 0}, {0, 2, 1}, {-1, 3, 2}}
	if len(path) != len(want) {
		t.Fatalf("path %v, want %v", path, want)
	}
	for k := range want {
		for j := range want[k] {
			if !near(path[k][j], want[k][j], 1e-12) {
				t.Fatalf("path %v, want %v", path, want)
			}
		}
	}
	if !slices.EqualFunc(lambdas, []float64{3, 2, 1, 0}, func(a, b float64) bool { return near(a, b, 1e-12) }) {
		t.Errorf("lambdas %v, want [3 2 1 0]", lambdas)
	}
}

func TestFitBadInput(t *testing.T) {
	x := [][]float64{{0}, {1}}
	y := []float64{0, 1}
	w := []float64{1, 1}
	o := FitOptions{NumFeatures: 1, Alpha: 1}
	tests := []struct {
		name    string
		x       [][]float64
		y, w    []float64
		o       FitOptions
		wantErr string
	}{
		{"no samples", nil, nil, nil, o, "no samples"},
		{"no features", [][]float64{{}}, []float64{1}, []float64{1}, o, "no features"},
		{"ragged", [][]float64{{0}, {1, 2}}, y, w, o, "sample 1 has 2 features"},
		{"targets", x, []float64{1}, w, o, "1 targets"},
		{"weights", x, y, []float64{1}, o, "1 sample weights"},
		{"negative weight", x, y, []float64{1, -1}, o, "sample weight -1"},
		{"zero weights", x, y, []float64{0, 0}, o, "sum to zero"},
		{"nan", [][]float64{{0}, {math.NaN()}}, y, w, o, "non-finite"},
		{"num features", x, y, w, FitOptions{Alpha: 1}, "NumFeatures"},
		{"alpha", x, y, w, FitOptions{NumFeatures: 1, Alpha: -1}, "Alpha"},
		{"selection", x, y, w, FitOptions{NumFeatures: 1, Selection: 42}, "unknown feature selection"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Fit(tc.x, tc.y, tc.w, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseSelection(t *testing.T) {
	for _, s := range []Selection{SelectAuto, SelectForward, SelectLassoPath, SelectHighestWeights, SelectNone} {
		got, err := ParseSelection(s.String())
		if err != nil || got != s {
			t.Errorf("ParseSelection(%q) = %v, %v", s.String(), got, err)
		}
	}
	if _, err := ParseSelection("ridge"); err == nil || !strings.Contains(err.Error(), "lasso_path") {
		t.Errorf("unknown selection error %v should list the valid names", err)
	}
}
