package tensor

import (
	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Gemm is the seam all matrix products of the engine go through: row-major
// C = alpha*op(A)*op(B) + beta*C with leading dimensions lda, ldb, ldc.
type Gemm interface {
	Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	Dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int)
}

type gonumGemm struct{}

func tr(t bool) gblas.Transpose {
	if t {
		return gblas.Trans
	}
	return gblas.NoTrans
}

func (gonumGemm) Sgemm(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gonum.Implementation{}.Sgemm(tr(ta), tr(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func (gonumGemm) Dgemm(ta, tb bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	gonum.Implementation{}.Dgemm(tr(ta), tr(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

var gemm Gemm = gonumGemm{}

// SetGemm replaces the matrix-product implementation (nil restores the
// pure-Go gonum one). It is not safe to call while kernels run.
func SetGemm(g Gemm) {
	if g == nil {
		g = gonumGemm{}
	}
	gemm = g
}

// GetGemm returns the matrix-product implementation in use.
func GetGemm() Gemm { return gemm }

func gemmT[T Float](ta, tb bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
		return
	}
	switch any(a).(type) {
	case []float32:
		gemm.Sgemm(ta, tb, m, n, k, float32(alpha), any(a).([]float32), lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		gemm.Dgemm(ta, tb, m, n, k, float64(alpha), any(a).([]float64), lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// MatMul returns op(a) @ op(b) where op transposes the last two dimensions
// when ta or tb is set. Ranks: 2x2, or 3x3 with equal batch size, or 3x2
// (b shared by every batch entry).
func MatMul(a, b *Tensor, ta, tb bool) *Tensor {
	sameDType("tensor.MatMul", a, b)
	ra, rb := len(a.shape), len(b.shape)
	if ra < 2 || ra > 3 || rb < 2 || rb > 3 || (ra == 2 && rb == 3) {
		Panicf("tensor.MatMul", "unsupported ranks: %v and %v", a.shape, b.shape)
	}
	batch := 1
	if ra == 3 {
		batch = a.shape[0]
		if rb == 3 && b.shape[0] != batch {
			Panicf("tensor.MatMul", "batch sizes differ: %v and %v", a.shape, b.shape)
		}
	}
	ar, ac := a.shape[ra-2], a.shape[ra-1]
	br, bc := b.shape[rb-2], b.shape[rb-1]
	m, k := ar, ac
	if ta {
		m, k = ac, ar
	}
	k2, n := br, bc
	if tb {
		k2, n = bc, br
	}
	if k != k2 {
		Panicf("tensor.MatMul", "inner dimensions differ: %v (transposed %v) and %v (transposed %v)", a.shape, ta, b.shape, tb)
	}
	var out *Tensor
	if ra == 3 {
		out = Zeros(a.dtype, batch, m, n)
	} else {
		out = Zeros(a.dtype, m, n)
	}
	sa, sb, sc := ar*ac, br*bc, m*n
	if rb == 2 {
		sb = 0
	}
	if ra == 3 && rb == 2 && !ta {
		// fold the batch into the rows: one large product
		if a.dtype == Float32 {
			gemmT(false, tb, batch*m, n, k, 1, a.f32, ac, b.f32, bc, 0, out.f32, n)
		} else {
			gemmT(false, tb, batch*m, n, k, 1, a.f64, ac, b.f64, bc, 0, out.f64, n)
		}
		return out
	}
	for i := 0; i < batch; i++ {
		if a.dtype == Float32 {
			gemmT(ta, tb, m, n, k, 1, a.f32[i*sa:(i+1)*sa], ac, b.f32[i*sb:i*sb+br*bc], bc, 0, out.f32[i*sc:(i+1)*sc], n)
		} else {
			gemmT(ta, tb, m, n, k, 1, a.f64[i*sa:(i+1)*sa], ac, b.f64[i*sb:i*sb+br*bc], bc, 0, out.f64[i*sc:(i+1)*sc], n)
		}
	}
	return out
}
