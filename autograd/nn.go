package autograd

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/arp-robustness/arp/tensor"
)

// Conv2dParams re-exports the window placement of tensor.Conv2dParams.
type Conv2dParams = tensor.Conv2dParams

// Conv2d cross-correlates x [N,C,H,W] with w [F,C,KH,KW] (PyTorch layout).
// Its backward is built from Conv2dInputGrad and Conv2dWeightGrad, which are
// differentiable too, so gradients of any order exist.
func Conv2d(x, w *Var, p Conv2dParams) *Var {
	sameDType("autograd.Conv2d", x, w)
	xs := append([]int(nil), x.Shape()...)
	ws := append([]int(nil), w.Shape()...)
	return record("Conv2d", tensor.Conv2d(x.val, w.val, p), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		g := make([]*Var, 2)
		if needs[0] {
			g[0] = Conv2dInputGrad(gy, in[1], xs, p)
		}
		if needs[1] {
			g[1] = Conv2dWeightGrad(in[0], gy, ws, p)
		}
		return g
	}, x, w)
}

// Conv2dInputGrad is the gradient of Conv2d with respect to its input for
// output gradient gy; it is also the transposed convolution of gy with w.
func Conv2dInputGrad(gy, w *Var, xshape []int, p Conv2dParams) *Var {
	sameDType("autograd.Conv2dInputGrad", gy, w)
	xshape = append([]int(nil), xshape...)
	ws := append([]int(nil), w.Shape()...)
	return record("Conv2dInputGrad", tensor.Conv2dInputGrad(gy.val, w.val, xshape, p), func(in []*Var, out, gz *Var, needs []bool) []*Var {
		g := make([]*Var, 2)
		if needs[0] {
			g[0] = Conv2d(gz, in[1], p)
		}
		if needs[1] {
			g[1] = Conv2dWeightGrad(gz, in[0], ws, p)
		}
		return g
	}, gy, w)
}

// Conv2dWeightGrad is the gradient of Conv2d with respect to its weight for
// input x and output gradient gy.
func Conv2dWeightGrad(x, gy *Var, wshape []int, p Conv2dParams) *Var {
	sameDType("autograd.Conv2dWeightGrad", x, gy)
	wshape = append([]int(nil), wshape...)
	xs := append([]int(nil), x.Shape()...)
	return record("Conv2dWeightGrad", tensor.Conv2dWeightGrad(x.val, gy.val, wshape, p), func(in []*Var, out, gz *Var, needs []bool) []*Var {
		g := make([]*Var, 2)
		if needs[0] {
			g[0] = Conv2dInputGrad(in[1], gz, xs, p)
		}
		if needs[1] {
			g[1] = Conv2d(in[0], gz, p)
		}
		return g
	}, x, gy)
}

// ConvTranspose2d is the transposed convolution (PyTorch's conv_transpose2d
// without groups) of x [N,Cin,H,W] with w [Cin,Cout,KH,KW]: the adjoint of a
// Conv2d with the same parameters. outputPaddingH/W add rows/columns at the
// bottom/right to pick among the output sizes that map to the input size.
func ConvTranspose2d(x, w *Var, p Conv2dParams, outputPaddingH, outputPaddingW int) *Var {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 || len(ws) != 4 || xs[1] != ws[0] {
		tensor.Panicf("autograd.ConvTranspose2d", "want x [N,Cin,H,W] and w [Cin,Cout,KH,KW], got %v and %v", xs, ws)
	}
	q := p
	if q.StrideH == 0 {
		q.StrideH = 1
	}
	if q.StrideW == 0 {
		q.StrideW = 1
	}
	dh, dw := max(q.DilationH, 1), max(q.DilationW, 1)
	oh := (xs[2]-1)*q.StrideH - q.PadTop - q.PadBottom + dh*(ws[2]-1) + 1 + outputPaddingH
	ow := (xs[3]-1)*q.StrideW - q.PadLeft - q.PadRight + dw*(ws[3]-1) + 1 + outputPaddingW
	if oh <= 0 || ow <= 0 || outputPaddingH < 0 || outputPaddingW < 0 || outputPaddingH >= max(q.StrideH, dh) || outputPaddingW >= max(q.StrideW, dw) {
		tensor.Panicf("autograd.ConvTranspose2d", "invalid output size %dx%d for input %v, weight %v, %+v, output padding %d,%d", oh, ow, xs, ws, p, outputPaddingH, outputPaddingW)
	}
	// the adjoint of a Conv2d whose input has the output size: rows and
	// columns added by output padding are positions that conv never reads
	return Conv2dInputGrad(x, w, []int{xs[0], ws[1], oh, ow}, p)
}

