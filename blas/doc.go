// Package blas is the optional external-BLAS seam of arp's tensor engine:
// row-major matrix products in float32 ([Sgemm], [SgemmSingle], [Sgemv])
// and float64 ([Dgemm], [DgemmSingle]) computed either by the system's
// OpenBLAS or by gonum's pure-Go BLAS. The engine computes with its own
// kernels (package kernels) unless ARP_BLAS names an implementation here
// (see tensor.SetGemm); this package is kept as the reference the kernels
// are compared with and for machines where a system BLAS is faster.
//
// # Implementations
//
// The pure-Go implementation (gonum.org/v1/gonum/blas/gonum) is always
// available. OpenBLAS, or any library exporting cblas_sgemm and
// cblas_dgemm, is loaded at run time with dlopen: building needs no BLAS
// headers or libraries, and a binary built here runs where none is
// installed. Loading needs cgo; a binary built with CGO_ENABLED=0 always
// uses gonum.
//
// The implementation is chosen lazily on first use, from the environment
// variable ARP_BLAS:
//
//	auto (default)  OpenBLAS if a library loads and passes the self-test, else gonum
//	go, gonum       pure Go
//	openblas        the first CBLAS library found; gonum plus an error from Init if none
//	/path/lib.so    that library
//
// Libraries are tried in this order: libopenblas.so.0, libopenblas.so,
// OpenBLAS files in the usual directories (Debian's
// /usr/lib/<triplet>/openblas-pthread/libopenblasp-r0.3.*.so and similar),
// libblis.so.4, libmkl_rt.so, libcblas.so.3 and libblas.so.3; the last ones
// count only if they export the CBLAS functions. [Use] switches
// implementation explicitly, [Info] and [Current] describe the one in use,
// including the reasons for any fallback; `arp version` prints [Info].
//
// # OpenBLAS kernels
//
// OpenBLAS built with DYNAMIC_ARCH (Debian's package) contains kernels for
// many CPUs and picks a "core type" when it is loaded, reading the
// environment variable OPENBLAS_CORETYPE if set. Its own choice is not
// always the fastest, and environments sometimes set OPENBLAS_CORETYPE to a
// conservative value such as Haswell (AVX2), which halves sgemm throughput
// or worse on AVX-512 CPUs. This package therefore sets OPENBLAS_CORETYPE
// itself while loading the library, from ARP_BLAS_CORETYPE:
//
//	auto (default)  SkylakeX if the CPU has AVX-512 F, BW, VL, DQ and CD;
//	                otherwise the library's own choice
//	library         the library's own choice (honouring OPENBLAS_CORETYPE)
//	a core name     that core type, e.g. SkylakeX, Cooperlake, Zen, Haswell;
//	                refused if the CPU lacks the instructions it needs
//
// The previous value of OPENBLAS_CORETYPE is restored right after loading,
// so child processes see the environment unchanged. Because some OpenBLAS
// versions compute wrong results for some core types on some CPUs, every
// loaded copy must pass a self-test (GEMMs of awkward sizes, all transpose
// combinations, both precisions, compared with gonum) before it is used; on
// failure the next choice is tried (the library's own core type, then the
// next library, then gonum) and the failure is recorded in [Info].
//
// # Threads and concurrency
//
// [Sgemm] and [Dgemm] use up to [Threads] threads, runtime.NumCPU() unless
// changed with [SetThreads]. OpenBLAS's thread count is a process-wide
// setting (openblas_set_num_threads), not a per-call one. So that
// batch-parallel code can still run one single-threaded GEMM per core, the
// package loads a second, independent copy of OpenBLAS (with dlmopen, into
// its own linker namespace) fixed to one thread: [SgemmSingle] and
// [DgemmSingle] use it and never touch the first copy's thread pool.
// Current().SingleInstance reports whether that copy exists; without it
// they fall back to the shared copy.
//
// By default OpenBLAS's idle worker threads poll for about 0.1 s after each
// multi-threaded call before they sleep, taking CPU from the goroutines
// that run the engine's other kernels. Unless OPENBLAS_THREAD_TIMEOUT is
// set in the environment, the library is loaded with
// OPENBLAS_THREAD_TIMEOUT=16, so they sleep after about 25 µs (2^16 TSC cycles).
//
// All functions are safe to call from several goroutines at once (OpenBLAS
// 0.3.x built with pthreads is thread-safe; concurrent multi-threaded calls
// share its thread pool). The recommended patterns:
//
//   - one large GEMM, e.g. a layer over the whole batch: call [Sgemm] from
//     one goroutine and let the library use all cores;
//   - many independent GEMMs, e.g. one per image: start runtime.NumCPU()
//     goroutines, each calling [SgemmSingle] on its share; more goroutines
//     than cores gain nothing, since each call holds an OS thread;
//   - do not mix the two at the same moment, and call [SetThreads] only when
//     no GEMM is running.
//
// On a 2-core AMD EPYC with AVX-512, per core and per CPU-second, sgemm of
// convolution-sized products ran at about 15 GFLOP/s in gonum, 100-115 with
// OpenBLAS's Haswell kernels and 145-225 with its SkylakeX kernels. The
// benchmarks (go test -run '^$' -bench . ./blas) report GFLOP/s of wall
// time and of CPU time for each implementation and core type, and compare
// the patterns above on a batch of 50 convolution GEMMs
// (BenchmarkConvBatch).
//
// The pure-Go implementation splits large products over up to GOMAXPROCS
// goroutines by itself; Go's scheduler keeps that from oversubscribing the
// CPU, and the Single variants are the same as the plain ones.
//
// # Errors
//
// Inconsistent arguments (negative sizes, strides shorter than rows, slices
// too short) are programming errors and make the functions panic with a
// message naming the function and the sizes.
package blas
