package tensor

// Conv2dParams describes a 2-D convolution or pooling window placement:
// strides, explicit zero padding on each side and dilation.
type Conv2dParams struct {
	StrideH, StrideW     int
	PadTop, PadBottom    int
	PadLeft, PadRight    int
	DilationH, DilationW int
}

func (p Conv2dParams) norm() Conv2dParams {
	if p.StrideH == 0 {
		p.StrideH = 1
	}
	if p.StrideW == 0 {
		p.StrideW = 1
	}
	if p.DilationH == 0 {
		p.DilationH = 1
	}
	if p.DilationW == 0 {
		p.DilationW = 1
	}
	return p
}

// SamePadding returns TensorFlow's SAME padding (before, after) for an input
// of size in, kernel k, stride s and dilation d: the output has ceil(in/s)
// positions and any odd padding goes after.
func SamePadding(in, k, s, d int) (before, after int) {
	if s < 1 {
		s = 1
	}
	if d < 1 {
		d = 1
	}
	out := (in + s - 1) / s
	total := (out-1)*s + (k-1)*d + 1 - in
	if total < 0 {
		total = 0
	}
	return total / 2, total - total/2
}

// ConvOutSize returns the output size along one dimension.
func ConvOutSize(in, k, stride, padBefore, padAfter, dil int) int {
	if stride < 1 {
		stride = 1
	}
	if dil < 1 {
		dil = 1
	}
	span := (k-1)*dil + 1
	if in+padBefore+padAfter < span {
		return 0
	}
	return (in+padBefore+padAfter-span)/stride + 1
}

type convGeom struct {
	n, c, h, w, f, kh, kw, oh, ow int
	p                             Conv2dParams
}

func (g convGeom) ckk() int { return g.c * g.kh * g.kw }
func (g convGeom) ohw() int { return g.oh * g.ow }
func (g convGeom) direct() bool {
	return g.kh == 1 && g.kw == 1 && g.p.StrideH == 1 && g.p.StrideW == 1 &&
		g.p.PadTop == 0 && g.p.PadBottom == 0 && g.p.PadLeft == 0 && g.p.PadRight == 0
}

func convGeometry(op string, xshape, wshape []int, p Conv2dParams) convGeom {
	p = p.norm()
	if len(xshape) != 4 || len(wshape) != 4 {
		Panicf(op, "want input [N,C,H,W] and weight [F,C,KH,KW], got %v and %v", xshape, wshape)
	}
	if xshape[1] != wshape[1] {
		Panicf(op, "input channels %d (input %v) differ from weight channels %d (weight %v)", xshape[1], xshape, wshape[1], wshape)
	}
	if p.StrideH < 1 || p.StrideW < 1 || p.DilationH < 1 || p.DilationW < 1 || p.PadTop < 0 || p.PadBottom < 0 || p.PadLeft < 0 || p.PadRight < 0 {
		Panicf(op, "invalid parameters %+v", p)
	}
	g := convGeom{n: xshape[0], c: xshape[1], h: xshape[2], w: xshape[3], f: wshape[0], kh: wshape[2], kw: wshape[3], p: p}
	g.oh = ConvOutSize(g.h, g.kh, p.StrideH, p.PadTop, p.PadBottom, p.DilationH)
	g.ow = ConvOutSize(g.w, g.kw, p.StrideW, p.PadLeft, p.PadRight, p.DilationW)
	if g.oh <= 0 || g.ow <= 0 {
		Panicf(op, "kernel %v does not fit input %v with %+v", wshape, xshape, p)
	}
	return g
}

// validRange returns the output columns [lo,hi) whose input column
// ox*stride + off lies inside [0,w).
func validRange(ow, w, stride, off int) (lo, hi int) {
	// ox*stride + off >= 0  <=>  ox >= ceil(-off/stride)
	lo = 0
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	// ox*stride + off <= w-1  <=>  ox <= floor((w-1-off)/stride)
	if w-1-off < 0 {
		return lo, lo
	}
	hi = (w-1-off)/stride + 1
	if hi > ow {
		hi = ow
	}
	if lo > hi {
		lo = hi
	}
	return lo, hi
}

// im2col writes the patches of one image x [C,H,W] into the columns of
// cols, a [C*KH*KW, OH*OW] block whose rows are ld elements apart.
func im2col[T Float](x []T, g convGeom, cols []T, ld int) {
	p := g.p
	ohw := g.ohw()
	for c := 0; c < g.c; c++ {
		xc := x[c*g.h*g.w : (c+1)*g.h*g.w]
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				r0 := ((c*g.kh+i)*g.kw + j) * ld
				row := cols[r0 : r0+ohw]
				off := -p.PadLeft + j*p.DilationW
				lo, hi := validRange(g.ow, g.w, p.StrideW, off)
				for oy := 0; oy < g.oh; oy++ {
					iy := oy*p.StrideH - p.PadTop + i*p.DilationH
					r := row[oy*g.ow : (oy+1)*g.ow]
					if iy < 0 || iy >= g.h {
						clear(r)
						continue
					}
					xr := xc[iy*g.w : (iy+1)*g.w]
					clear(r[:lo])
					clear(r[hi:])
					if p.StrideW == 1 {
						copy(r[lo:hi], xr[lo+off:hi+off])
						continue
					}
					ix := lo*p.StrideW + off
					for ox := lo; ox < hi; ox++ {
						r[ox] = xr[ix]
						ix += p.StrideW
					}
				}
			}
		}
	}
}

