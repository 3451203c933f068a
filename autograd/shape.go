package autograd

import (
	"github.com/arp-robustness/arp/tensor"
)

// Reshape returns x with a new shape (one dimension may be -1); the value
// shares x's data.
func Reshape(x *Var, shape ...int) *Var {
	shape = tensor.ResolveShape("autograd.Reshape", x.Shape(), shape)
	xs := append([]int(nil), x.Shape()...)
	return record("Reshape", x.val.Reshape(shape...), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{Reshape(gy, xs...)}
	}, x)
}

// Flatten reshapes [N, ...] to [N, prod(...)].
func Flatten(x *Var) *Var {
	if len(x.Shape()) < 1 {
		tensor.Panicf("autograd.Flatten", "cannot flatten a scalar")
	}
	return Reshape(x, x.Shape()[0], -1)
}

// Transpose permutes dimensions: out.Shape()[i] = x.Shape()[perm[i]].
func Transpose(x *Var, perm ...int) *Var {
	inv := tensor.InversePerm(perm)
	return record("Transpose", tensor.Transpose(x.val, perm...), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{Transpose(gy, inv...)}
	}, x)
}

// T transposes a matrix.
func T(x *Var) *Var {
	if len(x.Shape()) != 2 {
		tensor.Panicf("autograd.T", "want a matrix, got shape %v", x.Shape())
	}
	return Transpose(x, 1, 0)
}

// BroadcastTo expands x to shape by NumPy broadcasting.
func BroadcastTo(x *Var, shape ...int) *Var {
	shape = append([]int(nil), shape...)
	xs := append([]int(nil), x.Shape()...)
	return record("BroadcastTo", tensor.BroadcastTo(x.val, shape...), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{SumTo(gy, xs...)}
	}, x)
}

// SumTo sums x down to shape, the inverse direction of broadcasting.
func SumTo(x *Var, shape ...int) *Var {
	shape = append([]int(nil), shape...)
	xs := append([]int(nil), x.Shape()...)
	return record("SumTo", tensor.SumTo(x.val, shape...), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{BroadcastTo(gy, xs...)}
	}, x)
}

// Sum sums over axes (all when none are given); keepdim keeps them as 1.
func Sum(x *Var, keepdim bool, axes ...int) *Var {
	keep, outShape := tensor.ReducedShapes("autograd.Sum", x.Shape(), axes)
	s := SumTo(x, keep...)
	if keepdim {
		return s
	}
	return Reshape(s, outShape...)
}

// SumAll returns the sum of all elements as a 0-d variable.
func SumAll(x *Var) *Var { return Sum(x, false) }

// Mean averages over axes (all when none are given).
func Mean(x *Var, keepdim bool, axes ...int) *Var {
	keep, _ := tensor.ReducedShapes("autograd.Mean", x.Shape(), axes)
	n := tensor.Numel(x.Shape()) / max(1, tensor.Numel(keep))
	if tensor.Numel(keep) == 0 {
		n = 0
	}
	return Scale(Sum(x, keepdim, axes...), 1/float64(max(n, 1)))
}

// MeanAll returns the mean of all elements.
func MeanAll(x *Var) *Var { return Mean(x, false) }

// GatherFlat picks x.flat[idx[i]] into a tensor of the given shape (negative
// indices give 0). Its gradient scatters back.
func GatherFlat(x *Var, idx []int32, shape ...int) *Var { return gatherBlocks(x, idx, 0, shape...) }

// ScatterAddFlat adds x.flat[i] into position idx[i] of zeros of shape.
func ScatterAddFlat(x *Var, idx []int32, shape ...int) *Var {
	return scatterBlocks(x, idx, 0, shape...)
}

// gatherBlocks is GatherFlat; block > 0 promises that the indices, in blocks
// of block entries, point into the matching equal blocks of x (a pooling's
// channels), so that the gradient, a scatter, can run block-parallel.
func gatherBlocks(x *Var, idx []int32, block int, shape ...int) *Var {
	return gathered(x, tensor.GatherFlat(x.val, idx, shape...), idx, block)
}

