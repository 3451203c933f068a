package blas

import "fmt"

// Sgemm computes C = alpha*op(A)*op(B) + beta*C in float32, where op(X) is X
// or, if the matching trans flag is set, its transpose. All matrices are
// row-major; op(A) is m×k, op(B) is k×n and C is m×n. lda, ldb and ldc are
// row strides: A is stored as m rows of k (k rows of m if transA) with
// consecutive rows lda elements apart, and likewise for B and C. As in BLAS,
// when beta == 0 the old contents of C are not read (NaNs there do not
// propagate).
//
// Sgemm uses up to Threads() threads. It is safe to call from several
// goroutines at once; see the package documentation for which call to use
// when the caller already runs one GEMM per core.
//
// Sgemm panics, naming blas.Sgemm and the sizes, if a dimension is negative,
// a stride is smaller than its row, or a slice is too short: those are
// programming errors.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm("blas.Sgemm", transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleS(m, n, beta, c, ldc)
		return
	}
	get().multi.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmSingle is Sgemm computed on the calling goroutine's thread alone. It
// is meant for batch-parallel code that already runs one GEMM per core from
// several goroutines, where BLAS threads would only compete with them. With
// OpenBLAS it uses a second, single-threaded copy of the library when that
// could be loaded (Current().SingleInstance), and otherwise the main copy.
func SgemmSingle(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm("blas.SgemmSingle", transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleS(m, n, beta, c, ldc)
		return
	}
	get().single.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dgemm is Sgemm for float64.
func Dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	checkGemm("blas.Dgemm", transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleD(m, n, beta, c, ldc)
		return
	}
	get().multi.dgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// DgemmSingle is SgemmSingle for float64.
func DgemmSingle(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	checkGemm("blas.DgemmSingle", transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleD(m, n, beta, c, ldc)
		return
	}
	get().single.dgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Sgemv computes y = alpha*op(A)*x + beta*y in float32, where A is a
// row-major m×n matrix with row stride lda and op(A) is A or, if transA,
// its transpose. x has n elements (m if transA) incX apart and y has m
// elements (n if transA) incY apart; incX and incY must be positive. As in
// BLAS, y is not read when beta == 0. Sgemv panics like Sgemm on bad sizes.
func Sgemv(transA bool, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int) {
	lenX, lenY := n, m
	if transA {
		lenX, lenY = m, n
	}
	switch {
	case m < 0 || n < 0:
		panicf("blas.Sgemv: negative dimension m=%d n=%d", m, n)
	case lda < max(1, n):
		panicf("blas.Sgemv: lda=%d < max(1, n=%d)", lda, n)
	case incX <= 0 || incY <= 0:
		panicf("blas.Sgemv: incX=%d, incY=%d must be positive", incX, incY)
	case !fits(len(a), m, n, lda):
		panicf("blas.Sgemv: len(a)=%d too short for %d×%d with lda=%d", len(a), m, n, lda)
	case !fits(len(x), lenX, 1, incX):
		panicf("blas.Sgemv: len(x)=%d too short for %d elements with incX=%d", len(x), lenX, incX)
	case !fits(len(y), lenY, 1, incY):
		panicf("blas.Sgemv: len(y)=%d too short for %d elements with incY=%d", len(y), lenY, incY)
	}
	if lenY == 0 {
		return
	}
	if lenX == 0 || alpha == 0 {
		for i := range lenY {
			if beta == 0 {
				y[i*incY] = 0
			} else {
				y[i*incY] *= beta
			}
		}
		return
	}
	get().multi.sgemv(transA, m, n, alpha, a, lda, x, incX, beta, y, incY)
}

// checkGemm panics if the arguments of a GEMM named fn are inconsistent.
func checkGemm(fn string, tA, tB bool, m, n, k, lenA, lda, lenB, ldb, lenC, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panicf("%s: negative dimension m=%d n=%d k=%d", fn, m, n, k)
	}
	// Stored shapes: A is rowsA×colsA, B is rowsB×colsB.
	rowsA, colsA, nameA := m, k, "m×k"
	if tA {
		rowsA, colsA, nameA = k, m, "k×m (transA)"
	}
	rowsB, colsB, nameB := k, n, "k×n"
	if tB {
		rowsB, colsB, nameB = n, k, "n×k (transB)"
	}
	switch {
	case lda < max(1, colsA):
		panicf("%s: m=%d n=%d k=%d: lda=%d < %d, the row length of A stored %s", fn, m, n, k, lda, max(1, colsA), nameA)
	case ldb < max(1, colsB):
		panicf("%s: m=%d n=%d k=%d: ldb=%d < %d, the row length of B stored %s", fn, m, n, k, ldb, max(1, colsB), nameB)
	case ldc < max(1, n):
		panicf("%s: m=%d n=%d k=%d: ldc=%d < %d, the row length of C (m×n)", fn, m, n, k, ldc, max(1, n))
	case !fits(lenA, rowsA, colsA, lda):
		panicf("%s: m=%d n=%d k=%d: len(a)=%d < %d needed for A stored %s with lda=%d", fn, m, n, k, lenA, need(rowsA, colsA, lda), nameA, lda)
	case !fits(lenB, rowsB, colsB, ldb):
		panicf("%s: m=%d n=%d k=%d: len(b)=%d < %d needed for B stored %s with ldb=%d", fn, m, n, k, lenB, need(rowsB, colsB, ldb), nameB, ldb)
	case !fits(lenC, m, n, ldc):
		panicf("%s: m=%d n=%d k=%d: len(c)=%d < %d needed for C (m×n) with ldc=%d", fn, m, n, k, lenC, need(m, n, ldc), ldc)
	}
}

// need is the slice length a rows×cols matrix with row stride ld occupies.
func need(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

func fits(length, rows, cols, ld int) bool {
	if rows == 0 || cols == 0 {
		return true
	}
	// Guard the multiplication against overflow on absurd inputs.
	if ld > 0 && rows-1 > (length-cols)/ld {
		return false
	}
	return length >= need(rows, cols, ld)
}

func panicf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// scaleS sets C = beta*C (C = 0 when beta == 0).
func scaleS(m, n int, beta float32, c []float32, ldc int) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		if beta != 1 {
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

func scaleD(m, n int, beta float64, c []float64, ldc int) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		if beta != 1 {
			for j := range row {
				row[j] *= beta
			}
		}
	}
}
