package tensor

import (
	"math"

	"github.com/arp-robustness/arp/kernels"
)

// PoolOutShape returns the output shape of a 2-D pooling window kh x kw
// placed by p on x of shape [N,C,H,W].
func PoolOutShape(op string, xshape []int, kh, kw int, p Conv2dParams) (convGeom, []int) {
	p = p.norm()
	if len(xshape) != 4 {
		Panicf(op, "want input [N,C,H,W], got %v", xshape)
	}
	if kh < 1 || kw < 1 || p.StrideH < 1 || p.StrideW < 1 || p.PadTop < 0 || p.PadBottom < 0 || p.PadLeft < 0 || p.PadRight < 0 {
		Panicf(op, "invalid window %dx%d with %+v", kh, kw, p)
	}
	g := convGeom{n: xshape[0], c: xshape[1], h: xshape[2], w: xshape[3], f: xshape[1], kh: kh, kw: kw, p: p}
	g.oh = ConvOutSize(g.h, kh, p.StrideH, p.PadTop, p.PadBottom, p.DilationH)
	g.ow = ConvOutSize(g.w, kw, p.StrideW, p.PadLeft, p.PadRight, p.DilationW)
	if g.oh <= 0 || g.ow <= 0 {
		Panicf(op, "window %dx%d does not fit input %v with %+v", kh, kw, xshape, p)
	}
	return g, []int{g.n, g.c, g.oh, g.ow}
}

// MaxPool2dIndices returns, for each output position of a max-pool over x
// [N,C,H,W], the flat index into x of the window's largest value (padding
// never wins; a window entirely in the padding gives -1), and the output
// shape.
func MaxPool2dIndices(x *Tensor, kh, kw int, p Conv2dParams) ([]int32, []int) {
	g, oshape := PoolOutShape("tensor.MaxPool2d", x.shape, kh, kw, p)
	idx := make([]int32, Numel(oshape))
	if x.dtype == Float32 {
		maxPoolIdx(x.f32, g, idx, nil)
	} else {
		maxPoolIdx(x.f64, g, idx, nil)
	}
	return idx, oshape
}

// MaxPool2d returns the max-pool of x [N,C,H,W] (0 for a window entirely
// in the padding) together with the indices of MaxPool2dIndices, the
// values picked in the same pass: it equals GatherFlat(x, idx, shape...).
func MaxPool2d(x *Tensor, kh, kw int, p Conv2dParams) (*Tensor, []int32) {
	g, oshape := PoolOutShape("tensor.MaxPool2d", x.shape, kh, kw, p)
	idx := newIndices(Numel(oshape))
	out := newOut(x.dtype, oshape...) // every value is written
	if x.dtype == Float32 {
		maxPoolIdx(x.f32, g, idx, out.f32)
	} else {
		maxPoolIdx(x.f64, g, idx, out.f64)
	}
	return out, idx
}

// MaxPool2dValues returns MaxPool2d's values without the indices, bit for
// bit: for inference, where no backward pass needs them. 2x2 windows with
// stride 2 along rows run whole planes per call of a vector kernel.
func MaxPool2dValues(x *Tensor, kh, kw int, p Conv2dParams) *Tensor {
	return maxPoolValues(x, kh, kw, p, false)
}

// maxPoolValues is MaxPool2dValues, its result from the buffer pool with
// scratch.
func maxPoolValues(x *Tensor, kh, kw int, p Conv2dParams, scratch bool) *Tensor {
	g, oshape := PoolOutShape("tensor.MaxPool2dValues", x.shape, kh, kw, p)
	var out *Tensor
	if scratch {
		out = Scratch(x.dtype, oshape...) // every value is written
	} else {
		out = Zeros(x.dtype, oshape...)
	}
	if x.dtype == Float32 {
		ParallelFor(g.n*g.c, 4, func(lo, hi int) { maxPoolValuesRange(x.f32, g, out.f32, lo, hi) })
	} else {
		ParallelFor(g.n*g.c, 4, func(lo, hi int) { maxPoolValuesRange(x.f64, g, out.f64, lo, hi) })
	}
	return out
}

