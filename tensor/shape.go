package tensor

// NormAxis resolves a possibly negative axis against rank r.
func NormAxis(op string, axis, r int) int {
	a := axis
	if a < 0 {
		a += r
	}
	if a < 0 || a >= r {
		Panicf(op, "axis %d out of range for rank %d", axis, r)
	}
	return a
}

// Transpose permutes the dimensions of x: out.shape[i] = x.shape[perm[i]].
func Transpose(x *Tensor, perm ...int) *Tensor {
	r := len(x.shape)
	if len(perm) != r {
		Panicf("tensor.Transpose", "permutation %v does not match shape %v", perm, x.shape)
	}
	seen := make([]bool, r)
	oshape := make([]int, r)
	for i, p := range perm {
		if p < 0 || p >= r || seen[p] {
			Panicf("tensor.Transpose", "invalid permutation %v for shape %v", perm, x.shape)
		}
		seen[p] = true
		oshape[i] = x.shape[p]
	}
	out := Zeros(x.dtype, oshape...)
	if x.dtype == Float32 {
		transposeT(x.f32, x.shape, perm, out.f32, oshape)
	} else {
		transposeT(x.f64, x.shape, perm, out.f64, oshape)
	}
	return out
}

func transposeT[T Float](x []T, xshape, perm []int, out []T, oshape []int) {
	r := len(xshape)
	if r == 0 {
		copy(out, x)
		return
	}
	xst := make([]int, r)
	s := 1
	for i := r - 1; i >= 0; i-- {
		xst[i] = s
		s *= xshape[i]
	}
	st := make([]int, r) // stride in x for each out dim
	for i, p := range perm {
		st[i] = xst[p]
	}
	inner := oshape[r-1]
	is := st[r-1]
	rows := len(out) / max(inner, 1)
	ParallelFor(rows, max(1, elemGrain/max(inner, 1)), func(lo, hi int) {
		idx := make([]int, r-1)
		rem := lo
		for d := r - 2; d >= 0; d-- {
			idx[d] = rem % oshape[d]
			rem /= oshape[d]
		}
		for row := lo; row < hi; row++ {
			off := 0
			for d := 0; d < r-1; d++ {
				off += idx[d] * st[d]
			}
			o := out[row*inner : (row+1)*inner]
			for i := range o {
				o[i] = x[off+i*is]
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

// InversePerm returns the permutation that undoes perm.
func InversePerm(perm []int) []int {
	inv := make([]int, len(perm))
	for i, p := range perm {
		inv[p] = i
	}
	return inv
}

// outerInner splits shape around axis: outer = prod(shape[:axis]),
// inner = prod(shape[axis+1:]).
func outerInner(shape []int, axis int) (outer, inner int) {
	outer, inner = 1, 1
	for i := 0; i < axis; i++ {
		outer *= shape[i]
	}
	for i := axis + 1; i < len(shape); i++ {
		inner *= shape[i]
	}
	return
}

// Slice returns x[..., start:end, ...] along axis (a copy).
func Slice(x *Tensor, axis, start, end int) *Tensor {
	axis = NormAxis("tensor.Slice", axis, len(x.shape))
	n := x.shape[axis]
	if start < 0 || end > n || start > end {
		Panicf("tensor.Slice", "range [%d:%d] out of bounds for axis %d of shape %v", start, end, axis, x.shape)
	}
	oshape := append([]int(nil), x.shape...)
	oshape[axis] = end - start
	out := newOut(x.dtype, oshape...) // every element is copied
	outer, inner := outerInner(x.shape, axis)
	if x.dtype == Float32 {
		copyBlocks(out.f32, x.f32, outer, (end-start)*inner, n*inner, start*inner, 0, (end-start)*inner)
	} else {
		copyBlocks(out.f64, x.f64, outer, (end-start)*inner, n*inner, start*inner, 0, (end-start)*inner)
	}
	return out
}

// copyBlocks copies outer blocks of length blk from src (block stride sstride,
// offset soff) to dst (block stride dstride, offset doff).
func copyBlocks[T Float](dst, src []T, outer, blk, sstride, soff, doff, dstride int) {
	for o := 0; o < outer; o++ {
		copy(dst[o*dstride+doff:o*dstride+doff+blk], src[o*sstride+soff:o*sstride+soff+blk])
	}
}

// PadAxis embeds x into zeros of length total along axis, starting at start.
// It is the adjoint of Slice.
func PadAxis(x *Tensor, axis, start, total int) *Tensor {
	axis = NormAxis("tensor.PadAxis", axis, len(x.shape))
	n := x.shape[axis]
	if start < 0 || start+n > total {
		Panicf("tensor.PadAxis", "cannot place %d entries at %d in %d along axis %d of %v", n, start, total, axis, x.shape)
	}
	oshape := append([]int(nil), x.shape...)
	oshape[axis] = total
	out := Zeros(x.dtype, oshape...)
	outer, inner := outerInner(x.shape, axis)
	if x.dtype == Float32 {
		copyBlocks(out.f32, x.f32, outer, n*inner, n*inner, 0, start*inner, total*inner)
	} else {
		copyBlocks(out.f64, x.f64, outer, n*inner, n*inner, 0, start*inner, total*inner)
	}
	return out
}

// Concat joins tensors along axis; all other dimensions must match.
func Concat(axis int, xs ...*Tensor) *Tensor {
	if len(xs) == 0 {
		Panicf("tensor.Concat", "no tensors")
	}
	r := len(xs[0].shape)
	axis = NormAxis("tensor.Concat", axis, r)
	total := 0
	for _, x := range xs {
		sameDType("tensor.Concat", xs[0], x)
		if len(x.shape) != r {
			Panicf("tensor.Concat", "rank mismatch: %v and %v", xs[0].shape, x.shape)
		}
		for d := 0; d < r; d++ {
			if d != axis && x.shape[d] != xs[0].shape[d] {
				Panicf("tensor.Concat", "shapes %v and %v differ outside axis %d", xs[0].shape, x.shape, axis)
			}
		}
		total += x.shape[axis]
	}
	oshape := append([]int(nil), xs[0].shape...)
	oshape[axis] = total
	out := newOut(xs[0].dtype, oshape...) // every element is copied
	outer, inner := outerInner(oshape, axis)
	off := 0
	for _, x := range xs {
		n := x.shape[axis]
		if x.dtype == Float32 {
			copyBlocks(out.f32, x.f32, outer, n*inner, n*inner, 0, off*inner, total*inner)
		} else {
			copyBlocks(out.f64, x.f64, outer, n*inner, n*inner, 0, off*inner, total*inner)
		}
		off += n
	}
	return out
}

// GatherFlat returns a tensor of the given shape whose element i is
// x.flat[idx[i]]; idx[i] < 0 yields 0.
func GatherFlat(x *Tensor, idx []int32, shape ...int) *Tensor {
	if Numel(shape) != len(idx) {
		Panicf("tensor.GatherFlat", "%d indices do not fill shape %v", len(idx), shape)
	}
	out := Zeros(x.dtype, shape...)
	n := int32(x.Size())
	if x.dtype == Float32 {
		xs, os := x.f32, out.f32
		ParallelFor(len(idx), elemGrain, func(lo, hi int) {
			for i, j := range idx[lo:hi] {
				if j >= n {
					Panicf("tensor.GatherFlat", "index %d out of range for shape %v", j, x.shape)
				}
				if j >= 0 {
					os[lo+i] = xs[j]
				}
			}
		})
	} else {
		for _, j := range idx {
			if j >= n {
				Panicf("tensor.GatherFlat", "index %d out of range for shape %v", j, x.shape)
			}
		}
		for i, j := range idx {
			if j >= 0 {
				out.f64[i] = x.f64[j]
			}
		}
	}
	return out
}

// ScatterAddFlat returns zeros of the given shape into which g.flat[i] has
// been added at position idx[i] (negative indices are skipped). It is the
// adjoint of GatherFlat.
func ScatterAddFlat(g *Tensor, idx []int32, shape ...int) *Tensor {
	if g.Size() != len(idx) {
		Panicf("tensor.ScatterAddFlat", "%d indices for %d values of shape %v", len(idx), g.Size(), g.shape)
	}
	out := Zeros(g.dtype, shape...)
	n := int32(out.Size())
	if g.dtype == Float32 {
		for i, j := range idx {
			if j >= n {
				Panicf("tensor.ScatterAddFlat", "index %d out of range for shape %v", j, shape)
			}
			if j >= 0 {
				out.f32[j] += g.f32[i]
			}
		}
	} else {
		for i, j := range idx {
			if j >= n {
				Panicf("tensor.ScatterAddFlat", "index %d out of range for shape %v", j, shape)
			}
			if j >= 0 {
				out.f64[j] += g.f64[i]
			}
		}
	}
	return out
}

// ScatterAddFlatBlocks is ScatterAddFlat for indices that respect blocks:
// g's values split into consecutive blocks of block values, the output into
// as many equal blocks, and every index of block b points into output block
// b (as a pooling's channels do). Blocks then run in parallel, each adding in
// ScatterAddFlat's order, so the result is the same. An index outside its
// block panics.
func ScatterAddFlatBlocks(g *Tensor, idx []int32, block int, shape ...int) *Tensor {
	if g.Size() != len(idx) {
		Panicf("tensor.ScatterAddFlatBlocks", "%d indices for %d values of shape %v", len(idx), g.Size(), g.shape)
	}
	out := Zeros(g.dtype, shape...)
	if block <= 0 || len(idx)%block != 0 || (len(idx) > 0 && out.Size()%(len(idx)/block) != 0) {
		Panicf("tensor.ScatterAddFlatBlocks", "%d indices do not split into blocks of %d matching shape %v", len(idx), block, shape)
	}
	if len(idx) == 0 {
		return out
	}
	nb := len(idx) / block
	ob := out.Size() / nb
	if g.dtype == Float32 {
		scatterBlocks(g.f32, idx, block, ob, nb, out.f32)
	} else {
		scatterBlocks(g.f64, idx, block, ob, nb, out.f64)
	}
	return out
}

func scatterBlocks[T Float](g []T, idx []int32, block, ob, nb int, out []T) {
	ParallelFor(nb, max(1, elemGrain/block), func(lo, hi int) {
		for b := lo; b < hi; b++ {
			first, last := int32(b*ob), int32((b+1)*ob)
			gb := g[b*block : (b+1)*block]
			for i, j := range idx[b*block : (b+1)*block] {
				if j < 0 {
					continue
				}
				if j < first || j >= last {
					Panicf("tensor.ScatterAddFlatBlocks", "index %d of block %d is outside its block [%d,%d)", j, b, first, last)
				}
				out[j] += gb[i]
			}
		}
	})
}

// ArgMaxAxis returns, for each position outside axis, the flat index into x
// of the largest value along axis (first one on ties), and the shape of the
// result with axis kept as 1.
func ArgMaxAxis(x *Tensor, axis int) ([]int32, []int) { return argExtAxis(x, axis, true) }

// ArgMinAxis is ArgMaxAxis for the smallest value.
func ArgMinAxis(x *Tensor, axis int) ([]int32, []int) { return argExtAxis(x, axis, false) }

func argExtAxis(x *Tensor, axis int, isMax bool) ([]int32, []int) {
	axis = NormAxis("tensor.ArgMaxAxis", axis, len(x.shape))
	n := x.shape[axis]
	if n == 0 {
		Panicf("tensor.ArgMaxAxis", "empty axis %d of shape %v", axis, x.shape)
	}
	outer, inner := outerInner(x.shape, axis)
	idx := make([]int32, outer*inner)
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			base := o*n*inner + i
			best := base
			bv := x.AtFlat(base)
			for k := 1; k < n; k++ {
				j := base + k*inner
				v := x.AtFlat(j)
				if (isMax && v > bv) || (!isMax && v < bv) || (bv != bv && v == v) {
					bv, best = v, j
				}
			}
			idx[o*inner+i] = int32(best)
		}
	}
	oshape := append([]int(nil), x.shape...)
	oshape[axis] = 1
	return idx, oshape
}

// ArgMax returns the index along axis of the largest value for each position
// outside axis, flattened in row-major order.
func ArgMax(x *Tensor, axis int) []int { return flatToAxisIndex(x, axis, true) }

// ArgMin returns the index along axis of the smallest value.
func ArgMin(x *Tensor, axis int) []int { return flatToAxisIndex(x, axis, false) }

func flatToAxisIndex(x *Tensor, axis int, isMax bool) []int {
	axis = NormAxis("tensor.ArgMax", axis, len(x.shape))
	idx, _ := argExtAxis(x, axis, isMax)
	_, inner := outerInner(x.shape, axis)
	n := x.shape[axis]
	out := make([]int, len(idx))
	for i, j := range idx {
		out[i] = (int(j) / inner) % n
	}
	return out
}

// SumAxes sums over the given axes (all axes when none are given). With
// keepdim the reduced axes stay as size 1.
func SumAxes(x *Tensor, keepdim bool, axes ...int) *Tensor {
	kshape, oshape := ReducedShapes("tensor.SumAxes", x.shape, axes)
	s := SumTo(x, kshape...)
	if keepdim {
		return s
	}
	return s.Reshape(oshape...)
}

// ReducedShapes returns the shape after reducing axes, with (keep) and
// without (out) the reduced axes.
func ReducedShapes(op string, shape []int, axes []int) (keep, out []int) {
	r := len(shape)
	red := make([]bool, r)
	if len(axes) == 0 {
		for i := range red {
			red[i] = true
		}
	}
	for _, a := range axes {
		red[NormAxis(op, a, r)] = true
	}
	keep = make([]int, r)
	out = []int{}
	for i, d := range shape {
		if red[i] {
			keep[i] = 1
		} else {
			keep[i] = d
			out = append(out, d)
		}
	}
	return keep, out
}
