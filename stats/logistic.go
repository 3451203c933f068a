package stats

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// DefaultRidge is the ridge penalty LogisticOptions uses when Ridge is 0.
const DefaultRidge = 1e-4

// LogisticOptions configures [Logistic]. The zero value is a good default.
type LogisticOptions struct {
	// Ridge is the weight lambda of the penalty lambda/2 * sum(b_j^2) on the slopes of the
	// standardized predictors (the intercept is not penalized). It keeps the fit finite when
	// the outcomes are separable, and barely moves it otherwise. 0 means DefaultRidge; a
	// negative value fits the plain maximum-likelihood model.
	Ridge float64
	// MaxIter bounds the Newton iterations; 0 means 100.
	MaxIter int
}

// LogisticResult is a fitted logistic regression P(y=1) = 1/(1+exp(-(b0 + b1*x1 + ...))).
// Coef, StdErr, Z and P have the intercept at index 0, then one entry per predictor.
type LogisticResult struct {
	N      int
	Coef   []float64 // coefficients on the original scale of the predictors
	StdErr []float64 // standard errors from the inverse of the (penalized) observed information
	Z      []float64 // Wald statistics Coef/StdErr
	P      []float64 // two-sided Wald p-values
	// LogLik is the log-likelihood at Coef (without the penalty); NullLogLik that of the
	// intercept-only model.
	LogLik, NullLogLik float64
	// LRStat = 2*(LogLik - NullLogLik) and LRP its chi-square p-value with one degree of freedom
	// per predictor: a test that the predictors together have no effect.
	LRStat, LRP float64
	Iterations  int
	// Separated reports complete separation: the fitted model classifies every observation
	// correctly, so without the ridge the slopes would be infinite and their standard errors
	// and p-values are not meaningful (the direction of the effect is).
	Separated bool
}

// Prob returns the fitted probability of success for the given predictor values.
func (r LogisticResult) Prob(x ...float64) float64 {
	eta := r.Coef[0]
	for j, v := range x {
		eta += r.Coef[j+1] * v
	}
	return 1 / (1 + math.Exp(-eta))
}