// maxPoolValuesRange sets vals to the max-pool values of the image-channel
// planes lo..hi-1 of x (vals indexed as x, by plane).
func maxPoolValuesRange[T Float](x []T, g convGeom, vals []T, lo, hi int) {
	hw, ohw := g.h*g.w, g.oh*g.ow
	x, vals = x[lo*hw:hi*hw], vals[lo*ohw:hi*ohw]
	if x32, ok := any(x).([]float32); ok && pool2x2Fast(g) {
		maxPool2x2Values32(x32, g, any(vals).([]float32), hi-lo)
		return
	}
	// other windows: by rows and columns (maxPoolValuesPlane), a plane
	// holding a NaN (and dilated windows) through the indices
	var idx []int32
	var r []T
	if g.p.DilationH == 1 && g.p.DilationW == 1 {
		r = getBuf[T](g.h * g.ow)
		defer putBuf(r)
	}
	for nc := 0; nc < hi-lo; nc++ {
		if r != nil && maxPoolValuesPlane(x[nc*hw:(nc+1)*hw], g, vals[nc*ohw:(nc+1)*ohw], r) {
			continue
		}
		if idx == nil {
			idx = make([]int32, ohw)
		}
		maxPoolRange(x[nc*hw:(nc+1)*hw], g, idx, vals[nc*ohw:(nc+1)*ohw], 0, 1, 0)
	}
}

// pool2x2Fast reports whether every window of the pool g is a 2x2 one
// inside the input at stride 2 along rows (pool2x2Row's windows).
func pool2x2Fast(g convGeom) bool {
	p := g.p
	return p.PadTop == 0 && p.PadLeft == 0 && p.DilationH == 1 && p.DilationW == 1 && g.kh == 2 && g.kw == 2 && p.StrideW == 2 &&
		(g.oh-1)*p.StrideH+2 <= g.h && (g.ow-1)*2+2 <= g.w
}

// maxPool2x2Values32 pools planes planes of x (pool2x2Fast) into vals:
// with the vector kernel, rows of consecutive planes in one call when
// they follow each other at the row stride, the rows it leaves (a NaN)
// by pool2x2Values.
func maxPool2x2Values32(x []float32, g convGeom, vals []float32, planes int) {
	hw, ohw := g.h*g.w, g.oh*g.ow
	stride := g.p.StrideH * g.w
	run := func(x, v []float32, rows int) {
		for i := 0; i < rows; {
			i += kernels.MaxPool2x2Values(x[i*stride:], g.w, stride, g.ow, rows-i, v[i*g.ow:])
			if i < rows {
				pool2x2Values(x, i*stride, g.w, v[i*g.ow:(i+1)*g.ow])
				i++
			}
		}
	}
	if g.oh*stride == hw {
		run(x, vals, planes*g.oh)
		return
	}
	for nc := 0; nc < planes; nc++ {
		run(x[nc*hw:(nc+1)*hw], vals[nc*ohw:(nc+1)*ohw], g.oh)
	}
}

// pickValues sets vals[i] = x[idx[i]] (0 for negative indices).
func pickValues[T Float](x []T, idx []int32, vals []T) {
	for i, j := range idx {
		if j >= 0 {
			vals[i] = x[j]
		} else {
			vals[i] = 0
		}
	}
}

// maxPoolIdx fills idx and, when vals is not nil, the values at idx (per
// channel while it is in cache).
func maxPoolIdx[T Float](x []T, g convGeom, idx []int32, vals []T) {
	ParallelFor(g.n*g.c, 4, func(lo, hi int) { maxPoolRange(x, g, idx, vals, lo, hi, 0) })
}

