package lime

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// LassoPath computes the lasso regularisation path of y on the columns of
// data (no intercept: centre the data first if one is wanted) with the
// LARS-lasso algorithm of Efron, Hastie, Johnstone and Tibshirani (2004).
// It returns the coefficient vectors at the breakpoints of the path, from
// the all-zero solution (largest penalty) to the least-squares end, and the
// penalties lambda = max_j |x_j.(y - X b)| at which they occur. Columns that
// are linearly dependent on the active set are skipped.
func LassoPath(data [][]float64, y []float64) (path [][]float64, lambdas []float64, err error) {
	w := make([]float64, len(data))
	for i := range w {
		w[i] = 1
	}
	p, err := checkData(data, y, w)
	if err != nil {
		return nil, nil, err
	}
	// Gram matrix and correlations.
	g := make([]float64, p*p)
	xy := make([]float64, p)
	for i, row := range data {
		for j, v := range row {
			if v == 0 {
				continue
			}
			xy[j] += v * y[i]
			gr := g[j*p : j*p+p]
			for l := j; l < p; l++ {
				gr[l] += v * row[l]
			}
		}
	}
	for j := 0; j < p; j++ {
		for l := 0; l < j; l++ {
			g[j*p+l] = g[l*p+j]
		}
	}
	path, lambdas = lars(g, xy, p)
	return path, lambdas, nil
}

// lars runs LARS-lasso from the Gram matrix g (p x p) and X^T y.
func lars(g, xy []float64, p int) ([][]float64, []float64) {
	beta := make([]float64, p)
	corr := func() []float64 {
		c := make([]float64, p)
		for j := 0; j < p; j++ {
			s := xy[j]
			for l := 0; l < p; l++ {
				s -= g[j*p+l] * beta[l]
			}
			c[j] = s
		}
		return c
	}
	scale := 0.0
	for j := 0; j < p; j++ {
		scale = math.Max(scale, math.Abs(xy[j]))
	}
	path := [][]float64{append([]float64(nil), beta...)}
	lambdas := []float64{scale}
	if scale == 0 {
		return path, lambdas
	}
	tol := 1e-12 * scale
	active := []int{}
	inActive := make([]bool, p)
	excluded := make([]bool, p)
	pending := -1 // feature to add at the next iteration

	for iter := 0; iter < 8*p+16; iter++ {
		c := corr()
		if len(active) == 0 && pending < 0 {
			best, bc := -1, tol
			for j := 0; j < p; j++ {
				if !excluded[j] && math.Abs(c[j]) > bc {
					best, bc = j, math.Abs(c[j])
				}
			}
			if best < 0 {
				break
			}
			pending = best
		}
		if pending >= 0 {
			active = append(active, pending)
			inActive[pending] = true
			pending = -1
		}
		k := len(active)
		C := 0.0
		s := make([]float64, k)
		for a, j := range active {
			C = math.Max(C, math.Abs(c[j]))
			s[a] = 1
			if c[j] < 0 {
				s[a] = -1
			}
		}
		if C <= tol {
			break
		}
		// Equiangular direction: solve (S G_A S) z = 1.
		ga := mat.NewSymDense(k, nil)
		for a := 0; a < k; a++ {
			for b := a; b < k; b++ {
				ga.SetSym(a, b, s[a]*s[b]*g[active[a]*p+active[b]])
			}
		}
		var ch mat.Cholesky
		ok := ch.Factorize(ga)
		if ok {
			if cond := ch.Cond(); cond > 1e12 || math.IsNaN(cond) {
				ok = false
			}
		}
		if !ok {
			// The last added column is (nearly) collinear with the others.
			last := active[k-1]
			active = active[:k-1]
			inActive[last] = false
			excluded[last] = true
			beta[last] = 0
			continue
		}
		ones := mat.NewVecDense(k, nil)
		for a := 0; a < k; a++ {
			ones.SetVec(a, 1)
		}
		var z mat.VecDense
		if err := ch.SolveVecTo(&z, ones); err != nil {
			break
		}
		sum := 0.0
		for a := 0; a < k; a++ {
			sum += z.AtVec(a)
		}
		if !(sum > 0) {
			break
		}
		aa := 1 / math.Sqrt(sum)
		d := make([]float64, p)
		for a, j := range active {
			d[j] = s[a] * aa * z.AtVec(a)
		}
		gamma := C / aa // step that reaches the least-squares fit
		enter, drop := -1, -1
		for j := 0; j < p; j++ {
			if inActive[j] || excluded[j] {
				continue
			}
			aj := 0.0
			for l := 0; l < p; l++ {
				aj += g[j*p+l] * d[l]
			}
			for _, cand := range [2]float64{(C - c[j]) / (aa - aj), (C + c[j]) / (aa + aj)} {
				if cand > 1e-12*gamma && cand < gamma {
					gamma, enter = cand, j
				}
			}
		}
		for _, j := range active {
			if d[j] == 0 {
				continue
			}
			if cand := -beta[j] / d[j]; cand > 1e-12*(C/aa) && cand < gamma {
				gamma, drop = cand, j
			}
		}
		if drop >= 0 {
			enter = -1
		}
		for _, j := range active {
			beta[j] += gamma * d[j]
		}
		if drop >= 0 {
			beta[drop] = 0
			inActive[drop] = false
			for a, j := range active {
				if j == drop {
					active = append(active[:a], active[a+1:]...)
					break
				}
			}
		}
		path = append(path, append([]float64(nil), beta...))
		lambdas = append(lambdas, math.Max(0, C-gamma*aa))
		if enter < 0 && drop < 0 {
			break // least-squares end of the path
		}
		if enter >= 0 {
			pending = enter
		}
	}
	return path, lambdas
}

// lassoSelect implements LIME's "lasso_path" selection: centre data and y
// with the sample weights, scale rows by sqrt(w), compute the lasso path and
// walk it from the least regularised end back to the first point with at
// most k non-zero coefficients.
func lassoSelect(data [][]float64, y, w []float64, k int) ([]int, error) {
	p := len(data[0])
	sw := 0.0
	xm := make([]float64, p)
	ym := 0.0
	for i, row := range data {
		sw += w[i]
		ym += w[i] * y[i]
		for j, v := range row {
			xm[j] += w[i] * v
		}
	}
	ym /= sw
	for j := range xm {
		xm[j] /= sw
	}
	wd := make([][]float64, len(data))
	wy := make([]float64, len(data))
	for i, row := range data {
		sq := math.Sqrt(w[i])
		r := make([]float64, p)
		for j, v := range row {
			r[j] = (v - xm[j]) * sq
		}
		wd[i] = r
		wy[i] = (y[i] - ym) * sq
	}
	path, _, err := LassoPath(wd, wy)
	if err != nil {
		return nil, err
	}
	nonzero := func(b []float64) []int {
		var u []int
		for j, v := range b {
			if v != 0 {
				u = append(u, j)
			}
		}
		return u
	}
	// With an empty path (no signal) LIME keeps every feature.
	used := make([]int, p)
	for j := range used {
		used[j] = j
	}
	for i := len(path) - 1; i > 0; i-- {
		used = nonzero(path[i])
		if len(used) <= k {
			break
		}
	}
	return used, nil
}
