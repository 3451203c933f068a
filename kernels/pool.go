package kernels

import (
	"fmt"
	"unsafe"
)

// MaxPool2x2Row pools the first windows of one output row of a 2x2,
// stride-2 max-pool: window j reads a = r0[2j], b = r0[2j+1], c = r1[2j],
// d = r1[2j+1] (r1 is the row w elements after r0) and stores in idx[j]
// the index base+2j plus the offset of its first maximum in row-major order
// (0, 1, w or w+1 for a, b, c, d; -0 equals +0) and in val[j] the value
// there. It does blocks of 16 windows (the last one masked) on the AVX-512
// path, none on the others, and stops before a block holding a NaN (whose
// exact rules the caller's code applies); it returns how many windows it
// did.
func MaxPool2x2Row(r0, r1 []float32, w int, base int32, idx []int32, val []float32) int {
	if Current() != AVX512 {
		return 0
	}
	n := min(len(idx), len(val), len(r0)/2, len(r1)/2)
	blocks := n / 16
	done := 0
	if blocks > 0 {
		done = 16 * maxPool2x2Block512(unsafe.Pointer(&r0[0]), unsafe.Pointer(&r1[0]), blocks, w, base, &idx[0], &val[0])
		if done < 16*blocks {
			return done // a NaN
		}
	}
	if tail := n - done; tail > 0 {
		j := done
		done += tail * maxPool2x2Tail512(unsafe.Pointer(&r0[2*j]), unsafe.Pointer(&r1[2*j]), tail, w, base+int32(2*j), &idx[j], &val[j])
	}
	return done
}

// MaxPool2x2Values pools rows output rows of a 2x2 max-pool with stride 2
// along rows, values only: output row i, dst[i*ow:(i+1)*ow], takes window
// j from x[i*stride+2j], x[i*stride+2j+1] and the two elements w further
// on, and holds the first of the window's largest values in row-major
// order, bit for bit MaxPool2x2Row's val (-0 and +0 tie: the first wins).
// It runs on the AVX-512 path (none on the others) and stops before a
// row holding a NaN, whose exact rules the caller applies; it returns how
// many rows it did.
func MaxPool2x2Values(x []float32, w, stride, ow, rows int, dst []float32) int {
	if Current() != AVX512 || rows <= 0 || ow <= 0 {
		return 0
	}
	if 2*ow > w || stride < 0 || len(x) < (rows-1)*stride+w+2*ow || len(dst) < rows*ow {
		panic(fmt.Sprintf("kernels.MaxPool2x2Values: %d rows of %d windows (row width %d, stride %d) do not fit %d inputs and %d outputs",
			rows, ow, w, stride, len(x), len(dst)))
	}
	return maxPool2x2Vals512(unsafe.Pointer(&x[0]), w, stride, ow, rows, unsafe.Pointer(&dst[0]))
}

// MaxPool2x2Rows is MaxPool2x2Values with indices: it pools rows output
// rows of a 2x2 max-pool with stride 2 along rows, output row i (ow
// windows) taking window j from x[i*stride+2j], x[i*stride+2j+1] and the
// two elements w further on, and stores in idx[i*ow+j] the index
// base+i*stride+2j plus the offset of the window's first maximum in
// row-major order (0, 1, w or w+1; -0 equals +0) and in val[i*ow+j] the
// value there: row by row, bit for bit MaxPool2x2Row's, in one call
// instead of one per row. It runs on the AVX-512 path (none on the
// others) and stops before a row holding a NaN, whose exact rules the
// caller applies; it returns how many rows it did.
func MaxPool2x2Rows(x []float32, w, stride, ow, rows int, base int32, idx []int32, val []float32) int {
	if Current() != AVX512 || rows <= 0 || ow <= 0 {
		return 0
	}
	if 2*ow > w || stride < 0 || len(x) < (rows-1)*stride+w+2*ow || len(idx) < rows*ow || len(val) < rows*ow {
		panic(fmt.Sprintf("kernels.MaxPool2x2Rows: %d rows of %d windows (row width %d, stride %d) do not fit %d inputs, %d indices and %d values",
			rows, ow, w, stride, len(x), len(idx), len(val)))
	}
	return maxPool2x2Rows512(unsafe.Pointer(&x[0]), w, stride, ow, rows, base, &idx[0], unsafe.Pointer(&val[0]))
}

// MaxPoolGrad2x2Plane writes z [2ph][2pw], one channel plane of a
// max-pool's input gradient, on the AVX-512 and AVX2 paths when the maximum of
// every window (i, j) (index idx[i*pw+j], counted from base for z[0])
// lies in the 2x2 block of z at (2i, 2j): that block gets gy[i*pw+j]
// where y[i*pw+j] > 0 (plus 0) at the maximum and zeros elsewhere. This
// is the scatter of the pooled gradient for 2x2 windows of stride 2, and
// for any pool whose output tiles z so when every maximum happens to lie
// in its block. It returns the sum of the gradients written (summed in
// vector lanes) and true, or false (z partly written) when an index is
// not in its block or the path is the Go one.
func MaxPoolGrad2x2Plane(gy, y []float32, idx []int32, base int32, ph, pw int, z []float32) (float32, bool) {
	n := ph * pw
	if n == 0 || len(gy) < n || len(y) < n || len(idx) < n || len(z) < 4*n {
		return 0, false
	}
	// direct calls: through a function value the noescape promise is
	// lost and s would be a heap allocation per plane
	var s float32
	var ok int
	switch Current() {
	case AVX512:
		ok = maxPoolGrad2x2Plane512(unsafe.Pointer(&gy[0]), unsafe.Pointer(&y[0]), &idx[0], unsafe.Pointer(&z[0]), base, ph, pw, 2*pw, &s)
	case AVX2:
		ok = maxPoolGrad2x2Plane256(unsafe.Pointer(&gy[0]), unsafe.Pointer(&y[0]), &idx[0], unsafe.Pointer(&z[0]), base, ph, pw, 2*pw, &s)
	default:
		return 0, false
	}
	return s, ok == 1
}