// MaxPool2d takes the maximum over kh x kw windows placed by p (padding never
// wins). The gradient flows to each window's maximum.
func MaxPool2d(x *Var, kh, kw int, p Conv2dParams) *Var {
	if !recording(x) {
		// no backward pass: the values alone, bit for bit
		return record("MaxPool2d", tensor.MaxPool2dValues(x.val, kh, kw, p), nil, x)
	}
	y, idx := tensor.MaxPool2d(x.val, kh, kw, p)
	return gathered(x, y, idx, y.Shape()[2]*y.Shape()[3])
}

// AvgPool2d averages over kh x kw windows; see tensor.AvgPool2d for countPad.
func AvgPool2d(x *Var, kh, kw int, p Conv2dParams, countPad bool) *Var {
	xs := append([]int(nil), x.Shape()...)
	return record("AvgPool2d", tensor.AvgPool2d(x.val, kh, kw, p, countPad), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{avgPool2dT(gy, xs, kh, kw, p, countPad)}
	}, x)
}

func avgPool2dT(gy *Var, xs []int, kh, kw int, p Conv2dParams, countPad bool) *Var {
	return record("AvgPool2dT", tensor.AvgPool2dT(gy.val, xs, kh, kw, p, countPad), func(in []*Var, out, gz *Var, needs []bool) []*Var {
		return []*Var{AvgPool2d(gz, kh, kw, p, countPad)}
	}, gy)
}

// GlobalAvgPool averages [N,C,H,W] over H and W, giving [N,C].
func GlobalAvgPool(x *Var) *Var {
	if len(x.Shape()) != 4 {
		tensor.Panicf("autograd.GlobalAvgPool", "want [N,C,H,W], got %v", x.Shape())
	}
	return Mean(x, false, 2, 3)
}

// ResizeBilinear resizes [N,C,H,W] to [N,C,oh,ow] (see tensor.ResizeBilinear).
func ResizeBilinear(x *Var, oh, ow int, alignCorners bool) *Var {
	xs := append([]int(nil), x.Shape()...)
	return record("ResizeBilinear", tensor.ResizeBilinear(x.val, oh, ow, alignCorners), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{resizeBilinearT(gy, xs, alignCorners)}
	}, x)
}

func resizeBilinearT(gy *Var, xs []int, ac bool) *Var {
	oh, ow := gy.Shape()[2], gy.Shape()[3]
	return record("ResizeBilinearT", tensor.ResizeBilinearT(gy.val, xs, ac), func(in []*Var, out, gz *Var, needs []bool) []*Var {
		return []*Var{ResizeBilinear(gz, oh, ow, ac)}
	}, gy)
}

// ChannelWindowSum sums [N,C,H,W] over channel windows of the given radius
// (self-adjoint linear op).
func ChannelWindowSum(x *Var, radius int) *Var {
	return record("ChannelWindowSum", tensor.ChannelWindowSum(x.val, radius), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{ChannelWindowSum(gy, radius)}
	}, x)
}