// maxPoolRange is maxPoolIdx for the image-channel planes lo..hi-1 on the
// calling goroutine, with off added to every index it stores.
func maxPoolRange[T Float](x []T, g convGeom, idx []int32, vals []T, lo, hi int, off int32) {
	p := g.p
	hw, ohw := g.h*g.w, g.oh*g.ow
	if x32, ok := any(x).([]float32); ok && p.DilationH == 1 && p.DilationW == 1 {
		v32, _ := any(vals).([]float32)
		maxPool32(x32, g, idx, v32, lo, hi, off)
		return
	}
	// the general loop: float64 (checks and references) and dilated windows
	for nc := lo; nc < hi; nc++ {
		base := nc * hw
		xc := x[base : base+hw]
		out := idx[nc*ohw : (nc+1)*ohw]
		for oy := 0; oy < g.oh; oy++ {
			y0 := oy*p.StrideH - p.PadTop
			for ox := 0; ox < g.ow; ox++ {
				x0 := ox*p.StrideW - p.PadLeft
				best := -1
				bv := T(math.Inf(-1))
				for i := 0; i < g.kh; i++ {
					iy := y0 + i*p.DilationH
					if iy < 0 || iy >= g.h {
						continue
					}
					for j := 0; j < g.kw; j++ {
						ix := x0 + j*p.DilationW
						if ix < 0 || ix >= g.w {
							continue
						}
						v := xc[iy*g.w+ix]
						if best < 0 || v > bv || (v != v && bv == bv) {
							bv, best = v, iy*g.w+ix
						}
					}
				}
				if vals != nil {
					if best >= 0 {
						vals[nc*ohw+oy*g.ow+ox] = bv
					} else {
						vals[nc*ohw+oy*g.ow+ox] = 0
					}
				}
				if best >= 0 {
					best += base + int(off)
				}
				out[oy*g.ow+ox] = int32(best)
			}
		}
	}
}

// AvgPool2d averages x [N,C,H,W] over kh x kw windows placed by p. With
// countPad the divisor is always kh*kw (PyTorch's count_include_pad=True);
// without it only the window's positions inside the input count
// (TensorFlow's SAME average pooling).
func AvgPool2d(x *Tensor, kh, kw int, p Conv2dParams, countPad bool) *Tensor {
	g, oshape := PoolOutShape("tensor.AvgPool2d", x.shape, kh, kw, p)
	out := poolResult(g, x.dtype, oshape)
	switch {
	case g.p.DilationH == 1 && g.p.DilationW == 1 && x.dtype == Float32:
		avgPoolSeparable(x.f32, out.f32, g, countPad, false)
	case g.p.DilationH == 1 && g.p.DilationW == 1:
		avgPoolSeparable(x.f64, out.f64, g, countPad, false)
	case x.dtype == Float32:
		avgPool(x.f32, out.f32, g, countPad, false)
	default:
		avgPool(x.f64, out.f64, g, countPad, false)
	}
	return out
}

// AvgPool2dT is the adjoint of AvgPool2d: it spreads gy [N,C,OH,OW] back over
// the windows of an input of shape xshape.
func AvgPool2dT(gy *Tensor, xshape []int, kh, kw int, p Conv2dParams, countPad bool) *Tensor {
	g, oshape := PoolOutShape("tensor.AvgPool2dT", xshape, kh, kw, p)
	if !SameShape(gy.shape, oshape) {
		Panicf("tensor.AvgPool2dT", "gradient %v does not match pooled shape %v of input %v", gy.shape, oshape, xshape)
	}
	out := poolResult(g, gy.dtype, xshape)
	switch {
	case g.p.DilationH == 1 && g.p.DilationW == 1 && gy.dtype == Float32:
		avgPoolSeparable(out.f32, gy.f32, g, countPad, true)
	case g.p.DilationH == 1 && g.p.DilationW == 1:
		avgPoolSeparable(out.f64, gy.f64, g, countPad, true)
	case gy.dtype == Float32:
		avgPool(out.f32, gy.f32, g, countPad, true)
	default:
		avgPool(out.f64, gy.f64, g, countPad, true)
	}
	return out
}

// poolResult allocates the result of an average pool g or its adjoint:
// not zeroed for undilated windows (avgPoolSeparable writes every
// element), zeroed for avgPool (which adds into it).
func poolResult(g convGeom, dt DType, shape []int) *Tensor {
	if g.p.DilationH == 1 && g.p.DilationW == 1 {
		return newOut(dt, shape...)
	}
	return Zeros(dt, shape...)
}