// Logistic fits a logistic regression of the binary outcome y on one or more predictors by
// Newton's method (iteratively reweighted least squares) with step halving. predictors[j][i] is
// the value of predictor j for observation i. Predictors are standardized internally, which
// makes the ridge penalty scale-free; results are reported on the original scale.
//
// It is an error if the lengths disagree, a value is not finite, a predictor is constant, all
// outcomes are equal, there are not more observations than coefficients, or the fit does not
// converge.
func Logistic(y []bool, predictors [][]float64, opt LogisticOptions) (LogisticResult, error) {
	n, p := len(y), len(predictors)
	if p == 0 {
		return LogisticResult{}, errors.New("logistic: no predictors")
	}
	if n <= p+1 {
		return LogisticResult{}, fmt.Errorf("logistic: %d observations for %d coefficients", n, p+1)
	}
	var ones int
	for _, v := range y {
		if v {
			ones++
		}
	}
	if ones == 0 || ones == n {
		return LogisticResult{}, fmt.Errorf("logistic: all %d outcomes are %v; nothing to fit", n, ones == n)
	}
	means := make([]float64, p)
	sds := make([]float64, p)
	for j, col := range predictors {
		if len(col) != n {
			return LogisticResult{}, fmt.Errorf("logistic: predictor %d has %d values, want %d (one per outcome)", j, len(col), n)
		}
		for i, v := range col {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return LogisticResult{}, fmt.Errorf("logistic: predictor %d, observation %d is %v", j, i, v)
			}
		}
		means[j] = Mean(col)
		sds[j] = math.Sqrt(Variance(col) * float64(n-1) / float64(n))
		if !(sds[j] > 0) {
			return LogisticResult{}, fmt.Errorf("logistic: predictor %d is constant", j)
		}
	}
	lambda := opt.Ridge
	if lambda == 0 {
		lambda = DefaultRidge
	}
	lambda = math.Max(lambda, 0)
	maxIter := opt.MaxIter
	if maxIter <= 0 {
		maxIter = 100
	}

	// Standardized design with a leading column of ones, row-major n x k.
	k := p + 1
	X := make([]float64, n*k)
	yf := make([]float64, n)
	for i := range n {
		X[i*k] = 1
		for j := range p {
			X[i*k+j+1] = (predictors[j][i] - means[j]) / sds[j]
		}
		if y[i] {
			yf[i] = 1
		}
	}
	ybar := float64(ones) / float64(n)
	theta := make([]float64, k)
	theta[0] = math.Log(ybar / (1 - ybar))
	eta := make([]float64, n)

	// objective returns the penalized negative log-likelihood and fills eta.
	objective := func(th []float64) float64 {
		var nll float64
		for i := range n {
			e := 0.0
			for j := range k {
				e += X[i*k+j] * th[j]
			}
			eta[i] = e
			nll += softplus(e) - yf[i]*e
		}
		for j := 1; j < k; j++ {
			nll += lambda / 2 * th[j] * th[j]
		}
		return nll
	}

	H := make([]float64, k*k)
	g := make([]float64, k)
	next := make([]float64, k)
	f := objective(theta)
	converged := false
	iter := 0
	for iter = 1; iter <= maxIter; iter++ {
		hessGrad(X, yf, eta, theta, lambda, n, k, H, g)
		step, err := cholSolve(H, g, k)
		if err != nil {
			if separates(y, eta) {
				return LogisticResult{}, errors.New("logistic: the outcomes are separable (no finite maximum-likelihood fit); use a ridge")
			}
			return LogisticResult{}, errors.New("logistic: the predictors are collinear (singular information matrix); drop one or use a ridge")
		}
		t := 1.0
		var fNext float64
		for range 60 {
			for j := range k {
				next[j] = theta[j] - t*step[j]
			}
			fNext = objective(next)
			if fNext <= f {
				break
			}
			t /= 2
		}
		if fNext > f { // no decrease possible: at the optimum up to rounding
			objective(theta)
			converged = true
			break
		}
		maxStep, maxTheta := 0.0, 0.0
		for j := range k {
			maxStep = math.Max(maxStep, math.Abs(t*step[j]))
			maxTheta = math.Max(maxTheta, math.Abs(next[j]))
		}
		copy(theta, next)
		df := f - fNext
		f = fNext
		if maxStep <= 1e-10*(1+maxTheta) || df <= 1e-14*(1+math.Abs(f)) {
			converged = true
			break
		}
	}
	if !converged {
		if lambda == 0 {
			return LogisticResult{}, fmt.Errorf("logistic: no convergence in %d iterations (separable outcomes? use a ridge)", maxIter)
		}
		return LogisticResult{}, fmt.Errorf("logistic: no convergence in %d iterations", maxIter)
	}
	hessGrad(X, yf, eta, theta, lambda, n, k, H, g)
	cov, err := cholInverse(H, k)
	if err != nil {
		return LogisticResult{}, errors.New("logistic: singular information matrix at the solution")
	}

	res := LogisticResult{N: n, Iterations: iter}
	// Back to the original scale: b_j = bs_j/sd_j, b0 = bs0 - sum bs_j*mean_j/sd_j.
	T := make([]float64, k*k)
	T[0] = 1
	for j := 1; j < k; j++ {
		T[j] = -means[j-1] / sds[j-1]
		T[j*k+j] = 1 / sds[j-1]
	}
	res.Coef = make([]float64, k)
	for a := range k {
		for b := range k {
			res.Coef[a] += T[a*k+b] * theta[b]
		}
	}
	res.StdErr = make([]float64, k)
	res.Z = make([]float64, k)
	res.P = make([]float64, k)
	for a := range k {
		var v float64 // (T C T')[a][a]
		for b := range k {
			for c := range k {
				v += T[a*k+b] * cov[b*k+c] * T[a*k+c]
			}
		}
		res.StdErr[a] = math.Sqrt(v)
		res.Z[a] = res.Coef[a] / res.StdErr[a]
		res.P[a] = normalTwoSided(res.Z[a])
	}
	for i := range n {
		res.LogLik += yf[i]*eta[i] - softplus(eta[i])
	}
	res.Separated = separates(y, eta)
	fo := float64(ones)
	res.NullLogLik = fo*math.Log(ybar) + (float64(n)-fo)*math.Log(1-ybar)
	res.LRStat = math.Max(0, 2*(res.LogLik-res.NullLogLik))
	res.LRP = mathext.GammaIncRegComp(float64(p)/2, res.LRStat/2)
	return res, nil
}