// LRN is TensorFlow's local response normalisation across channels of
// [N,C,H,W]: x / (bias + alpha * sum_{|c'-c|<=radius} x_c'^2)^beta
// (alpha is not divided by the window size, unlike PyTorch's LocalResponseNorm).
//
// The forward pass is one fused kernel keeping no intermediate tensors;
// the backward pass, gx = gy*d^-beta - 2*alpha*beta*x*S(gy*x*d^(-beta-1))
// with d = bias + alpha*S(x^2) and S the (self-adjoint) channel-window sum,
// is built from differentiable ops, so higher orders work as usual.
func LRN(x *Var, radius int, bias, alpha, beta float64) *Var {
	return record("LRN", tensor.LRN(x.val, radius, bias, alpha, beta), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		x := in[0]
		if !x.requiresGrad && !gy.requiresGrad {
			// first order (no graph of the backward pass): one fused kernel
			return []*Var{constValue(tensor.LRNGrad(x.val, gy.val, radius, bias, alpha, beta))}
		}
		d := AddScalar(Scale(ChannelWindowSum(Mul(x, x), radius), alpha), bias)
		t := ChannelWindowSum(Mul(Mul(gy, x), Pow(d, -beta-1)), radius)
		return []*Var{Sub(Mul(gy, Pow(d, -beta)), Mul(Scale(x, 2*alpha*beta), t))}
	}, x)
}

// lrnComposed is LRN written with primitive ops (reference for tests).
func lrnComposed(x *Var, radius int, bias, alpha, beta float64) *Var {
	s := ChannelWindowSum(Mul(x, x), radius)
	d := Pow(AddScalar(Scale(s, alpha), bias), beta)
	return Div(x, d)
}

// Softmax normalises exp(x) along axis.
func Softmax(x *Var, axis int) *Var {
	m := Const(maxKeep(x, axis))
	e := Exp(Sub(x, m))
	return Div(e, Sum(e, true, axis))
}

// LogSoftmax returns log(softmax(x)) along axis, computed stably.
func LogSoftmax(x *Var, axis int) *Var {
	m := Const(maxKeep(x, axis))
	z := Sub(x, m)
	return Sub(z, Log(Sum(Exp(z), true, axis)))
}

func maxKeep(x *Var, axis int) *tensor.Tensor {
	idx, kshape := tensor.ArgMaxAxis(x.val, axis)
	return tensor.GatherFlat(x.val, idx, kshape...)
}

// CrossEntropy is the mean over the batch of -sum_c t_c log softmax(logits)_c
// with targets t = (1-smoothing)*onehot(label) + smoothing/C (label smoothing
// as in PyTorch's cross_entropy(label_smoothing=...)). logits is [N,C].
//
// It is computed so that confident rows keep their precision. The value is
// taken in float64 from log-softmax, with log(sum exp) as log1p of the
// other classes' terms. The gradient with respect to the logits, p - t,
// takes the label's entry as minus the sum of the other entries: written
// p_label - 1 it cancels to zero (or to rounding noise) in float32 once
// 1 - p_label falls below about 1e-7, and an attack's gradient then points
// the wrong way. The gradient is built from differentiable operations, so
// CrossEntropy can be differentiated twice.
func CrossEntropy(logits *Var, labels []int, smoothing float64) *Var {
	s := logits.Shape()
	if len(s) != 2 || s[0] != len(labels) {
		tensor.Panicf("autograd.CrossEntropy", "want [N,C] logits for %d labels, got %v", len(labels), s)
	}
	if smoothing < 0 || smoothing > 1 {
		tensor.Panicf("autograd.CrossEntropy", "label smoothing %g outside [0,1]", smoothing)
	}
	n, c := s[0], s[1]
	for _, l := range labels {
		if l < 0 || l >= c {
			tensor.Panicf("autograd.CrossEntropy", "label %d out of range [0,%d)", l, c)
		}
	}
	z := logits.val.Float64s()
	total := 0.0
	for i, l := range labels {
		row := z[i*c : (i+1)*c]
		top := 0
		for k, v := range row {
			if v > row[top] {
				top = k
			}
		}
		others := 0.0 // sum of exp(z_k - max) over k != argmax
		for k, v := range row {
			if k != top {
				others += math.Exp(v - row[top])
			}
		}
		lse := math.Log1p(others) // log sum exp(z - max)
		// -sum_k t_k (z_k - max - lse)
		li := (1 - smoothing) * (lse - (row[l] - row[top]))
		if smoothing > 0 {
			for _, v := range row {
				li += smoothing / float64(c) * (lse - (v - row[top]))
			}
		}
		total += li
	}
	val := tensor.Scalar(logits.DType(), total/float64(n))
	return record("CrossEntropy", val, func(in []*Var, _, gy *Var, needs []bool) []*Var {
		return []*Var{Mul(crossEntropyGrad(in[0], labels, smoothing), Scale(gy, 1/float64(n)))}
	}, logits)
}

