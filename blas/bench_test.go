package blas

import (
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// benchImpls are the implementations benchmarked: gonum, OpenBLAS with this
// package's default core type (SkylakeX on AVX-512 CPUs), and OpenBLAS
// forced to other core types. Each OpenBLAS core type is a separate copy of
// the library (see openLib), so they can be compared in one process.
var benchImpls = []struct{ name, impl, core string }{
	{"gonum", "go", ""},
	{"openblas", "openblas", ""},
	{"openblas-Cooperlake", "openblas", "Cooperlake"},
	{"openblas-Haswell", "openblas", "Haswell"},
}

func useBench(b *testing.B, impl, core string) {
	b.Helper()
	old, had := os.LookupEnv("ARP_BLAS_CORETYPE")
	os.Setenv("ARP_BLAS_CORETYPE", core)
	err := Use(impl)
	if had {
		os.Setenv("ARP_BLAS_CORETYPE", old)
	} else {
		os.Unsetenv("ARP_BLAS_CORETYPE")
	}
	if err != nil {
		b.Skipf("%s unavailable: %v", impl, err)
	}
	if c := Current(); core != "" && c.Core != "" && c.Core != core {
		b.Skipf("asked for core %s, got %s", core, c.Core)
	}
	b.Cleanup(resetImpl)
}

// convShapes are GEMMs of a CifarNet-like network, one image each:
// m = output channels, k = input channels × kernel area, n = output pixels.
var convShapes = []struct {
	name    string
	m, n, k int
	tA, tB  bool
}{
	{"conv1_64x1024x75", 64, 1024, 75, false, false},
	{"conv2_64x1024x1600", 64, 1024, 1600, false, false},
	{"conv2_64x256x1600", 64, 256, 1600, false, false},
	{"dW_64x1600x1024_NT", 64, 1600, 1024, false, true}, // weight gradient: dY · colsᵀ
	{"dX_1600x1024x64_TN", 1600, 1024, 64, true, false}, // input gradient: Wᵀ · dY
	{"square_512", 512, 512, 512, false, false},
}

func BenchmarkSgemm(b *testing.B) {
	for _, im := range benchImpls {
		b.Run(im.name, func(b *testing.B) {
			useBench(b, im.impl, im.core)
			b.Logf("%s", Info())
			for _, s := range convShapes {
				b.Run(s.name, func(b *testing.B) {
					benchGemm(b, Sgemm, s.m, s.n, s.k, s.tA, s.tB)
				})
			}
		})
	}
}

// BenchmarkSgemmSingle measures one core. Its GFLOP/cpu-s metric compares
// the kernels of different core types even on a busy machine.
func BenchmarkSgemmSingle(b *testing.B) {
	for _, im := range benchImpls {
		b.Run(im.name, func(b *testing.B) {
			useBench(b, im.impl, im.core)
			for _, s := range convShapes {
				b.Run(s.name, func(b *testing.B) {
					benchGemm(b, SgemmSingle, s.m, s.n, s.k, s.tA, s.tB)
				})
			}
		})
	}
}

func BenchmarkDgemm(b *testing.B) {
	for _, im := range benchImpls[:2] {
		b.Run(im.name, func(b *testing.B) {
			useBench(b, im.impl, im.core)
			rng := rand.New(rand.NewPCG(1, 1))
			const m, n, k = 64, 1024, 1600
			x, y, z := randD(rng, m*k), randD(rng, k*n), make([]float64, m*n)
			b.ResetTimer()
			cpu0 := cpuSeconds()
			for range b.N {
				Dgemm(false, false, m, n, k, 1, x, k, y, n, 0, z, n)
			}
			reportGFLOPS(b, m, n, k, cpu0)
		})
	}
}

func benchGemm(b *testing.B, gemm sgemmFunc, m, n, k int, tA, tB bool) {
	rng := rand.New(rand.NewPCG(1, 1))
	lda, ldb := k, n
	if tA {
		lda = m
	}
	if tB {
		ldb = k
	}
	x, y, z := randS(rng, m*k), randS(rng, k*n), make([]float32, m*n)
	gemm(tA, tB, m, n, k, 1, x, lda, y, ldb, 0, z, n) // warm up
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for range b.N {
		gemm(tA, tB, m, n, k, 1, x, lda, y, ldb, 0, z, n)
	}
	reportGFLOPS(b, m, n, k, cpu0)
}

// reportGFLOPS reports the GEMM rate per second of wall time and per second
// of CPU time used by the process since cpu0 (see cpuSeconds). On a busy
// machine the second is the steadier measure of kernel speed; it counts
// OpenBLAS threads that spin while waiting, too.
func reportGFLOPS(b *testing.B, m, n, k int, cpu0 float64) {
	flop := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
	b.ReportMetric(flop/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(flop/cpu/1e9, "GFLOP/cpu-s")
	}
}

// cpuSeconds is the user+system CPU time of the process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// The batch benchmark: a convolution layer over a batch of 50 images, each
// a 64×1600 by 1600×1024 product (m, k, n). The images' patch matrices sit
// side by side in one 1600×51200 matrix, so the same data can be multiplied
// per image or in one GEMM.
const (
	batchImages        = 50
	batchM, batchK, bN = 64, 1600, 1024
)

var batchData = sync.OnceValues(func() ([]float32, []float32) {
	rng := rand.New(rand.NewPCG(2, 2))
	return randS(rng, batchM*batchK), randS(rng, batchK*bN*batchImages)
})

// BenchmarkConvBatch compares ways of running the batch on all cores:
//
//   - one-gemm: a single GEMM with n = 50·1024, library threads;
//   - per-image: 50 GEMMs one after another, library threads;
//   - goroutines-single: NumCPU goroutines, each running its share of the
//     images with SgemmSingle;
//   - goroutines-sgemm: the same with Sgemm, so the goroutines share the
//     library's thread pool.
func BenchmarkConvBatch(b *testing.B) {
	for _, im := range benchImpls {
		b.Run(im.name, func(b *testing.B) {
			useBench(b, im.impl, im.core)
			w, cols := batchData()
			ldb := bN * batchImages
			out := make([]float32, batchM*ldb)
			image := func(gemm sgemmFunc, i int) {
				gemm(false, false, batchM, bN, batchK, 1, w, batchK, cols[i*bN:], ldb, 0, out[i*bN:], ldb)
			}
			parallel := func(gemm sgemmFunc) {
				workers := runtime.NumCPU()
				var wg sync.WaitGroup
				for g := range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := g; i < batchImages; i += workers {
							image(gemm, i)
						}
					}()
				}
				wg.Wait()
			}
			cases := []struct {
				name string
				run  func()
			}{
				{"one-gemm", func() { Sgemm(false, false, batchM, ldb, batchK, 1, w, batchK, cols, ldb, 0, out, ldb) }},
				{"per-image", func() {
					for i := range batchImages {
						image(Sgemm, i)
					}
				}},
				{"goroutines-single", func() { parallel(SgemmSingle) }},
				{"goroutines-sgemm", func() { parallel(Sgemm) }},
			}
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					c.run()
					b.ResetTimer()
					cpu0 := cpuSeconds()
					for range b.N {
						c.run()
					}
					reportGFLOPS(b, batchM, bN*batchImages, batchK, cpu0)
					b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/batch")
				})
			}
		})
	}
}