// avgPool computes y = A x (adjoint=false) or x = A^T y (adjoint=true)
// directly, window by window (dilated windows, and the reference that
// avgPoolSeparable is tested against); the result must start zeroed.
func avgPool[T Float](x, y []T, g convGeom, countPad, adjoint bool) {
	p := g.p
	hw, ohw := g.h*g.w, g.oh*g.ow
	ParallelFor(g.n*g.c, 4, func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			xc := x[nc*hw : (nc+1)*hw]
			yc := y[nc*ohw : (nc+1)*ohw]
			for oy := 0; oy < g.oh; oy++ {
				y0 := oy*p.StrideH - p.PadTop
				for ox := 0; ox < g.ow; ox++ {
					x0 := ox*p.StrideW - p.PadLeft
					cnt := 0
					if countPad {
						cnt = g.kh * g.kw
					} else {
						for i := 0; i < g.kh; i++ {
							iy := y0 + i*p.DilationH
							if iy < 0 || iy >= g.h {
								continue
							}
							for j := 0; j < g.kw; j++ {
								if ix := x0 + j*p.DilationW; ix >= 0 && ix < g.w {
									cnt++
								}
							}
						}
					}
					if cnt == 0 {
						continue
					}
					inv := 1 / T(cnt)
					if adjoint {
						v := yc[oy*g.ow+ox] * inv
						for i := 0; i < g.kh; i++ {
							iy := y0 + i*p.DilationH
							if iy < 0 || iy >= g.h {
								continue
							}
							for j := 0; j < g.kw; j++ {
								if ix := x0 + j*p.DilationW; ix >= 0 && ix < g.w {
									xc[iy*g.w+ix] += v
								}
							}
						}
						continue
					}
					var s T
					for i := 0; i < g.kh; i++ {
						iy := y0 + i*p.DilationH
						if iy < 0 || iy >= g.h {
							continue
						}
						for j := 0; j < g.kw; j++ {
							if ix := x0 + j*p.DilationW; ix >= 0 && ix < g.w {
								s += xc[iy*g.w+ix]
							}
						}
					}
					yc[oy*g.ow+ox] = s * inv
				}
			}
		}
	})
}

type lerp struct {
	i0, i1 int
	w0, w1 float64
}

func lerpTable(in, out int, alignCorners bool) []lerp {
	t := make([]lerp, out)
	for o := 0; o < out; o++ {
		var src float64
		if alignCorners {
			if out > 1 {
				src = float64(o) * float64(in-1) / float64(out-1)
			}
		} else {
			src = (float64(o)+0.5)*float64(in)/float64(out) - 0.5
			if src < 0 {
				src = 0
			}
		}
		i0 := int(math.Floor(src))
		if i0 > in-1 {
			i0 = in - 1
		}
		i1 := i0 + 1
		if i1 > in-1 {
			i1 = in - 1
		}
		f := src - float64(i0)
		t[o] = lerp{i0, i1, 1 - f, f}
	}
	return t
}

// ResizeBilinear resizes x [N,C,H,W] to [N,C,oh,ow] by bilinear
// interpolation. alignCorners=false is PyTorch's F.interpolate default
// (half-pixel centres, no antialiasing); true maps corner to corner.
func ResizeBilinear(x *Tensor, oh, ow int, alignCorners bool) *Tensor {
	if len(x.shape) != 4 || oh < 1 || ow < 1 {
		Panicf("tensor.ResizeBilinear", "cannot resize %v to %dx%d", x.shape, oh, ow)
	}
	out := Zeros(x.dtype, x.shape[0], x.shape[1], oh, ow)
	if x.dtype == Float32 {
		resize(x.f32, out.f32, x.shape, oh, ow, alignCorners, false)
	} else {
		resize(x.f64, out.f64, x.shape, oh, ow, alignCorners, false)
	}
	return out
}

// ResizeBilinearT is the adjoint of ResizeBilinear: gy [N,C,oh,ow] is spread
// back onto an input of shape xshape.
func ResizeBilinearT(gy *Tensor, xshape []int, alignCorners bool) *Tensor {
	if len(xshape) != 4 || len(gy.shape) != 4 || gy.shape[0] != xshape[0] || gy.shape[1] != xshape[1] {
		Panicf("tensor.ResizeBilinearT", "gradient %v does not match input %v", gy.shape, xshape)
	}
	out := Zeros(gy.dtype, xshape...)
	if gy.dtype == Float32 {
		resize(out.f32, gy.f32, xshape, gy.shape[2], gy.shape[3], alignCorners, true)
	} else {
		resize(out.f64, gy.f64, xshape, gy.shape[2], gy.shape[3], alignCorners, true)
	}
	return out
}

