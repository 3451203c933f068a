package kernels

import "unsafe"

// MaxPool2x2Row pools the first windows of one output row of a 2x2,
// stride-2 max-pool: window j reads a = r0[2j], b = r0[2j+1], c = r1[2j],
// d = r1[2j+1] (r1 is the row w elements after r0) and stores in idx[j]
// the index base+2j plus the offset of its first maximum in row-major order
// (0, 1, w or w+1 for a, b, c, d; -0 equals +0) and in val[j] the value
// there. It does whole blocks of 16 windows on the AVX-512 path, none on
// the others, and stops before a block holding a NaN (whose exact rules the
// caller's code applies); it returns how many windows it did.
func MaxPool2x2Row(r0, r1 []float32, w int, base int32, idx []int32, val []float32) int {
	if Current() != AVX512 {
		return 0
	}
	blocks := min(len(idx), len(val), len(r0)/2, len(r1)/2) / 16
	if blocks == 0 {
		return 0
	}
	done := maxPool2x2Block512(unsafe.Pointer(&r0[0]), unsafe.Pointer(&r1[0]), blocks, w, base, &idx[0], &val[0])
	return 16 * done
}