// crossEntropyGrad returns p - t for logits [N,C] with the label's entry
// computed as -sum_{k != label} p_k + smoothing*(1 - 1/C), the value of
// p_label - (1 - smoothing + smoothing/C) without its cancellation.
func crossEntropyGrad(logits *Var, labels []int, smoothing float64) *Var {
	n, c := logits.Shape()[0], logits.Shape()[1]
	dt := logits.DType()
	others := tensor.Full(dt, 1, n, c)
	onehot := tensor.Zeros(dt, n, c)
	shift := tensor.Full(dt, -smoothing/float64(c), n, c)
	for i, l := range labels {
		others.SetFlat(i*c+l, 0)
		onehot.SetFlat(i*c+l, 1)
		shift.SetFlat(i*c+l, smoothing*(1-1/float64(c)))
	}
	po := Mul(Softmax(logits, 1), Const(others))
	g := Sub(po, Mul(Const(onehot), Sum(po, true, 1)))
	if smoothing != 0 {
		g = Add(g, Const(shift))
	}
	return g
}

// KLDivLogits returns the sum over the rows of KL(softmax(p) || softmax(q))
// = sum p_c (log p_c - log q_c) for logits p and q [N,C], computed with
// log-softmax for stability (TRADES's divergence; mean over the batch is
// the caller's division by N).
func KLDivLogits(p, q *Var) *Var {
	if !slices.Equal(p.Shape(), q.Shape()) || len(p.Shape()) != 2 {
		tensor.Panicf("autograd.KLDivLogits", "want two [N,C] logits of one shape, got %v and %v", p.Shape(), q.Shape())
	}
	return SumAll(Mul(Softmax(p, 1), Sub(LogSoftmax(p, 1), LogSoftmax(q, 1))))
}

// Dropout zeroes each element with probability p and scales the others by
// 1/(1-p) (inverted dropout) when train is set; otherwise it returns x.
func Dropout(x *Var, p float64, train bool, rng *rand.Rand) *Var {
	if !train || p == 0 {
		return x
	}
	if p < 0 || p >= 1 {
		tensor.Panicf("autograd.Dropout", "probability %g outside [0,1)", p)
	}
	m := tensor.Zeros(x.DType(), x.Shape()...)
	keep := 1 / (1 - p)
	for i := 0; i < m.Size(); i++ {
		if rng.Float64() >= p {
			m.SetFlat(i, keep)
		}
	}
	return Mul(x, Const(m))
}

// BatchNormStats holds the running statistics of a batch-normalisation layer.
type BatchNormStats struct {
	Mean, Var *tensor.Tensor // [C]
}

// BatchNorm normalises x [N,C,...] per channel. In training it uses the batch
// statistics (biased variance) and, when stats is non-nil, updates the
// running ones with momentum (PyTorch convention: running = (1-m)*running +
// m*batch, unbiased variance); in evaluation it uses the running statistics.
// gamma and beta are [C] (either may be nil).
func BatchNorm(x, gamma, beta *Var, stats *BatchNormStats, train bool, momentum, eps float64) *Var {
	s := x.Shape()
	if len(s) < 2 {
		tensor.Panicf("autograd.BatchNorm", "want [N,C,...], got %v", s)
	}
	c := s[1]
	bshape := make([]int, len(s))
	for i := range bshape {
		bshape[i] = 1
	}
	bshape[1] = c
	axes := []int{0}
	for i := 2; i < len(s); i++ {
		axes = append(axes, i)
	}
	var xhat *Var
	if train {
		mean := Mean(x, true, axes...)
		xc := Sub(x, mean)
		v := Mean(Mul(xc, xc), true, axes...)
		xhat = Div(xc, Sqrt(AddScalar(v, eps)))
		if stats != nil {
			n := float64(tensor.Numel(s) / c)
			bm, bv := mean.val.Reshape(c), v.val.Reshape(c)
			unb := n / math.Max(n-1, 1)
			for i := 0; i < c; i++ {
				stats.Mean.SetFlat(i, (1-momentum)*stats.Mean.AtFlat(i)+momentum*bm.AtFlat(i))
				stats.Var.SetFlat(i, (1-momentum)*stats.Var.AtFlat(i)+momentum*bv.AtFlat(i)*unb)
			}
		}
	} else {
		if stats == nil {
			tensor.Panicf("autograd.BatchNorm", "evaluation mode needs running statistics")
		}
		mean := Const(stats.Mean.AsType(x.DType()).Reshape(bshape...))
		inv := tensor.Apply(stats.Var.AsType(x.DType()), func(v float64) float64 { return 1 / math.Sqrt(v+eps) }).Reshape(bshape...)
		xhat = Mul(Sub(x, mean), Const(inv))
	}
	if gamma != nil {
		xhat = Mul(xhat, Reshape(gamma, bshape...))
	}
	if beta != nil {
		xhat = Add(xhat, Reshape(beta, bshape...))
	}
	return xhat
}