func resize[T Float](x, y []T, xshape []int, oh, ow int, ac, adjoint bool) {
	h, w := xshape[2], xshape[3]
	ty, tx := lerpTable(h, oh, ac), lerpTable(w, ow, ac)
	ParallelFor(xshape[0]*xshape[1], 4, func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			xc := x[nc*h*w : (nc+1)*h*w]
			yc := y[nc*oh*ow : (nc+1)*oh*ow]
			for oy, ly := range ty {
				for ox, lx := range tx {
					w00 := T(ly.w0 * lx.w0)
					w01 := T(ly.w0 * lx.w1)
					w10 := T(ly.w1 * lx.w0)
					w11 := T(ly.w1 * lx.w1)
					a, b := ly.i0*w+lx.i0, ly.i0*w+lx.i1
					c, d := ly.i1*w+lx.i0, ly.i1*w+lx.i1
					if adjoint {
						v := yc[oy*ow+ox]
						xc[a] += w00 * v
						xc[b] += w01 * v
						xc[c] += w10 * v
						xc[d] += w11 * v
					} else {
						yc[oy*ow+ox] = w00*xc[a] + w01*xc[b] + w10*xc[c] + w11*xc[d]
					}
				}
			}
		}
	})
}

// ChannelWindowSum returns, for x [N,C,H,W], out[n,c] = sum of x[n,c'] over
// |c'-c| <= radius (clipped at the edges). It is self-adjoint; local response
// normalisation is built on it.
func ChannelWindowSum(x *Tensor, radius int) *Tensor {
	if len(x.shape) != 4 || radius < 0 {
		Panicf("tensor.ChannelWindowSum", "want [N,C,H,W] and radius >= 0, got %v and %d", x.shape, radius)
	}
	out := Zeros(x.dtype, x.shape...)
	if x.dtype == Float32 {
		chanSum(x.f32, out.f32, x.shape, radius)
	} else {
		chanSum(x.f64, out.f64, x.shape, radius)
	}
	return out
}

func chanSum[T Float](x, y []T, shape []int, r int) {
	n, c, hw := shape[0], shape[1], shape[2]*shape[3]
	ParallelFor(n, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			xb := x[b*c*hw : (b+1)*c*hw]
			yb := y[b*c*hw : (b+1)*c*hw]
			for ch := 0; ch < c; ch++ {
				yo := yb[ch*hw : (ch+1)*hw]
				for k := max(0, ch-r); k <= min(c-1, ch+r); k++ {
					xk := xb[k*hw : (k+1)*hw]
					for i, v := range xk {
						yo[i] += v
					}
				}
			}
		}
	})
}

// LRN computes TensorFlow's local response normalisation of x [N,C,H,W] in
// one pass: x / (bias + alpha * sum_{|c'-c|<=radius} x_c'^2)^beta.
func LRN(x *Tensor, radius int, bias, alpha, beta float64) *Tensor {
	if len(x.shape) != 4 || radius < 0 {
		Panicf("tensor.LRN", "want [N,C,H,W] and radius >= 0, got %v and %d", x.shape, radius)
	}
	out := Zeros(x.dtype, x.shape...)
	if x.dtype == Float32 {
		lrnT(x.f32, out.f32, x.shape, radius, bias, alpha, beta)
	} else {
		lrnT(x.f64, out.f64, x.shape, radius, bias, alpha, beta)
	}
	return out
}

func lrnT[T Float](x, y []T, shape []int, r int, bias, alpha, beta float64) {
	n, c, hw := shape[0], shape[1], shape[2]*shape[3]
	pow := func(v float64) float64 { return math.Pow(v, -beta) }
	if beta == 0.75 {
		pow = func(v float64) float64 { s := math.Sqrt(v); return 1 / (s * math.Sqrt(s)) }
	}
	ParallelFor(n*hw, 256, func(lo, hi int) {
		sq := make([]float64, c)
		for p := lo; p < hi; p++ {
			b, i := p/hw, p%hw
			base := b*c*hw + i
			for ch := 0; ch < c; ch++ {
				v := float64(x[base+ch*hw])
				sq[ch] = v * v
			}
			s := 0.0
			for ch := 0; ch < min(r, c-1)+1 && ch < c; ch++ {
				s += sq[ch]
			}
			for ch := 0; ch < c; ch++ {
				// s holds the window sum for ch
				y[base+ch*hw] = T(float64(x[base+ch*hw]) * pow(bias+alpha*s))
				if ch+r+1 < c {
					s += sq[ch+r+1]
				}
				if ch-r >= 0 {
					s -= sq[ch-r]
				}
			}
		}
	})
}

