package tensor

import (
	"slices"

	"github.com/arp-robustness/arp/kernels"
)

// BroadcastShapes returns the shape two shapes broadcast to (NumPy rules) and
// whether they are compatible.
func BroadcastShapes(a, b []int) ([]int, bool) {
	n := len(a)
	if len(b) > n {
		n = len(b)
	}
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		default:
			return nil, false
		}
	}
	return out, true
}

// broadcastStrides returns the strides of shape (row-major, contiguous)
// aligned to out's rank, with 0 for broadcast dimensions.
func broadcastStrides(shape, out []int) []int {
	st := make([]int, len(out))
	s := 1
	for i := len(out) - 1; i >= 0; i-- {
		j := len(shape) - len(out) + i
		if j < 0 {
			continue
		}
		if shape[j] == 1 && out[i] != 1 {
			st[i] = 0
		} else {
			st[i] = s
		}
		s *= shape[j]
	}
	return st
}

// coalesceDims drops the size-1 dimensions of a broadcast (keeping one
// if all are) and merges adjacent dimensions that both operands step
// through alike (each operand's stride of the outer one is its stride of
// the inner one times the inner size: contiguous across both, or
// broadcast along both), so that the innermost loop of a broadcast op
// runs over as many elements as it can ([N,C,8,8] against [N,C,1,1]: rows
// of 64 elements, not 8). The elements and their operands are the same.
// The strides are rewritten in sa and sb's storage; the shape is new.
func coalesceDims(shape, sa, sb []int) ([]int, []int, []int) {
	ns := make([]int, 0, len(shape))
	k := len(shape) // the merged dimensions fill sa[k:], sb[k:] from the end
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] == 1 {
			continue
		}
		if len(ns) > 0 && sa[d] == sa[k]*ns[len(ns)-1] && sb[d] == sb[k]*ns[len(ns)-1] {
			ns[len(ns)-1] *= shape[d]
			continue
		}
		k--
		ns = append(ns, shape[d])
		sa[k], sb[k] = sa[d], sb[d]
	}
	if len(ns) == 0 {
		return []int{1}, sa[:1:1], sb[:1:1]
	}
	slices.Reverse(ns)
	return ns, sa[k:], sb[k:]
}

type binOp uint8

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
	opGt
	opMax
	opMin
)

var binNames = [...]string{"tensor.Add", "tensor.Sub", "tensor.Mul", "tensor.Div", "tensor.Greater", "tensor.Maximum", "tensor.Minimum"}

// vectorOps are the kernels' names of the operations they vectorise.
var vectorOps = [...]kernels.BinOp{opAdd: kernels.BinAdd, opSub: kernels.BinSub, opMul: kernels.BinMul, opDiv: kernels.BinDiv}

func binKernel[T Float](op binOp, a []T, sa int, b []T, sb int, out []T) {
	if o32, ok := any(out).([]float32); ok && op <= opDiv && len(out) >= 16 {
		// whole vectors in assembly (AVX-512), the rest below
		if done := kernels.Binary32(vectorOps[op], any(a).([]float32), sa, any(b).([]float32), sb, o32); done > 0 {
			out, a, b = out[done:], a[done*sa:], b[done*sb:]
		}
	}
	n := len(out)
	switch op {
	case opAdd:
		switch {
		case sa == 1 && sb == 1:
			for i := 0; i < n; i++ {
				out[i] = a[i] + b[i]
			}
		case sa == 1:
			v := b[0]
			for i := 0; i < n; i++ {
				out[i] = a[i] + v
			}
		case sb == 1:
			v := a[0]
			for i := 0; i < n; i++ {
				out[i] = v + b[i]
			}
		default:
			v := a[0] + b[0]
			for i := 0; i < n; i++ {
				out[i] = v
			}
		}
	case opSub:
		if sa == 1 && sb == 1 {
			a, b := a[:n], b[:n]
			for i := range out {
				out[i] = a[i] - b[i]
			}
			return
		}
		for i := 0; i < n; i++ {
			out[i] = a[i*sa] - b[i*sb]
		}
	case opMul:
		switch {
		case sa == 1 && sb == 1:
			for i := 0; i < n; i++ {
				out[i] = a[i] * b[i]
			}
		case sa == 1:
			v := b[0]
			for i := 0; i < n; i++ {
				out[i] = a[i] * v
			}
		default:
			for i := 0; i < n; i++ {
				out[i] = a[i*sa] * b[i*sb]
			}
		}
	case opDiv:
		switch {
		case sa == 1 && sb == 1:
			a, b := a[:n], b[:n]
			for i := range out {
				out[i] = a[i] / b[i]
			}
		case sa == 1:
			a, v := a[:n], b[0]
			for i := range out {
				out[i] = a[i] / v
			}
		default:
			for i := 0; i < n; i++ {
				out[i] = a[i*sa] / b[i*sb]
			}
		}
	case opGt:
		for i := 0; i < n; i++ {
			if a[i*sa] > b[i*sb] {
				out[i] = 1
			} else {
				out[i] = 0
			}
		}
	case opMax:
		for i := 0; i < n; i++ {
			x, y := a[i*sa], b[i*sb]
			if y > x {
				x = y
			}
			out[i] = x
		}
	case opMin:
		for i := 0; i < n; i++ {
			x, y := a[i*sa], b[i*sb]
			if y < x {
				x = y
			}
			out[i] = x
		}
	}
}

