package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveGemm is the reference: float64 sums in the order of k.
func naiveGemm[T Float](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) []float64 {
	out := make([]float64, len(c))
	for i := range c {
		out[i] = float64(c[i])
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for t := 0; t < k; t++ {
				ia, ib := i*lda+t, t*ldb+j
				if tA {
					ia = t*lda + i
				}
				if tB {
					ib = j*ldb + t
				}
				av, bv := a[ia], b[ib]
				s += float64(av) * float64(bv)
			}
			v := float64(alpha) * s
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
			}
			out[i*ldc+j] = v
		}
	}
	return out
}

// forEachPath runs fn with every path this CPU supports forced.
func forEachPath(t *testing.T, fn func(t *testing.T)) {
	prev := Current()
	defer Use(prev)
	for _, p := range []Path{AVX512, AVX2, Go} {
		if !Supported(p) {
			continue
		}
		t.Run(p.String(), func(t *testing.T) {
			if err := Use(p); err != nil {
				t.Fatal(err)
			}
			fn(t)
		})
	}
}

func randSlice[T Float](rng *rand.Rand, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = T(rng.NormFloat64())
	}
	return s
}

func checkGemm[T Float](t *testing.T, rng *rand.Rand, workers int, tA, tB bool, m, n, k int, alpha, beta T) {
	t.Helper()
	lda, ldb, ldc := k+rng.IntN(3), n+rng.IntN(3), n+rng.IntN(3)
	ra, rb := m, k
	if tA {
		lda, ra = m+rng.IntN(3), k
	}
	if tB {
		ldb, rb = k+rng.IntN(3), n
	}
	a := randSlice[T](rng, max(ra*lda, 1))
	b := randSlice[T](rng, max(rb*ldb, 1))
	c := randSlice[T](rng, max(m*ldc, 1))
	if beta == 0 {
		for i := range c {
			c[i] = T(math.NaN()) // must not be read
		}
	}
	want := naiveGemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	gemmWorkers(workers, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	tol := 2e-5 * math.Sqrt(float64(k+1))
	if _, ok := any(a).([]float64); ok {
		tol = 1e-12 * float64(k+1)
	}
	for i := 0; i < m; i++ {
		for j := 0; j < ldc && i*ldc+j < len(c); j++ {
			got, w := float64(c[i*ldc+j]), want[i*ldc+j]
			if j >= n { // padding between rows is untouched
				if !(got == w || math.IsNaN(got) && math.IsNaN(w)) {
					t.Fatalf("tA=%v tB=%v m=%d n=%d k=%d: padding c[%d][%d] changed", tA, tB, m, n, k, i, j)
				}
				continue
			}
			if math.Abs(got-w) > tol*(1+math.Abs(w)) || math.IsNaN(got) {
				t.Fatalf("workers=%d tA=%v tB=%v m=%d n=%d k=%d alpha=%v beta=%v: c[%d][%d] = %v, want %v",
					workers, tA, tB, m, n, k, alpha, beta, i, j, got, w)
			}
		}
	}
}

func TestGemmAgainstNaive(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		sizes := []int{1, 2, 5, 6, 7, 15, 16, 17, 33, 64, 65, 150}
		for trial := 0; trial < 120; trial++ {
			m, n, k := sizes[rng.IntN(len(sizes))], sizes[rng.IntN(len(sizes))], sizes[rng.IntN(len(sizes))]
			if trial%10 == 0 {
				k = gemmKC + 1 + rng.IntN(40) // several k blocks
			}
			if trial%17 == 0 {
				m = gemmMC + 7 // several m blocks
			}
			tA, tB := rng.IntN(2) == 1, rng.IntN(2) == 1
			alpha := []float32{1, 1, -0.5}[rng.IntN(3)]
			beta := []float32{0, 1, 0.25}[rng.IntN(3)]
			checkGemm(t, rng, 1+rng.IntN(3), tA, tB, m, n, k, alpha, beta)
			checkGemm(t, rng, 1+rng.IntN(3), tA, tB, m, n, k, float64(alpha), float64(beta))
		}
		// products of at least gemmBigM rows (on one worker, which takes
		// all of them) take k blocks of gemmKCBig
		for _, tr := range [][2]bool{{false, false}, {true, true}} {
			checkGemm[float32](t, rng, 1, tr[0], tr[1], gemmBigM+5, 20, gemmKCBig+37, 1, 0.25)
		}
		// a C larger than gemmPrefetchC: the kernels prefetch its tiles
		checkGemm[float32](t, rng, 1, false, true, 1030, 1030, 37, 1, 0.25)
		// k = 0 and alpha = 0 scale C by beta
		checkGemm[float32](t, rng, 2, false, false, 5, 7, 0, 1, 0.5)
		checkGemm[float32](t, rng, 2, false, true, 5, 7, 3, 0, 0)
	})
}

// BenchmarkGemm times square products and the shapes of CifarNet's dense
// layer fc3 at batch 50 (forward, input gradient, weight gradient), as
// arp bench --peak runs them.
func BenchmarkGemm(b *testing.B) {
	type shape struct {
		m, n, k int
		tA, tB  bool
	}
	var shapes []shape
	for _, n := range []int{256, 512, 1024, 2048} {
		shapes = append(shapes, shape{n, n, n, false, false}, shape{n, n, n, false, true})
	}
	shapes = append(shapes, shape{50, 384, 4096, false, true}, shape{50, 4096, 384, false, false},
		shape{384, 4096, 50, true, false}, shape{64, 256, 1600, false, false})
	for _, s := range shapes {
		m, n, k := s.m, s.n, s.k
		rng := rand.New(rand.NewPCG(1, 1))
		a, bb, c := randSlice[float32](rng, m*k), randSlice[float32](rng, k*n), make([]float32, m*n)
		lda, ldb := k, n
		if s.tA {
			lda = m
		}
		if s.tB {
			ldb = k
		}
		b.Run(fmt.Sprintf("%s/%dx%dx%d/tA=%v/tB=%v", Current(), m, n, k, s.tA, s.tB), func(b *testing.B) {
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				Gemm(s.tA, s.tB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
			}
			reportFlops(b, 2*float64(m*n*k), cpu0)
		})
	}
}