// LRNGrad returns the gradient of LRN with respect to x given the output
// gradient gy, in one pass per pixel:
// dx_c = gy_c d_c^-beta - 2 alpha beta x_c sum_{|c'-c|<=radius} gy_c' x_c' d_c'^(-beta-1),
// with d_c = bias + alpha * sum_{|c'-c|<=radius} x_c'^2.
func LRNGrad(x, gy *Tensor, radius int, bias, alpha, beta float64) *Tensor {
	sameDType("tensor.LRNGrad", x, gy)
	if len(x.shape) != 4 || radius < 0 || !SameShape(x.shape, gy.shape) {
		Panicf("tensor.LRNGrad", "want [N,C,H,W] x and gradient of the same shape and radius >= 0, got %v, %v and %d", x.shape, gy.shape, radius)
	}
	out := Zeros(x.dtype, x.shape...)
	if x.dtype == Float32 {
		lrnGradT(x.f32, gy.f32, out.f32, x.shape, radius, bias, alpha, beta)
	} else {
		lrnGradT(x.f64, gy.f64, out.f64, x.shape, radius, bias, alpha, beta)
	}
	return out
}

func lrnGradT[T Float](x, gy, dx []T, shape []int, r int, bias, alpha, beta float64) {
	n, c, hw := shape[0], shape[1], shape[2]*shape[3]
	pow := func(v float64) float64 { return math.Pow(v, -beta) }
	if beta == 0.75 {
		pow = func(v float64) float64 { s := math.Sqrt(v); return 1 / (s * math.Sqrt(s)) }
	}
	k := 2 * alpha * beta
	// image by image, channel rows of HW pixels at a time, so every loop
	// runs over contiguous memory
	ParallelFor(n, 1, func(lo, hi int) {
		buf := make([]float64, 3*c*hw+hw)
		sq, first, u, acc := buf[:c*hw], buf[c*hw:2*c*hw], buf[2*c*hw:3*c*hw], buf[3*c*hw:]
		row := func(a []float64, ch int) []float64 { return a[ch*hw : (ch+1)*hw] }
		// windowRows calls fn(ch, s) with s the sum of rows ch-r..ch+r of a
		windowRows := func(a []float64, fn func(ch int, s []float64)) {
			clear(acc)
			for ch := 0; ch < min(r, c-1)+1; ch++ {
				for i, v := range row(a, ch) {
					acc[i] += v
				}
			}
			for ch := 0; ch < c; ch++ {
				fn(ch, acc)
				if ch+r+1 < c {
					for i, v := range row(a, ch+r+1) {
						acc[i] += v
					}
				}
				if ch-r >= 0 {
					for i, v := range row(a, ch-r) {
						acc[i] -= v
					}
				}
			}
		}
		for b := lo; b < hi; b++ {
			xb, gb, db := x[b*c*hw:(b+1)*c*hw], gy[b*c*hw:(b+1)*c*hw], dx[b*c*hw:(b+1)*c*hw]
			for i, v := range xb {
				sq[i] = float64(v) * float64(v)
			}
			windowRows(sq, func(ch int, s []float64) {
				f, uu := row(first, ch), row(u, ch)
				xs, gs := xb[ch*hw:(ch+1)*hw], gb[ch*hw:(ch+1)*hw]
				for i, w := range s {
					d := bias + alpha*w
					pd := pow(d) // d^-beta
					g := float64(gs[i])
					f[i] = g * pd
					uu[i] = g * float64(xs[i]) * pd / d // gy x d^(-beta-1)
				}
			})
			windowRows(u, func(ch int, t []float64) {
				f, xs, ds := row(first, ch), xb[ch*hw:(ch+1)*hw], db[ch*hw:(ch+1)*hw]
				for i, tv := range t {
					ds[i] = T(f[i] - k*float64(xs[i])*tv)
				}
			})
		}
	})
}

