// Package tensor holds arp's dense float32/float64 tensors and the CPU
// operations the autograd engine is built on: broadcasting elementwise
// arithmetic, reductions, transposes, slicing and gathering, matrix products
// through a replaceable GEMM seam (SetGemm; arp's own kernels by default,
// package blas's OpenBLAS or gonum when ARP_BLAS asks for them),
// convolutions and their two gradients (package kernels' AVX-512, AVX2 or
// pure-Go kernels, chosen at run time), max/average pooling and their
// adjoints, bilinear resizing and its adjoint, and the channel-window sum
// of local response normalisation.
//
// # Layout
//
// Tensors are contiguous and row-major. Images are NCHW. Convolution weights
// are [F,C,KH,KW] and the convolution is a cross-correlation, as in
// PyTorch. Reshape returns a view sharing the data; every other operation
// returns a new tensor.
//
// # Errors
//
// Kernels are called by the engine, not with user input: given shapes, ranks
// or dtypes they cannot work with, they panic with a *ShapeError whose
// message names the operation and the shapes ("tensor.MatMul: inner
// dimensions differ: [2 3] ... and [4 5] ..."). autograd.Try turns such a
// panic into an error at an API boundary. Inputs from users (files, flags)
// are validated before they reach the engine.
//
// # Memory
//
// Results are fresh tensors, except inside an Arena (OpenArena): there new
// tensors take recycled storage from the engine's buffer pool, and when
// the arena closes the storage of the tensors handed to Adopt (package
// autograd adopts every op's value and gradient) goes back to the pool,
// unless kept (Keep). Storage the arena did not hand out, or that nothing
// adopted (optimiser state, results of this package's functions called
// directly), is never given back; views share their base's fate. The
// environment variable ARP_ARENA=off switches arenas off; ARP_ARENA_CHECK=1
// makes them fill released storage and uninitialised results with NaN and
// never reuse it, so that a test reading memory the rule gave back fails.
//
// # Parallelism
//
// Kernels split large work over Workers() goroutines (SetWorkers, which
// also sets package kernels' workers); GEMM calls through package blas may
// use the BLAS library's own threads.
package tensor
