package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// selfTestShapes are awkward GEMM shapes: tiny, odd, one of them large
// enough for OpenBLAS to split over threads (m*n*k > 64³), one in the range
// of its small-matrix kernels, and strides larger than the rows.
var selfTestShapes = []struct{ m, n, k, pad int }{
	{1, 1, 1, 0},
	{3, 5, 7, 1},
	{17, 9, 31, 3},
	{16, 16, 16, 0},
	{33, 65, 47, 2},
	{67, 131, 257, 5},
	{130, 70, 300, 1},
}

// selfTestFn is the self-test run on every loaded library; tests replace it.
var selfTestFn = selfTest

// selfTest checks g against the pure-Go implementation on selfTestShapes,
// all transpose combinations, float32 and float64, and a few alpha/beta
// pairs. It returns the first mismatch.
func selfTest(g gemmer) error {
	rng := rand.New(rand.NewPCG(4, 0x5e1f7e57))
	ref := pureGo{}
	for _, s := range selfTestShapes {
		for _, ab := range [][2]float64{{1, 0}, {0.75, -0.5}} {
			for combo := range 4 {
				tA, tB := combo&1 != 0, combo&2 != 0
				if err := selfTestS(g, ref, rng, tA, tB, s.m, s.n, s.k, s.pad, float32(ab[0]), float32(ab[1])); err != nil {
					return err
				}
				if err := selfTestD(g, ref, rng, tA, tB, s.m, s.n, s.k, s.pad, ab[0], ab[1]); err != nil {
					return err
				}
			}
		}
	}
	// One matrix-vector product each way.
	for _, tA := range []bool{false, true} {
		m, n := 37, 23
		a := randS(rng, m*(n+2))
		lx, ly := n, m
		if tA {
			lx, ly = m, n
		}
		x := randS(rng, lx)
		y := randS(rng, ly)
		want := append([]float32(nil), y...)
		g.sgemv(tA, m, n, 1.25, a, n+2, x, 1, 0.5, y, 1)
		ref.sgemv(tA, m, n, 1.25, a, n+2, x, 1, 0.5, want, 1)
		if i, d := maxDiffS(y, want); d > 1e-4 {
			return fmt.Errorf("self-test: sgemv transA=%v m=%d n=%d: element %d off by %g", tA, m, n, i, d)
		}
	}
	return nil
}

func selfTestS(g, ref gemmer, rng *rand.Rand, tA, tB bool, m, n, k, pad int, alpha, beta float32) error {
	ra, ca := m, k
	if tA {
		ra, ca = k, m
	}
	rb, cb := k, n
	if tB {
		rb, cb = n, k
	}
	lda, ldb, ldc := ca+pad, cb+pad, n+pad
	a, b, c := randS(rng, ra*lda), randS(rng, rb*ldb), randS(rng, m*ldc)
	if beta == 0 {
		for i := range m { // must not propagate; padding stays finite
			for j := range n {
				c[i*ldc+j] = float32(math.NaN())
			}
		}
	}
	want := append([]float32(nil), c...)
	g.sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	ref.sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc)
	// Inputs are in [-1,1]: each sum has k terms of size <= 1.
	if i, d := maxDiffS(c, want); d > 1e-6*float64(k+4) || math.IsNaN(d) {
		return fmt.Errorf("self-test: sgemm transA=%v transB=%v m=%d n=%d k=%d lda=%d ldb=%d ldc=%d alpha=%g beta=%g: element %d is %g, want %g",
			tA, tB, m, n, k, lda, ldb, ldc, alpha, beta, i, c[i], want[i])
	}
	return nil
}

func selfTestD(g, ref gemmer, rng *rand.Rand, tA, tB bool, m, n, k, pad int, alpha, beta float64) error {
	ra, ca := m, k
	if tA {
		ra, ca = k, m
	}
	rb, cb := k, n
	if tB {
		rb, cb = n, k
	}
	lda, ldb, ldc := ca+pad, cb+pad, n+pad
	a, b, c := randD(rng, ra*lda), randD(rng, rb*ldb), randD(rng, m*ldc)
	if beta == 0 {
		for i := range m {
			for j := range n {
				c[i*ldc+j] = math.NaN()
			}
		}
	}
	want := append([]float64(nil), c...)
	g.dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	ref.dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc)
	if i, d := maxDiffD(c, want); d > 1e-14*float64(k+4) || math.IsNaN(d) {
		return fmt.Errorf("self-test: dgemm transA=%v transB=%v m=%d n=%d k=%d lda=%d ldb=%d ldc=%d alpha=%g beta=%g: element %d is %g, want %g",
			tA, tB, m, n, k, lda, ldb, ldc, alpha, beta, i, c[i], want[i])
	}
	return nil
}

func randS(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 2*rng.Float32() - 1
	}
	return s
}

func randD(rng *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = 2*rng.Float64() - 1
	}
	return s
}

// maxDiffS returns the index and size of the largest absolute difference; a
// NaN on either side counts as NaN.
func maxDiffS(got, want []float32) (int, float64) {
	at, worst := 0, 0.0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			return i, d
		}
		if d > worst {
			at, worst = i, d
		}
	}
	return at, worst
}

func maxDiffD(got, want []float64) (int, float64) {
	at, worst := 0, 0.0
	for i := range got {
		d := math.Abs(got[i] - want[i])
		if math.IsNaN(d) {
			return i, d
		}
		if d > worst {
			at, worst = i, d
		}
	}
	return at, worst
}