func binaryT[T Float](op binOp, a []T, ashape []int, b []T, bshape []int, out []T, oshape []int) {
	if SameShape(ashape, bshape) {
		ParallelFor(len(out), elemGrain, func(lo, hi int) {
			binKernel(op, a[lo:hi], 1, b[lo:hi], 1, out[lo:hi])
		})
		return
	}
	if len(b) == 1 {
		ParallelFor(len(out), elemGrain, func(lo, hi int) {
			binKernel(op, a[lo:hi], 1, b, 0, out[lo:hi])
		})
		return
	}
	if len(a) == 1 {
		ParallelFor(len(out), elemGrain, func(lo, hi int) {
			binKernel(op, a, 0, b[lo:hi], 1, out[lo:hi])
		})
		return
	}
	sta := broadcastStrides(ashape, oshape)
	stb := broadcastStrides(bshape, oshape)
	oshape, sta, stb = coalesceDims(oshape, sta, stb)
	r := len(oshape)
	if r == 0 {
		binKernel(op, a, 1, b, 1, out)
		return
	}
	inner := oshape[r-1]
	ia, ib := sta[r-1], stb[r-1]
	rows := len(out) / max(inner, 1)
	ParallelFor(rows, max(1, elemGrain/max(inner, 1)), func(lo, hi int) {
		idx := make([]int, r-1)
		// position idx at row lo
		rem := lo
		for d := r - 2; d >= 0; d-- {
			idx[d] = rem % oshape[d]
			rem /= oshape[d]
		}
		for row := lo; row < hi; row++ {
			offA, offB := 0, 0
			for d := 0; d < r-1; d++ {
				offA += idx[d] * sta[d]
				offB += idx[d] * stb[d]
			}
			o := out[row*inner : (row+1)*inner]
			switch {
			case ia == 1 && ib == 1:
				binKernel(op, a[offA:offA+inner], 1, b[offB:offB+inner], 1, o)
			case ia == 1:
				binKernel(op, a[offA:offA+inner], 1, b[offB:offB+1], 0, o)
			case ib == 1:
				binKernel(op, a[offA:offA+1], 0, b[offB:offB+inner], 1, o)
			default:
				binKernel(op, a[offA:offA+1], 0, b[offB:offB+1], 0, o)
			}
			for d := r - 2; d >= 0; d-- {
				idx[d]++
				if idx[d] < oshape[d] {
					break
				}
				idx[d] = 0
			}
		}
	})
}

func binary(op binOp, a, b *Tensor) *Tensor {
	name := binNames[op]
	sameDType(name, a, b)
	oshape, ok := BroadcastShapes(a.shape, b.shape)
	if !ok {
		Panicf(name, "shapes %v and %v are not broadcastable", a.shape, b.shape)
	}
	out := newOut(a.dtype, oshape...) // every element is written
	if a.dtype == Float32 {
		binaryT(op, a.f32, a.shape, b.f32, b.shape, out.f32, oshape)
	} else {
		binaryT(op, a.f64, a.shape, b.f64, b.shape, out.f64, oshape)
	}
	return out
}

// Add returns a+b with broadcasting.
func Add(a, b *Tensor) *Tensor { return binary(opAdd, a, b) }

// AddTo adds src to dst in place (dst += src); both have the same shape
// and dtype.
func AddTo(dst, src *Tensor) {
	sameDType("tensor.AddTo", dst, src)
	if !SameShape(dst.shape, src.shape) {
		Panicf("tensor.AddTo", "shapes %v and %v differ", dst.shape, src.shape)
	}
	if dst.dtype == Float32 {
		binaryT(opAdd, dst.f32, dst.shape, src.f32, src.shape, dst.f32, dst.shape)
	} else {
		binaryT(opAdd, dst.f64, dst.shape, src.f64, src.shape, dst.f64, dst.shape)
	}
}

// Sub returns a-b with broadcasting.
func Sub(a, b *Tensor) *Tensor { return binary(opSub, a, b) }

