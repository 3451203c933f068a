package tensor

import (
	"github.com/arp-robustness/arp/blas"
	"github.com/arp-robustness/arp/kernels"
)

// SetWorkers sets how many goroutines kernels split their work across
// (default GOMAXPROCS). n < 1 means 1. It sets kernels.SetWorkers, the one
// setting of the engine's parallelism, and the BLAS library's threads when
// package blas computes the matrix products (ARP_BLAS).
func SetWorkers(n int) {
	kernels.SetWorkers(n)
	if _, ok := gemm.(blasGemm); ok {
		blas.SetThreads(max(n, 1))
	}
}

// Workers returns the number of goroutines kernels use.
func Workers() int { return kernels.Workers() }

// ParallelFor runs fn over [0,n) split into contiguous chunks on up to
// Workers() goroutines. Chunks smaller than grain items are not split
// further. A panic in a worker (a kernel's checked error) is raised again
// on the caller's goroutine, where autograd.Try and the command's error
// handling can see it.
func ParallelFor(n, grain int, fn func(lo, hi int)) { kernels.ParallelFor(n, grain, fn) }