// gathered records y = GatherFlat(x, idx, ...) computed elsewhere (by a
// max-pool that picks its values with its indices) with gatherBlocks'
// backward.
func gathered(x *Var, y *tensor.Tensor, idx []int32, block int) *Var {
	xs := append([]int(nil), x.Shape()...)
	return saving(record("GatherFlat", y, func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{scatterBlocks(gy, idx, block, xs...)}
	}, x), tensor.IndexStorage(idx))
}

// scatterBlocks is ScatterAddFlat with gatherBlocks' block promise.
func scatterBlocks(g *Var, idx []int32, block int, shape ...int) *Var {
	gs := append([]int(nil), g.Shape()...)
	var v *tensor.Tensor
	if block > 0 {
		v = tensor.ScatterAddFlatBlocks(g.val, idx, block, shape...)
	} else {
		v = tensor.ScatterAddFlat(g.val, idx, shape...)
	}
	return saving(record("ScatterAddFlat", v, func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{gatherBlocks(gy, idx, block, gs...)}
	}, g), tensor.IndexStorage(idx))
}

// Max returns the largest value along axis (first on ties); the gradient
// flows to that element only.
func Max(x *Var, axis int, keepdim bool) *Var {
	idx, kshape := tensor.ArgMaxAxis(x.val, axis)
	return reduceIdx(x, idx, kshape, axis, keepdim)
}

// Min returns the smallest value along axis.
func Min(x *Var, axis int, keepdim bool) *Var {
	idx, kshape := tensor.ArgMinAxis(x.val, axis)
	return reduceIdx(x, idx, kshape, axis, keepdim)
}

func reduceIdx(x *Var, idx []int32, kshape []int, axis int, keepdim bool) *Var {
	g := GatherFlat(x, idx, kshape...)
	if keepdim {
		return g
	}
	a := tensor.NormAxis("autograd.Max", axis, len(x.Shape()))
	s := append(append([]int(nil), kshape[:a]...), kshape[a+1:]...)
	return Reshape(g, s...)
}

// MaxAll returns the largest element as a 0-d variable.
func MaxAll(x *Var) *Var { return Max(Reshape(x, -1), 0, false) }

// ArgMax returns the index of the largest value along axis for every
// position outside it (not differentiable).
func ArgMax(x *Var, axis int) []int { return tensor.ArgMax(x.val, axis) }

// ArgMin returns the index of the smallest value along axis.
func ArgMin(x *Var, axis int) []int { return tensor.ArgMin(x.val, axis) }

// Gather picks, like torch.gather, out[i][j][k] = x[i][index[i][j][k]][k]
// (for axis 1): index has x's rank, its shape idxShape, and out has that
// shape.
func Gather(x *Var, axis int, index []int, idxShape []int) *Var {
	xs := x.Shape()
	r := len(xs)
	axis = tensor.NormAxis("autograd.Gather", axis, r)
	if len(idxShape) != r || tensor.Numel(idxShape) != len(index) {
		tensor.Panicf("autograd.Gather", "index shape %v (%d values) does not fit input %v", idxShape, len(index), xs)
	}
	for d := 0; d < r; d++ {
		if d != axis && idxShape[d] > xs[d] {
			tensor.Panicf("autograd.Gather", "index shape %v larger than input %v outside axis %d", idxShape, xs, axis)
		}
	}
	strides := make([]int, r)
	s := 1
	for d := r - 1; d >= 0; d-- {
		strides[d] = s
		s *= xs[d]
	}
	flat := make([]int32, len(index))
	pos := make([]int, r)
	for i, v := range index {
		if v < 0 || v >= xs[axis] {
			tensor.Panicf("autograd.Gather", "index %d out of range for axis %d of %v", v, axis, xs)
		}
		off := 0
		for d := 0; d < r; d++ {
			p := pos[d]
			if d == axis {
				p = v
			}
			off += p * strides[d]
		}
		flat[i] = int32(off)
		for d := r - 1; d >= 0; d-- {
			pos[d]++
			if pos[d] < idxShape[d] {
				break
			}
			pos[d] = 0
		}
	}
	return GatherFlat(x, flat, idxShape...)
}