// separates reports whether the linear predictor eta classifies every outcome correctly.
func separates(y []bool, eta []float64) bool {
	for i, v := range y {
		if (v && eta[i] <= 0) || (!v && eta[i] >= 0) {
			return false
		}
	}
	return true
}

// softplus returns log(1+exp(e)) without overflow.
func softplus(e float64) float64 {
	if e > 0 {
		return e + math.Log1p(math.Exp(-e))
	}
	return math.Log1p(math.Exp(e))
}

// hessGrad fills H = X'WX + lambda*D and g = X'(mu-y) + lambda*D*theta, D = diag(0, 1, ..., 1).
func hessGrad(X, y, eta, theta []float64, lambda float64, n, k int, H, g []float64) {
	clear(H)
	clear(g)
	for i := range n {
		mu := 1 / (1 + math.Exp(-eta[i]))
		w := mu * (1 - mu)
		r := mu - y[i]
		row := X[i*k : i*k+k]
		for a := range k {
			g[a] += row[a] * r
			for b := 0; b <= a; b++ {
				H[a*k+b] += w * row[a] * row[b]
			}
		}
	}
	for a := range k {
		for b := 0; b < a; b++ {
			H[b*k+a] = H[a*k+b]
		}
	}
	for j := 1; j < k; j++ {
		H[j*k+j] += lambda
		g[j] += lambda * theta[j]
	}
}

// cholesky returns the lower-triangular L with A = LL' for symmetric positive definite A (k x k).
func cholesky(A []float64, k int) ([]float64, error) {
	L := make([]float64, k*k)
	for i := range k {
		for j := 0; j <= i; j++ {
			s := A[i*k+j]
			for m := range j {
				s -= L[i*k+m] * L[j*k+m]
			}
			if i == j {
				if !(s > 1e-12*math.Max(1, A[i*k+i])) {
					return nil, errors.New("matrix is not positive definite")
				}
				L[i*k+i] = math.Sqrt(s)
			} else {
				L[i*k+j] = s / L[j*k+j]
			}
		}
	}
	return L, nil
}

// cholSolve solves A x = b for symmetric positive definite A.
func cholSolve(A, b []float64, k int) ([]float64, error) {
	L, err := cholesky(A, k)
	if err != nil {
		return nil, err
	}
	return cholSolveL(L, b, k), nil
}

func cholSolveL(L, b []float64, k int) []float64 {
	x := make([]float64, k)
	for i := range k { // L z = b
		s := b[i]
		for m := range i {
			s -= L[i*k+m] * x[m]
		}
		x[i] = s / L[i*k+i]
	}
	for i := k - 1; i >= 0; i-- { // L' x = z
		s := x[i]
		for m := i + 1; m < k; m++ {
			s -= L[m*k+i] * x[m]
		}
		x[i] = s / L[i*k+i]
	}
	return x
}

// cholInverse returns the inverse of symmetric positive definite A.
func cholInverse(A []float64, k int) ([]float64, error) {
	L, err := cholesky(A, k)
	if err != nil {
		return nil, err
	}
	inv := make([]float64, k*k)
	e := make([]float64, k)
	for c := range k {
		clear(e)
		e[c] = 1
		col := cholSolveL(L, e, k)
		for r := range k {
			inv[r*k+c] = col[r]
		}
	}
	return inv, nil
}