// key32 maps a float32 to an int32 of the same order (-0 equal to +0, every
// NaN above +Inf), so that window maxima can be taken with integer selects
// instead of data-dependent branches, which the CPU cannot predict on
// unordered data.
func key32(v float32) int32 {
	b := int32(math.Float32bits(v))
	mag := b & 0x7fffffff
	isNaN := (0x7f800000 - mag) >> 31 // -1 for a NaN
	s := (b >> 31) &^ isNaN
	return (mag ^ s) - s
}

// sel returns (kb, ib) when kb > ka and (ka, ia) otherwise, branch-free;
// ties keep the first, as PyTorch's scan order does.
func sel(ka, ia, kb, ib int32) (int32, int32) {
	m := int32((int64(ka) - int64(kb)) >> 63)
	return ka ^ ((ka ^ kb) & m), ia ^ ((ia ^ ib) & m)
}

// maxPool32 is maxPoolIdx for float32 windows without dilation. It avoids
// branches on the data: the window maximum is taken first, then the first
// position holding it is found with selects (a NaN, where equality fails,
// takes a slower exact path).
func maxPool32(x []float32, g convGeom, idx []int32, vals []float32, lo, hi int, off int32) {
	p := g.p
	hw, ohw := g.h*g.w, g.oh*g.ow
	sh, sw := p.StrideH, p.StrideW
	fast := pool2x2Fast(g) // every window by pool2x2Row
	if fast && vals != nil && kernels.Current() == kernels.AVX512 {
		maxPool2x2Rows32(x, g, idx, vals, lo, hi, off)
		return
	}
	for nc := lo; nc < hi; nc++ {
		base := nc * hw
		xc := x[base : base+hw]
		out := idx[nc*ohw : (nc+1)*ohw]
		for oy := 0; oy < g.oh; oy++ {
			o := out[oy*g.ow : (oy+1)*g.ow]
			y0 := oy*sh - p.PadTop
			if fast {
				var v []float32
				if vals != nil {
					v = vals[nc*ohw+oy*g.ow : nc*ohw+(oy+1)*g.ow]
				}
				pool2x2Row(xc, y0*g.w, g.w, o, int32(base)+off, v)
				continue
			}
			i0, i1 := max(y0, 0), min(y0+g.kh, g.h)
			for ox := range o {
				x0 := ox*sw - p.PadLeft
				j0, j1 := max(x0, 0), min(x0+g.kw, g.w)
				if i0 >= i1 || j0 >= j1 {
					o[ox] = -1
					continue
				}
				o[ox] = int32(base + windowArgmax(xc, g.w, i0, i1, j0, j1))
			}
		}
		if vals != nil && !fast {
			pickValues(x, out, vals[nc*ohw:(nc+1)*ohw])
		}
		if off != 0 && !fast { // the fast route adds it as it stores
			for i, j := range out {
				if j >= 0 {
					out[i] = j + off
				}
			}
		}
	}
}

// maxPool2x2Rows32 is maxPool32 for planes lo..hi-1 of a pool2x2Fast
// geometry with values on the AVX-512 path: the vector kernel pools the
// rows of consecutive planes in one call when they follow each other at
// the row stride (else a plane per call) instead of a call per row, and
// the rows it leaves (a NaN) go through pool2x2Row. The same indices and
// values, bit for bit.
func maxPool2x2Rows32(x []float32, g convGeom, idx []int32, vals []float32, lo, hi int, off int32) {
	hw, ohw := g.h*g.w, g.oh*g.ow
	stride := g.p.StrideH * g.w
	for nc := lo; nc < hi; {
		planes := 1
		if g.oh*stride == hw {
			planes = hi - nc
		}
		rows, o := planes*g.oh, nc*ohw
		for i := 0; i < rows; {
			i += kernels.MaxPool2x2Rows(x[nc*hw+i*stride:], g.w, stride, g.ow, rows-i, int32(nc*hw+i*stride)+off, idx[o+i*g.ow:], vals[o+i*g.ow:])
			if i < rows {
				c, oy := nc+i/g.oh, i%g.oh
				r := c*ohw + oy*g.ow
				pool2x2Row(x[c*hw:(c+1)*hw], oy*stride, g.w, idx[r:r+g.ow], int32(c*hw)+off, vals[r:r+g.ow])
				i++
			}
		}
		nc += planes
	}
}

