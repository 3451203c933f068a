package tensor

import (
	"fmt"
	"os"
	"strings"

	"github.com/arp-robustness/arp/blas"
	"github.com/arp-robustness/arp/kernels"
)

// Gemm is the seam all matrix products of the engine go through: row-major
// C = alpha*op(A)*op(B) + beta*C with leading dimensions lda, ldb, ldc. The
// Single variants run on the calling goroutine's thread only (for kernels
// that already run one product per core).
type Gemm interface {
	Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	Dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int)
	SgemmSingle(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	DgemmSingle(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int)
}

// kernelsGemm is arp's own packed GEMM (package kernels) on the CPU path
// in use (AVX-512, AVX2 or pure Go).
type kernelsGemm struct{}

func (kernelsGemm) Sgemm(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kernels.Gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func (kernelsGemm) Dgemm(ta, tb bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	kernels.Gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func (kernelsGemm) SgemmSingle(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kernels.GemmSingle(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func (kernelsGemm) DgemmSingle(ta, tb bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	kernels.GemmSingle(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// blasGemm is package blas: the system's OpenBLAS when it loads (chosen at
// run time, see package blas and ARP_BLAS), else gonum's pure Go.
type blasGemm struct{}

func (blasGemm) Sgemm(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	blas.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func (blasGemm) Dgemm(ta, tb bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	blas.Dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func (blasGemm) SgemmSingle(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	blas.SgemmSingle(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func (blasGemm) DgemmSingle(ta, tb bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	blas.DgemmSingle(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// defaultGemm is arp's own kernels unless ARP_BLAS names another
// implementation (openblas, go/gonum or a library path: package blas).
func defaultGemm() Gemm {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("ARP_BLAS"))) {
	case "", "auto", "arp", "kernels":
		return kernelsGemm{}
	}
	return blasGemm{}
}

var gemm = defaultGemm()

// SetGemm replaces the matrix-product implementation of dense layers and
// MatMul (nil restores the default: arp's own kernels, or package blas if
// ARP_BLAS asks for it). Convolutions always use package kernels. It is
// not safe to call while kernels run.
func SetGemm(g Gemm) {
	if g == nil {
		g = defaultGemm()
	}
	gemm = g
}

// GetGemm returns the matrix-product implementation in use.
func GetGemm() Gemm { return gemm }

// GemmInfo describes the matrix-product implementation in use in one line.
func GemmInfo() string {
	switch gemm.(type) {
	case kernelsGemm:
		return "arp kernels (" + kernels.Current().String() + ")"
	case blasGemm:
		s := "package blas (ARP_BLAS): " + blas.Info()
		if err := blas.Init(); err != nil {
			s += " (" + err.Error() + ")"
		}
		return s
	}
	return fmt.Sprintf("%T", gemm)
}

func gemmT[T Float](ta, tb bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	gemmX(false, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemmSingleT is gemmT on the calling goroutine's thread only.
func gemmSingleT[T Float](ta, tb bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	gemmX(true, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func gemmX[T Float](single, ta, tb bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
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
	switch av := any(a).(type) {
	case []float32:
		bv, cv := any(b).([]float32), any(c).([]float32)
		if single {
			gemm.SgemmSingle(ta, tb, m, n, k, float32(alpha), av, lda, bv, ldb, float32(beta), cv, ldc)
		} else {
			gemm.Sgemm(ta, tb, m, n, k, float32(alpha), av, lda, bv, ldb, float32(beta), cv, ldc)
		}
	case []float64:
		bv, cv := any(b).([]float64), any(c).([]float64)
		if single {
			gemm.DgemmSingle(ta, tb, m, n, k, float64(alpha), av, lda, bv, ldb, float64(beta), cv, ldc)
		} else {
			gemm.Dgemm(ta, tb, m, n, k, float64(alpha), av, lda, bv, ldb, float64(beta), cv, ldc)
		}
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
	oshape := []int{m, n}
	if ra == 3 {
		oshape = []int{batch, m, n}
	}
	var out *Tensor
	if k > 0 {
		out = newOut(a.dtype, oshape...) // the products (beta 0) write every element
	} else {
		out = Zeros(a.dtype, oshape...)
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

// MatMulBias returns x @ w^T + b for x [N,in], w [out,in], b [out]: the
// bias rows are written first and the product accumulated onto them.
func MatMulBias(x, w, b *Tensor) *Tensor {
	sameDType("tensor.MatMulBias", x, w)
	sameDType("tensor.MatMulBias", x, b)
	if len(x.shape) != 2 || len(w.shape) != 2 || x.shape[1] != w.shape[1] || len(b.shape) != 1 || b.shape[0] != w.shape[0] {
		Panicf("tensor.MatMulBias", "want x [N,in], w [out,in], b [out], got %v, %v, %v", x.shape, w.shape, b.shape)
	}
	n, k, m := x.shape[0], x.shape[1], w.shape[0]
	out := Zeros(x.dtype, n, m)
	if x.dtype == Float32 {
		for i := 0; i < n; i++ {
			copy(out.f32[i*m:(i+1)*m], b.f32)
		}
		gemmT(false, true, n, m, k, 1, x.f32, k, w.f32, k, 1, out.f32, m)
	} else {
		for i := 0; i < n; i++ {
			copy(out.f64[i*m:(i+1)*m], b.f64)
		}
		gemmT(false, true, n, m, k, 1, x.f64, k, w.f64, k, 1, out.f64, m)
	}
	return out
}

// AddChannelBias adds b[c] to every element of channel c of y [N,C,...]
// in place.
func AddChannelBias(y, b *Tensor) {
	sameDType("tensor.AddChannelBias", y, b)
	if len(y.shape) < 2 || len(b.shape) != 1 || b.shape[0] != y.shape[1] {
		Panicf("tensor.AddChannelBias", "bias %v does not match %v", b.shape, y.shape)
	}
	n, c := y.shape[0], y.shape[1]
	inner := y.Size() / max(n*c, 1)
	ParallelFor(n*c, 4, func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			if y.dtype == Float32 {
				v := b.f32[nc%c]
				row := y.f32[nc*inner : (nc+1)*inner]
				for i := range row {
					row[i] += v
				}
			} else {
				v := b.f64[nc%c]
				row := y.f64[nc*inner : (nc+1)*inner]
				for i := range row {
					row[i] += v
				}
			}
		}
	})
}

// MulAddChannels returns x*scale[c] + shift[c] on every element of channel
// c of x [N,C,...], the product rounded before the sum: bit for bit
// Add(Mul(x, scale), shift) with scale and shift of shape [1,C,1,...], in
// one pass (an input normalisation at inference). scale and shift hold C
// values each, in any shape. The result's storage comes from the buffer
// pool (Scratch): give it back with Recycle once unused, or leave it to
// the collector.
func MulAddChannels(x, scale, shift *Tensor) *Tensor {
	const op = "tensor.MulAddChannels"
	sameDType(op, x, scale)
	sameDType(op, x, shift)
	if len(x.shape) < 2 || scale.Size() != x.shape[1] || shift.Size() != x.shape[1] {
		Panicf(op, "scale %v and shift %v do not match the channels of %v", scale.shape, shift.shape, x.shape)
	}
	out := Scratch(x.dtype, x.shape...)
	if x.dtype == Float32 {
		mulAddChannels(x.f32, scale.f32, shift.f32, out.f32, x.shape[0]*x.shape[1])
	} else {
		mulAddChannels(x.f64, scale.f64, shift.f64, out.f64, x.shape[0]*x.shape[1])
	}
	return out
}

func mulAddChannels[T Float](x, scale, shift, out []T, planes int) {
	c := len(scale)
	inner := len(x) / max(planes, 1)
	ParallelFor(planes, max(1, elemGrain/max(inner, 1)), func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			s, h := scale[nc%c], shift[nc%c]
			xr, or := x[nc*inner:(nc+1)*inner], out[nc*inner:(nc+1)*inner]
			done := 0
			if x32, ok := any(xr).([]float32); ok {
				// whole vectors in assembly (AVX-512): the product, then the
				// sum, each rounded as below
				o32 := any(or).([]float32)
				sv, hv := [1]float32{any(s).(float32)}, [1]float32{any(h).(float32)}
				if done = kernels.Binary32(kernels.BinMul, x32, 1, sv[:], 0, o32); done > 0 {
					kernels.Binary32(kernels.BinAdd, o32[:done], 1, hv[:], 0, o32[:done])
				}
			}
			for i := done; i < len(xr); i++ {
				or[i] = T(xr[i]*s) + h // T(): the product rounded, never fused
			}
		}
	})
}