// Conv2dBias is Conv2d followed by adding b [F] to every output channel,
// fused so the forward pass keeps one tensor instead of two.
func Conv2dBias(x, w, b *Var, p Conv2dParams) *Var {
	if b == nil {
		return Conv2d(x, w, p)
	}
	sameDType("autograd.Conv2dBias", x, w)
	sameDType("autograd.Conv2dBias", x, b)
	xs := append([]int(nil), x.Shape()...)
	ws := append([]int(nil), w.Shape()...)
	if len(b.Shape()) != 1 || b.Shape()[0] != ws[0] {
		tensor.Panicf("autograd.Conv2dBias", "bias %v does not match weight %v", b.Shape(), ws)
	}
	y := tensor.Conv2dBias(x.val, w.val, b.val, p)
	return record("Conv2dBias", y, func(in []*Var, out, gy *Var, needs []bool) []*Var {
		g := make([]*Var, 3)
		if needs[0] {
			g[0] = Conv2dInputGrad(gy, in[1], xs, p)
		}
		if needs[1] {
			g[1] = Conv2dWeightGrad(in[0], gy, ws, p)
		}
		if needs[2] {
			g[2] = Sum(gy, false, 0, 2, 3)
		}
		return g
	}, x, w, b)
}

// Conv2dBiasRelu is Relu(Conv2dBias(x, w, b, p)) computed as one op: the
// ReLU is applied while the convolution's output is in registers, and the
// backward pass is the composed one (ReLU's gradient, then the
// convolution's), so values and gradients of every order are the same.
func Conv2dBiasRelu(x, w, b *Var, p Conv2dParams) *Var {
	xs, ws := checkConvBias("autograd.Conv2dBiasRelu", x, w, b)
	y := tensor.Conv2dBiasRelu(x.val, w.val, valOf(b), p)
	return record("Conv2dBiasRelu", y, func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return convBiasGrads(in, reluGrad(gy, out.val), xs, ws, p, needs)
	}, x, w, b)
}

// Conv2dBiasReluMaxPool is MaxPool2d(Relu(Conv2dBias(x, w, b, p)), kh, kw,
// pp) computed as one op. The convolution's output is pooled and dropped at
// once (the graph keeps only the pooled values and the window indices);
// the backward pass scatters gy, selected where the pooled value is
// positive, to the windows' maxima and runs the convolution's backward.
// That is exactly the composed gradient (the ReLU mask at a window's
// maximum is the mask of the pooled value), of every order.
func Conv2dBiasReluMaxPool(x, w, b *Var, p Conv2dParams, kh, kw int, pp Conv2dParams) *Var {
	xs, ws := checkConvBias("autograd.Conv2dBiasReluMaxPool", x, w, b)
	if !recording(x, w, b) {
		// no backward pass: the values alone, bit for bit
		return record("Conv2dBiasReluMaxPool", tensor.Conv2dBiasReluMaxPoolValues(x.val, w.val, valOf(b), p, kh, kw, pp), nil, x, w, b)
	}
	y, idx, zs := tensor.Conv2dBiasReluMaxPool(x.val, w.val, valOf(b), p, kh, kw, pp)
	block := y.Shape()[2] * y.Shape()[3]
	return saving(record("Conv2dBiasReluMaxPool", y, func(in []*Var, out, gy *Var, needs []bool) []*Var {
		if noGraph(gy, in...) {
			// first order: fused kernels, each image's convolution output
			// gradient made and used while in cache
			dx, dw, db := tensor.Conv2dBiasReluMaxPoolGrads(in[0].val, in[1].val, gy.val, out.val, idx, p, zs,
				needs[0], needs[1], len(needs) > 2 && needs[2])
			return []*Var{constOrNil(dx), constOrNil(dw), constOrNil(db)}
		}
		gz := scatterBlocks(reluGrad(gy, out.val), idx, block, zs...)
		return convBiasGrads(in, gz, xs, ws, p, needs)
	}, x, w, b), tensor.IndexStorage(idx))
}

