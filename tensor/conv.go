package tensor

import "github.com/arp-robustness/arp/kernels"

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
	if err := g.kern().Check(); err != nil {
		Panicf(op, "input %v, weight %v: %v", xshape, wshape, err)
	}
	return g
}

// kern is the geometry in the kernels package's terms.
func (g convGeom) kern() kernels.ConvGeom {
	p := g.p
	return kernels.ConvGeom{N: g.n, C: g.c, H: g.h, W: g.w, F: g.f, KH: g.kh, KW: g.kw, OH: g.oh, OW: g.ow,
		SH: p.StrideH, SW: p.StrideW, PT: p.PadTop, PB: p.PadBottom, PL: p.PadLeft, PR: p.PadRight,
		DH: p.DilationH, DW: p.DilationW}
}

// Conv2d computes the cross-correlation of x [N,C,H,W] with w [F,C,KH,KW]
// (PyTorch's layout and convention), giving [N,F,OH,OW].
func Conv2d(x, w *Tensor, p Conv2dParams) *Tensor {
	return Conv2dBias(x, w, nil, p)
}

// Conv2dBias is Conv2d plus b [F] added to every output channel (b may be
// nil), the bias added by the kernels while the output is in registers.
func Conv2dBias(x, w, b *Tensor, p Conv2dParams) *Tensor {
	return conv2dForward(x, w, b, p, false)
}

// Conv2dBiasRelu is max(Conv2dBias(x, w, b, p), 0) computed in one pass
// (negative outputs are replaced by 0 while still in registers; NaN stays).
func Conv2dBiasRelu(x, w, b *Tensor, p Conv2dParams) *Tensor {
	return conv2dForward(x, w, b, p, true)
}

func conv2dForward(x, w, b *Tensor, p Conv2dParams, relu bool) *Tensor {
	sameDType("tensor.Conv2d", x, w)
	g := convGeometry("tensor.Conv2d", x.shape, w.shape, p)
	out := newOut(x.dtype, g.n, g.f, g.oh, g.ow) // every element is written
	convForwardInto(g, x, w, b, out, relu)
	return out
}

// convForwardInto computes the convolution into out (fully overwritten).
func convForwardInto(g convGeom, x, w, b, out *Tensor, relu bool) {
	if b != nil {
		sameDType("tensor.Conv2d", x, b)
		if len(b.shape) != 1 || b.shape[0] != g.f {
			Panicf("tensor.Conv2d", "bias %v does not match weight %v", b.shape, w.shape)
		}
	}
	if g.n == 0 {
		return
	}
	if x.dtype == Float32 {
		var bias []float32
		if b != nil {
			bias = b.f32
		}
		kernels.ConvForward(g.kern(), x.f32, w.f32, bias, out.f32, relu)
	} else {
		var bias []float64
		if b != nil {
			bias = b.f64
		}
		kernels.ConvForward(g.kern(), x.f64, w.f64, bias, out.f64, relu)
	}
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
	out := newOut(gy.dtype, xshape...) // every element is written
	if g.n == 0 {
		return out
	}
	if gy.dtype == Float32 {
		kernels.ConvInputGrad(g.kern(), gy.f32, w.f32, out.f32)
	} else {
		kernels.ConvInputGrad(g.kern(), gy.f64, w.f64, out.f64)
	}
	return out
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
	if g.n == 0 {
		return out
	}
	if x.dtype == Float32 {
		kernels.ConvWeightGrad(g.kern(), x.f32, gy.f32, out.f32)
	} else {
		kernels.ConvWeightGrad(g.kern(), x.f64, gy.f64, out.f64)
	}
	return out
}
