package kernels

import "unsafe"

// ReluGrad32 sets out[i] = gy[i] where y[i] > 0 and +0 elsewhere (a
// ReLU's input gradient given its output y; y's sign bit clear and not all
// bits zero counts as positive, a positive NaN too) for the leading whole
// vectors of out on the AVX-512 and AVX2 paths, and returns how many
// elements it set (a multiple of the vector length; 0 on the Go path); the
// caller computes the rest. gy and y are at least as long as out.
func ReluGrad32(gy, y, out []float32) int {
	n := vecPrefix(len(out))
	if n == 0 {
		return 0
	}
	_, _ = gy[n-1], y[n-1] // bounds: the kernels read n elements of each
	pg, py, po := unsafe.Pointer(&gy[0]), unsafe.Pointer(&y[0]), unsafe.Pointer(&out[0])
	if Current() == AVX512 {
		reluGrad512(pg, py, po, n)
	} else {
		reluGrad256(pg, py, po, n)
	}
	return n
}

// AddRelu32 sets out[i] = a[i] + b[i], every bit cleared where the sum's
// sign bit is set (tensor.Relu's float32 ReLU: -0 and negative NaNs
// become +0), for the leading whole vectors of out on the AVX-512 and AVX2
// paths, and returns how many elements it set (0 on the Go path); the
// caller computes the rest. The same bits as a Go loop.
func AddRelu32(a, b, out []float32) int {
	n := vecPrefix(len(out))
	if n == 0 {
		return 0
	}
	_, _ = a[n-1], b[n-1]
	pa, pb, po := unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), unsafe.Pointer(&out[0])
	if Current() == AVX512 {
		addRelu512(pa, pb, po, n)
	} else {
		addRelu256(pa, pb, po, n)
	}
	return n
}

// vecPrefix returns how many of n elements the elementwise vector kernels
// of the current path take: whole vectors of 16 (AVX-512) or 8 (AVX2),
// none on the Go path.
func vecPrefix(n int) int {
	switch Current() {
	case AVX512:
		return n &^ 15
	case AVX2:
		return n &^ 7
	}
	return 0
}
