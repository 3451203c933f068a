package kernels

import "unsafe"

// BinOp is an elementwise operation of Binary32.
type BinOp int

// The operations of Binary32.
const (
	BinAdd BinOp = iota // a + b
	BinSub              // a - b
	BinMul              // a * b
	BinDiv              // a / b
)

// Binary32 sets out[i] = a[i*sa] op b[i*sb] for the leading whole vectors
// of out on the AVX-512 path and returns how many elements it set (a
// multiple of 16; 0 on other paths, for unknown ops or when both strides
// are 0); the caller computes the rest. The strides sa and sb are 1 (a
// vector as long as out) or 0 (a scalar, broadcast). Each element is one
// correctly rounded float32 operation, the same bits as a Go loop's.
func Binary32(op BinOp, a []float32, sa int, b []float32, sb int, out []float32) int {
	n := len(out) &^ 15
	if n == 0 || Current() != AVX512 || sa|sb == 0 || sa > 1 || sb > 1 {
		return 0
	}
	_ = a[(n-1)*sa] // bounds: the kernels read n elements of each vector operand
	_ = b[(n-1)*sb]
	pa, pb, po := unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), unsafe.Pointer(&out[0])
	switch op {
	case BinAdd:
		binAdd512(pa, pb, po, n, sa, sb)
	case BinSub:
		binSub512(pa, pb, po, n, sa, sb)
	case BinMul:
		binMul512(pa, pb, po, n, sa, sb)
	case BinDiv:
		binDiv512(pa, pb, po, n, sa, sb)
	default:
		return 0
	}
	return n
}