// Mul returns a*b with broadcasting.
func Mul(a, b *Tensor) *Tensor { return binary(opMul, a, b) }

// Div returns a/b with broadcasting.
func Div(a, b *Tensor) *Tensor { return binary(opDiv, a, b) }

// Greater returns 1 where a > b and 0 elsewhere, with broadcasting.
func Greater(a, b *Tensor) *Tensor { return binary(opGt, a, b) }

// Maximum returns the elementwise maximum with broadcasting.
func Maximum(a, b *Tensor) *Tensor { return binary(opMax, a, b) }

// Minimum returns the elementwise minimum with broadcasting.
func Minimum(a, b *Tensor) *Tensor { return binary(opMin, a, b) }

// BroadcastTo copies x into the larger shape it broadcasts to.
func BroadcastTo(x *Tensor, shape ...int) *Tensor {
	o, ok := BroadcastShapes(x.shape, shape)
	if !ok || !SameShape(o, shape) {
		Panicf("tensor.BroadcastTo", "cannot broadcast %v to %v", x.shape, shape)
	}
	if SameShape(x.shape, shape) {
		return x.Clone()
	}
	zero := Zeros(x.dtype, shape...)
	return Add(zero, x)
}

// SumTo sums x over the dimensions in which shape (which x must broadcast
// to... from) is 1 or missing, returning a tensor of exactly shape. It is the
// adjoint of BroadcastTo.
func SumTo(x *Tensor, shape ...int) *Tensor {
	if SameShape(x.shape, shape) {
		return x.Clone()
	}
	o, ok := BroadcastShapes(shape, x.shape)
	if !ok || !SameShape(o, x.shape) {
		Panicf("tensor.SumTo", "cannot sum %v down to %v", x.shape, shape)
	}
	out := Zeros(x.dtype, shape...)
	if x.dtype == Float32 {
		sumToT(x.f32, x.shape, out.f32, shape)
	} else {
		sumToT(x.f64, x.shape, out.f64, shape)
	}
	return out
}

func sumToT[T Float](x []T, xshape []int, out []T, oshape []int) {
	if len(out) == 1 {
		var s float64
		for _, v := range x {
			s += float64(v)
		}
		out[0] = T(s)
		return
	}
	if a, b, c, ok := keptBlock(xshape, oshape); ok && c > 1 {
		// x is [A,B,C] summed over A and C (a conv bias gradient): each
		// worker owns some of the B outputs; the order of the additions
		// is that of the general loop below
		ParallelFor(b, 1, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				acc := out[j]
				for i := 0; i < a; i++ {
					var s T
					for _, v := range x[(i*b+j)*c : (i*b+j+1)*c] {
						s += v
					}
					acc += s
				}
				out[j] = acc
			}
		})
		return
	}
	st := broadcastStrides(oshape, xshape)
	r := len(xshape)
	inner := xshape[r-1]
	is := st[r-1]
	rows := len(x) / max(inner, 1)
	idx := make([]int, r-1)
	for row := 0; row < rows; row++ {
		off := 0
		for d := 0; d < r-1; d++ {
			off += idx[d] * st[d]
		}
		xr := x[row*inner : (row+1)*inner]
		if is == 1 {
			o := out[off : off+inner]
			for i, v := range xr {
				o[i] += v
			}
		} else {
			var s T
			for _, v := range xr {
				s += v
			}
			out[off] += s
		}
		for d := r - 2; d >= 0; d-- {
			idx[d]++
			if idx[d] < xshape[d] {
				break
			}
			idx[d] = 0
		}
	}
}

// keptBlock reports whether summing x of shape xshape to oshape keeps one
// contiguous run of axes and sums all others, and if so the sizes A (summed
// axes before the run), B (the run) and C (summed axes after it).
func keptBlock(xshape, oshape []int) (a, b, c int, ok bool) {
	r := len(xshape)
	if len(oshape) > r {
		return 0, 0, 0, false
	}
	a, b, c = 1, 1, 1
	phase := 0 // 0: before the run, 1: in it, 2: after it
	for d := 0; d < r; d++ {
		od := 1
		if k := d - (r - len(oshape)); k >= 0 {
			od = oshape[k]
		}
		kept := od == xshape[d] && od != 1
		switch {
		case xshape[d] == 1:
			continue
		case kept && phase == 2:
			return 0, 0, 0, false
		case kept:
			phase = 1
			b *= xshape[d]
		case od != 1:
			return 0, 0, 0, false
		case phase == 0:
			a *= xshape[d]
		default:
			phase = 2
			c *= xshape[d]
		}
	}
	return a, b, c, true
}