// pool2x2Row fills one output row o of a 2x2, stride-2 pool whose window
// rows start at flat offset r (row width w) of the channel xc.
func pool2x2Row(xc []float32, r, w int, o []int32, base int32, v []float32) {
	done := 0
	if v != nil {
		done = kernels.MaxPool2x2Row(xc[r:r+w], xc[r+w:r+2*w], w, base+int32(r), o, v)
	}
	for ox := done; ox < len(o); ox++ {
		j := 2 * ox
		off := first2x2(xc, r, w, j)
		o[ox] = base + int32(r+j+off)
		if v != nil {
			v[ox] = xc[r+j+off]
		}
	}
}

// first2x2 returns the offset (0, 1, w or w+1) of the first maximum in
// row-major order of the 2x2 window at flat offset r+j of the channel xc
// (row width w): -0 and +0 tie, the first NaN wins.
func first2x2(xc []float32, r, w, j int) int {
	r0, r1 := xc[r+j:r+j+2], xc[r+w+j:r+w+j+2]
	a, b, c, d := r0[0], r0[1], r1[0], r1[1]
	m := max(max(a, b), max(c, d))
	off := w + 1
	if c == m {
		off = w
	}
	if b == m {
		off = 1
	}
	if a == m {
		off = 0
	}
	if m != m { // a NaN: windowArgmax's exact path picks the first one
		off = windowArgmax(xc, w, r/w, r/w+2, j, j+2) - r - j
	}
	return off
}

// pool2x2Values sets v to the values of one output row of a 2x2, stride-2
// pool whose window rows start at flat offset r (row width w) of the
// channel xc: those pool2x2Row picks, without the indices.
func pool2x2Values(xc []float32, r, w int, v []float32) {
	for ox := range v {
		j := 2 * ox
		v[ox] = xc[r+j+first2x2(xc, r, w, j)]
	}
}

// windowArgmax returns the flat index in xc (row width w) of the first
// maximum of rows [i0,i1) x columns [j0,j1), scanning row-major; the first
// NaN wins over everything.
func windowArgmax(xc []float32, w, i0, i1, j0, j1 int) int {
	if i1-i0 == 3 && j1-j0 == 3 {
		r := i0*w + j0
		r0, r1, r2 := xc[r:r+3], xc[r+w:r+w+3], xc[r+2*w:r+2*w+3]
		m := max(r0[0], r0[1], r0[2], r1[0], r1[1], r1[2], r2[0], r2[1], r2[2])
		if m == m {
			off := 2*w + 2
			if r2[1] == m {
				off = 2*w + 1
			}
			if r2[0] == m {
				off = 2 * w
			}
			if r1[2] == m {
				off = w + 2
			}
			if r1[1] == m {
				off = w + 1
			}
			if r1[0] == m {
				off = w
			}
			if r0[2] == m {
				off = 2
			}
			if r0[1] == m {
				off = 1
			}
			if r0[0] == m {
				off = 0
			}
			return r + off
		}
	}
	m := xc[i0*w+j0]
	for i := i0; i < i1; i++ {
		for _, v := range xc[i*w+j0 : i*w+j1] {
			m = max(m, v)
		}
	}
	best := i0*w + j0
	if m != m {
		ka, ia := key32(xc[best]), int32(best)
		for i := i0; i < i1; i++ {
			for j := j0; j < j1; j++ {
				ka, ia = sel(ka, ia, key32(xc[i*w+j]), int32(i*w+j))
			}
		}
		return int(ia)
	}
	// scan backwards with selects, so the earliest match is written last
	for i := i1 - 1; i >= i0; i-- {
		row := xc[i*w+j0 : i*w+j1]
		for j := len(row) - 1; j >= 0; j-- {
			if row[j] == m {
				best = i*w + j0 + j
			}
		}
	}
	return best
}