// col2im accumulates a [C*KH*KW, OH*OW] block of cols (rows ld apart) into
// x [C,H,W]: the adjoint of im2col.
func col2im[T Float](cols []T, g convGeom, x []T, ld int) {
	p := g.p
	ohw := g.ohw()
	for c := 0; c < g.c; c++ {
		xc := x[c*g.h*g.w : (c+1)*g.h*g.w]
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				r0 := ((c*g.kh+i)*g.kw + j) * ld
				row := cols[r0 : r0+ohw]
				off := -p.PadLeft + j*p.DilationW
				lo, hi := validRange(g.ow, g.w, p.StrideW, off)
				for oy := 0; oy < g.oh; oy++ {
					iy := oy*p.StrideH - p.PadTop + i*p.DilationH
					if iy < 0 || iy >= g.h {
						continue
					}
					r := row[oy*g.ow : (oy+1)*g.ow]
					xr := xc[iy*g.w : (iy+1)*g.w]
					if p.StrideW == 1 {
						dst := xr[lo+off : hi+off]
						src := r[lo:hi]
						for k := range dst {
							dst[k] += src[k]
						}
						continue
					}
					ix := lo*p.StrideW + off
					for ox := lo; ox < hi; ox++ {
						xr[ix] += r[ox]
						ix += p.StrideW
					}
				}
			}
		}
	}
}

// Conv2d computes the cross-correlation of x [N,C,H,W] with w [F,C,KH,KW]
// (PyTorch's layout and convention), giving [N,F,OH,OW].
func Conv2d(x, w *Tensor, p Conv2dParams) *Tensor {
	return Conv2dBias(x, w, nil, p)
}

// Conv2dBias is Conv2d plus b [F] added to every output channel (b may be
// nil), the bias added while each image's output is still in cache.
func Conv2dBias(x, w, b *Tensor, p Conv2dParams) *Tensor {
	sameDType("tensor.Conv2d", x, w)
	g := convGeometry("tensor.Conv2d", x.shape, w.shape, p)
	if b != nil {
		sameDType("tensor.Conv2d", x, b)
		if len(b.shape) != 1 || b.shape[0] != g.f {
			Panicf("tensor.Conv2d", "bias %v does not match weight %v", b.shape, w.shape)
		}
	}
	out := Zeros(x.dtype, g.n, g.f, g.oh, g.ow)
	if x.dtype == Float32 {
		var bias []float32
		if b != nil {
			bias = b.f32
		}
		convForward(x.f32, w.f32, bias, out.f32, g)
	} else {
		var bias []float64
		if b != nil {
			bias = b.f64
		}
		convForward(x.f64, w.f64, bias, out.f64, g)
	}
	return out
}

// addBias adds bias[f] to channel f of images n0..n1-1 of y [N,F,OH,OW]
// (nothing when bias is nil).
func addBias[T Float](y, bias []T, g convGeom, n0, n1 int) {
	if bias == nil {
		return
	}
	ohw := g.ohw()
	for n := n0; n < n1; n++ {
		for f, v := range bias {
			row := y[(n*g.f+f)*ohw : (n*g.f+f+1)*ohw]
			for i := range row {
				row[i] += v
			}
		}
	}
}

// perImage reports whether an im2col-lowered convolution runs image by
// image on each worker (single-threaded GEMMs on cache-resident columns)
// rather than as one wide GEMM over a chunk of images: the wide GEMM only
// pays when the per-image product is too small to keep a core busy.
func (g convGeom) perImage() bool {
	return g.n >= Workers() && g.f*g.ohw()*g.ckk() >= perImageMinWork
}

// perImageMinWork is the smallest per-image multiply-add count of perImage.
var perImageMinWork = 1 << 18

// eachImage calls fn for every image n, the images split between the
// workers in contiguous shares (first is the worker's first image), each
// worker with its own [CKK, OHW] column buffer: nil for a direct 1x1
// convolution, whose image is its own column matrix. fn must stay on its
// goroutine (single-threaded GEMMs).
func eachImage[T Float](g convGeom, fn func(first, n int, cols []T)) {
	ParallelFor(g.n, 1, func(lo, hi int) {
		var cols []T
		if !g.direct() {
			cols = getBuf[T](g.ckk() * g.ohw())
			defer putBuf(cols)
		}
		for n := lo; n < hi; n++ {
			fn(lo, n, cols)
		}
	})
}