// PickClass returns x[i, labels[i]] for logits x [N, C] as a [N] vector.
func PickClass(x *Var, labels []int) *Var {
	if len(x.Shape()) != 2 || x.Shape()[0] != len(labels) {
		tensor.Panicf("autograd.PickClass", "want [N,C] logits for %d labels, got %v", len(labels), x.Shape())
	}
	return Reshape(Gather(x, 1, labels, []int{len(labels), 1}), len(labels))
}

// OneHot returns a constant [len(labels), n] matrix with ones at labels.
func OneHot(dt tensor.DType, labels []int, n int) *Var {
	t := tensor.Zeros(dt, len(labels), n)
	for i, l := range labels {
		if l < 0 || l >= n {
			tensor.Panicf("autograd.OneHot", "label %d out of range [0,%d)", l, n)
		}
		t.SetFlat(i*n+l, 1)
	}
	return Const(t)
}

// Slice returns x[start:end] along axis.
func Slice(x *Var, axis, start, end int) *Var {
	a := tensor.NormAxis("autograd.Slice", axis, len(x.Shape()))
	total := x.Shape()[a]
	return record("Slice", tensor.Slice(x.val, a, start, end), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{PadAxis(gy, a, start, total)}
	}, x)
}

// PadAxis embeds x in zeros of length total along axis, from start.
func PadAxis(x *Var, axis, start, total int) *Var {
	a := tensor.NormAxis("autograd.PadAxis", axis, len(x.Shape()))
	n := x.Shape()[a]
	return record("PadAxis", tensor.PadAxis(x.val, a, start, total), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{Slice(gy, a, start, start+n)}
	}, x)
}

// Concat joins variables along axis.
func Concat(axis int, xs ...*Var) *Var {
	if len(xs) == 0 {
		tensor.Panicf("autograd.Concat", "no inputs")
	}
	vals := make([]*tensor.Tensor, len(xs))
	for i, x := range xs {
		vals[i] = x.val
	}
	a := tensor.NormAxis("autograd.Concat", axis, len(xs[0].Shape()))
	sizes := make([]int, len(xs))
	for i, x := range xs {
		sizes[i] = x.Shape()[a]
	}
	return record("Concat", tensor.Concat(a, vals...), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		g := make([]*Var, len(in))
		off := 0
		for i := range in {
			if needs[i] {
				g[i] = Slice(gy, a, off, off+sizes[i])
			}
			off += sizes[i]
		}
		return g
	}, xs...)
}

// MatMul returns op(a) @ op(b), transposing the last two dimensions of a
// (b) when ta (tb) is set. Ranks 2x2, 3x3 (equal batch) and 3x2.
func MatMul(a, b *Var, ta, tb bool) *Var {
	sameDType("autograd.MatMul", a, b)
	ra, rb := len(a.Shape()), len(b.Shape())
	return record("MatMul", tensor.MatMul(a.val, b.val, ta, tb), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		A, B := in[0], in[1]
		g := make([]*Var, 2)
		if needs[0] {
			if ta && ra == 3 && rb == 2 {
				g[0] = Transpose(MatMul(gy, B, false, !tb), 0, 2, 1)
			} else if ta {
				g[0] = MatMul(B, gy, tb, true) // dA = op(B) gy^T
			} else {
				g[0] = MatMul(gy, B, false, !tb) // dA = gy op(B)^T
			}
		}
		if needs[1] {
			var gb *Var
			if ra == 3 && rb == 2 {
				// shared B: sum over the batch by folding it into rows
				a2 := A
				g2 := Reshape(gy, -1, gy.Shape()[2])
				if ta {
					a2 = Transpose(A, 0, 2, 1)
				}
				a2 = Reshape(a2, -1, a2.Shape()[2])
				if tb {
					gb = MatMul(g2, a2, true, false)
				} else {
					gb = MatMul(a2, g2, true, false)
				}
			} else if tb {
				gb = MatMul(gy, A, true, ta) // dB = gy^T op(A)
			} else {
				gb = MatMul(A, gy, !ta, false) // dB = op(A)^T gy
			}
			g[1] = gb
		}
		return g
	}, a, b)
}