// checkConvBias checks the operands of a convolution with an optional bias
// and returns copies of the input and weight shapes.
func checkConvBias(op string, x, w, b *Var) (xs, ws []int) {
	sameDType(op, x, w)
	xs = append([]int(nil), x.Shape()...)
	ws = append([]int(nil), w.Shape()...)
	if b != nil {
		sameDType(op, x, b)
		if len(b.Shape()) != 1 || b.Shape()[0] != ws[0] {
			tensor.Panicf(op, "bias %v does not match weight %v", b.Shape(), ws)
		}
	}
	return xs, ws
}

// recording reports whether an op on inputs records the graph (recording
// is on and an input requires gradients), as record decides it. Ops whose
// backward pass needs data the forward values do not (indices) skip
// computing that data otherwise.
func recording(inputs ...*Var) bool {
	if !GradEnabled() {
		return false
	}
	for _, in := range inputs {
		if in != nil && in.requiresGrad {
			return true
		}
	}
	return false
}

// noGraph reports whether a backward function's results will not be
// differentiated (no input and no output gradient requires gradients), so
// that it may compute them with fused kernels and recycle temporaries.
func noGraph(gy *Var, in ...*Var) bool {
	if gy.requiresGrad {
		return false
	}
	for _, v := range in {
		if v != nil && v.requiresGrad {
			return false
		}
	}
	return true
}

func constOrNil(t *tensor.Tensor) *Var {
	if t == nil {
		return nil
	}
	return constValue(t)
}

func valOf(v *Var) *tensor.Tensor {
	if v == nil {
		return nil
	}
	return v.val
}

// convBiasGrads are the gradients of a convolution with bias (inputs x, w,
// b; b may be nil) for output gradient gy.
func convBiasGrads(in []*Var, gy *Var, xs, ws []int, p Conv2dParams, needs []bool) []*Var {
	g := make([]*Var, 3)
	if needs[0] {
		g[0] = Conv2dInputGrad(gy, in[1], xs, p)
	}
	if needs[1] {
		g[1] = Conv2dWeightGrad(in[0], gy, ws, p)
	}
	if len(needs) > 2 && needs[2] {
		g[2] = Sum(gy, false, 0, 2, 3)
	}
	return g
}

// Linear is x W^T + b for x [N,in], W [out,in] and b [out] (or nil),
// fused so the bias is added inside the matrix product.
func Linear(x, w, b *Var) *Var {
	sameDType("autograd.Linear", x, w)
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[1] {
		tensor.Panicf("autograd.Linear", "want x [N,%d] for weight %v, got %v", ws[len(ws)-1], ws, xs)
	}
	if b == nil {
		return MatMul(x, w, false, true)
	}
	sameDType("autograd.Linear", x, b)
	if len(b.Shape()) != 1 || b.Shape()[0] != ws[0] {
		tensor.Panicf("autograd.Linear", "bias %v does not match weight %v", b.Shape(), ws)
	}
	y := tensor.MatMulBias(x.val, w.val, b.val)
	return record("Linear", y, func(in []*Var, out, gy *Var, needs []bool) []*Var {
		g := make([]*Var, 3)
		if needs[0] {
			g[0] = MatMul(gy, in[1], false, false)
		}
		if needs[1] {
			g[1] = MatMul(gy, in[0], true, false)
		}
		if needs[2] {
			g[2] = Sum(gy, false, 0)
		}
		return g
	}, x, w, b)
}