// partials are per-worker partial sums of a gradient, keyed by the worker's
// first image and added up in image order, so the result does not depend
// on which worker finishes first.
type partials[T Float] struct {
	parts [][]T
	size  int
}

func newPartials[T Float](n, size int) partials[T] {
	return partials[T]{parts: make([][]T, n), size: size}
}

// of returns the (cleared on first use) partial sum of the worker whose
// share starts at image first; only that worker may call it.
func (p partials[T]) of(first int) []T {
	if p.parts[first] == nil {
		b := getBuf[T](p.size)
		clear(b)
		p.parts[first] = b
	}
	return p.parts[first]
}

// addTo adds every partial into dst in image order and releases them.
func (p partials[T]) addTo(dst []T) {
	for _, part := range p.parts {
		if part != nil {
			for i, v := range part {
				dst[i] += v
			}
			putBuf(part)
		}
	}
}

// chunkImages returns how many images one GEMM covers so that its column
// buffer stays near colBudget elements.
func chunkImages(g convGeom) int {
	per := g.ckk() * g.ohw()
	nb := colBudget / max(per, 1)
	return max(1, min(nb, g.n))
}

// colBudget bounds the im2col buffer (elements); 4M float32 = 16 MB.
var colBudget = 1 << 22

// convForward computes y = W * x (plus the bias): stride-1 convolutions with
// many channels by the shifted lowering (conv_shift.go); others image by
// image on each worker (perImage), or, when one image is too little work,
// lowered with im2col side by side into one [CKK, nb*OHW] matrix per chunk
// of nb images, multiplied by W in one GEMM (using the BLAS library's
// threads) and scattered back to [nb, F, OHW].
func convForward[T Float](x, w, bias, y []T, g convGeom) {
	if g.shiftable() {
		convForwardShift(x, w, bias, y, g)
		return
	}
	ckk, ohw, chw := g.ckk(), g.ohw(), g.c*g.h*g.w
	fo := g.f * ohw
	if g.direct() || g.perImage() {
		eachImage(g, func(_, n int, cols []T) {
			in := x[n*chw : (n+1)*chw]
			if cols != nil {
				im2col(in, g, cols, ohw)
				in = cols
			}
			gemmSingleT(false, false, g.f, ohw, ckk, 1, w, ckk, in, ohw, 0, y[n*fo:(n+1)*fo], ohw)
			addBias(y, bias, g, n, n+1)
		})
		return
	}
	nb := chunkImages(g)
	cols := getBuf[T](ckk * nb * ohw)
	out := getBuf[T](g.f * nb * ohw)
	defer putBuf(cols)
	defer putBuf(out)
	for n0 := 0; n0 < g.n; n0 += nb {
		cnt := min(nb, g.n-n0)
		ld := cnt * ohw
		ParallelFor(cnt, 1, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				im2col(x[(n0+j)*chw:(n0+j+1)*chw], g, cols[j*ohw:], ld)
			}
		})
		gemmT(false, false, g.f, ld, ckk, 1, w, ckk, cols, ld, 0, out, ld)
		ParallelFor(cnt, 1, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				yn := y[(n0+j)*fo : (n0+j+1)*fo]
				for f := 0; f < g.f; f++ {
					copy(yn[f*ohw:(f+1)*ohw], out[f*ld+j*ohw:f*ld+(j+1)*ohw])
				}
				addBias(y, bias, g, n0+j, n0+j+1)
			}
		})
	}
}

// gatherGrad copies gy [cnt, F, OHW] (images n0..) into gcat [F, cnt*OHW].
func gatherGrad[T Float](gy []T, g convGeom, n0, cnt int, gcat []T) {
	ohw := g.ohw()
	fo := g.f * ohw
	ld := cnt * ohw
	ParallelFor(cnt, 1, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			gn := gy[(n0+j)*fo : (n0+j+1)*fo]
			for f := 0; f < g.f; f++ {
				copy(gcat[f*ld+j*ohw:f*ld+(j+1)*ohw], gn[f*ohw:(f+1)*ohw])
			}
		}
	})
}

// Conv2dInputGrad returns the gradient with respect to the input of Conv2d
// given the output gradient gy [N,F,OH,OW], the weight and the input shape.
// It is also the transposed convolution of gy with w.
func Conv2dInputGrad(gy, w *Tensor, xshape []int, p Conv2dParams) *Tensor {
	sameDType("tensor.Conv2dInputGrad", gy, w)
	g := convGeometry("tensor.Conv2dInputGrad", xshape, w.shape, p)
	if !SameShape(gy.shape, []int{g.n, g.f, g.oh, g.ow}) {
		Panicf("tensor.Conv2dInputGrad", "output gradient %v does not match input %v and weight %v (want %v)", gy.shape, xshape, w.shape, []int{g.n, g.f, g.oh, g.ow})
	}
	out := Zeros(gy.dtype, xshape...)
	if gy.dtype == Float32 {
		convInputGrad(gy.f32, w.f32, out.f32, g)
	} else {
		convInputGrad(gy.f64, w.f64, out.f64, g)
	}
	return out
}

