package blas

import (
	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// pureGo is the gonum implementation. gonum's BLAS is row-major like this
// package, so arguments pass straight through.
type pureGo struct{}

func gonumBackend(notes []string) *backend {
	return &backend{
		multi:  pureGo{},
		single: pureGo{},
		info:   Backend{Name: "gonum", Notes: notes},
	}
}

func trans(t bool) gblas.Transpose {
	if t {
		return gblas.Trans
	}
	return gblas.NoTrans
}

func (pureGo) sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gonum.Implementation{}.Sgemm(trans(tA), trans(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func (pureGo) dgemm(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	gonum.Implementation{}.Dgemm(trans(tA), trans(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func (pureGo) sgemv(tA bool, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int) {
	gonum.Implementation{}.Sgemv(trans(tA), m, n, alpha, a, lda, x, incX, beta, y, incY)
}