func convInputGrad[T Float](gy, w, dx []T, g convGeom) {
	if g.shiftable() {
		convInputGradShift(gy, w, dx, g)
		return
	}
	ckk, ohw, chw := g.ckk(), g.ohw(), g.c*g.h*g.w
	fo := g.f * ohw
	if g.direct() || g.perImage() {
		eachImage(g, func(_, n int, cols []T) {
			out := dx[n*chw : (n+1)*chw]
			if cols != nil {
				out = cols
			}
			gemmSingleT(true, false, ckk, ohw, g.f, 1, w, ckk, gy[n*fo:(n+1)*fo], ohw, 0, out, ohw)
			if cols != nil {
				col2im(cols, g, dx[n*chw:(n+1)*chw], ohw)
			}
		})
		return
	}
	nb := chunkImages(g)
	cols := getBuf[T](ckk * nb * ohw)
	gcat := getBuf[T](g.f * nb * ohw)
	defer putBuf(cols)
	defer putBuf(gcat)
	for n0 := 0; n0 < g.n; n0 += nb {
		cnt := min(nb, g.n-n0)
		ld := cnt * ohw
		gatherGrad(gy, g, n0, cnt, gcat)
		gemmT(true, false, ckk, ld, g.f, 1, w, ckk, gcat, ld, 0, cols, ld)
		ParallelFor(cnt, 1, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				col2im(cols[j*ohw:], g, dx[(n0+j)*chw:(n0+j+1)*chw], ld)
			}
		})
	}
}

// Conv2dWeightGrad returns the gradient with respect to the weight of Conv2d
// given the input x and the output gradient gy.
func Conv2dWeightGrad(x, gy *Tensor, wshape []int, p Conv2dParams) *Tensor {
	sameDType("tensor.Conv2dWeightGrad", x, gy)
	g := convGeometry("tensor.Conv2dWeightGrad", x.shape, wshape, p)
	if !SameShape(gy.shape, []int{g.n, g.f, g.oh, g.ow}) {
		Panicf("tensor.Conv2dWeightGrad", "output gradient %v does not match input %v and weight %v (want %v)", gy.shape, x.shape, wshape, []int{g.n, g.f, g.oh, g.ow})
	}
	out := Zeros(x.dtype, wshape...)
	if x.dtype == Float32 {
		convWeightGrad(x.f32, gy.f32, out.f32, g)
	} else {
		convWeightGrad(x.f64, gy.f64, out.f64, g)
	}
	return out
}

func convWeightGrad[T Float](x, gy, dw []T, g convGeom) {
	if g.shiftable() {
		convWeightGradShift(x, gy, dw, g)
		return
	}
	ckk, ohw, chw := g.ckk(), g.ohw(), g.c*g.h*g.w
	if g.perImage() {
		// each worker accumulates its images into its own partial gradient
		fo := g.f * ohw
		parts := newPartials[T](g.n, len(dw))
		eachImage(g, func(first, n int, cols []T) {
			in := x[n*chw : (n+1)*chw]
			if cols != nil {
				im2col(in, g, cols, ohw)
				in = cols
			}
			gemmSingleT(false, true, g.f, ckk, ohw, 1, gy[n*fo:(n+1)*fo], ohw, in, ohw, 1, parts.of(first), ckk)
		})
		parts.addTo(dw)
		return
	}
	nb := chunkImages(g)
	if g.direct() {
		nb = g.n
	}
	cols := getBuf[T](ckk * nb * ohw)
	gcat := getBuf[T](g.f * nb * ohw)
	defer putBuf(cols)
	defer putBuf(gcat)
	for n0 := 0; n0 < g.n; n0 += nb {
		cnt := min(nb, g.n-n0)
		ld := cnt * ohw
		ParallelFor(cnt, 1, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				xn := x[(n0+j)*chw : (n0+j+1)*chw]
				if g.direct() {
					for c := 0; c < g.c; c++ {
						copy(cols[c*ld+j*ohw:c*ld+(j+1)*ohw], xn[c*ohw:(c+1)*ohw])
					}
				} else {
					im2col(xn, g, cols[j*ohw:], ld)
				}
			}
		})
		gatherGrad(gy, g, n0, cnt, gcat)
		gemmT(false, true, g.f, ckk, ld, 1, gcat, ld, cols, ld, 1, dw, ckk)
	}
}
