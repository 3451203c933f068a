package autograd

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/arp-robustness/arp/tensor"
)

// gen describes how to fill a test input.
type gen struct {
	shape []int
	lo    float64 // values uniform in [lo, hi]
	hi    float64
	away  float64 // keep |x - k*away| for integer k... 0 = no constraint
}

func u(shape ...int) gen        { return gen{shape: shape, lo: -1, hi: 1} }
func pos(shape ...int) gen      { return gen{shape: shape, lo: 0.5, hi: 2} }
func distinct(shape ...int) gen { return gen{shape: shape, lo: -1, hi: 1, away: 1} }

// make builds the tensor; with away set, values are a random permutation of
// well-separated levels so max/relu/abs kinks are far from every entry.
func (g gen) make(rng *rand.Rand) *tensor.Tensor {
	t := tensor.Zeros(tensor.Float64, g.shape...)
	n := t.Size()
	if g.away != 0 {
		perm := rng.Perm(n)
		for i := 0; i < n; i++ {
			// levels spaced by 0.05, shifted off zero
			t.SetFlat(i, (float64(perm[i])-float64(n)/2)*0.05+0.0123)
		}
		return t
	}
	for i := 0; i < n; i++ {
		t.SetFlat(i, g.lo+(g.hi-g.lo)*rng.Float64())
	}
	return t
}

func p2(kh, kw int, p Conv2dParams) func(x *Var) *Var {
	return func(x *Var) *Var { return MaxPool2d(x, kh, kw, p) }
}

type opCase struct {
	name   string
	f      Func
	inputs []gen
	noGG   bool // skip the second-order check (piecewise-constant gradient)
}

func opCases() []opCase {
	same := func(s, pad int) Conv2dParams {
		return Conv2dParams{StrideH: s, StrideW: s, PadTop: pad, PadBottom: pad, PadLeft: pad, PadRight: pad}
	}
	t0, b0 := tensor.SamePadding(7, 5, 2, 1)
	l0, r0 := tensor.SamePadding(6, 5, 2, 1)
	samePad := Conv2dParams{StrideH: 2, StrideW: 2, PadTop: t0, PadBottom: b0, PadLeft: l0, PadRight: r0}
	return []opCase{
		{"add", func(x []*Var) *Var { return Add(x[0], x[1]) }, []gen{u(2, 3), u(2, 3)}, false},
		{"add-broadcast", func(x []*Var) *Var { return Add(x[0], x[1]) }, []gen{u(2, 3, 4), u(3, 1)}, false},
		{"add-relu", func(x []*Var) *Var { return Square(AddRelu(x[0], x[1])) }, []gen{u(2, 3, 4), u(2, 3, 4)}, false},
		{"sub-broadcast", func(x []*Var) *Var { return Sub(x[0], x[1]) }, []gen{u(4), u(2, 4)}, false},
		{"mul", func(x []*Var) *Var { return Mul(x[0], x[1]) }, []gen{u(2, 3), u(1, 3)}, false},
		{"div", func(x []*Var) *Var { return Div(x[0], x[1]) }, []gen{u(2, 3), pos(2, 1)}, false},
		{"neg", func(x []*Var) *Var { return Neg(x[0]) }, []gen{u(5)}, false},
		{"scale-addscalar", func(x []*Var) *Var { return AddScalar(Scale(x[0], 2.5), 1) }, []gen{u(5)}, false},
		{"exp", func(x []*Var) *Var { return Exp(x[0]) }, []gen{u(2, 3)}, false},
		{"log", func(x []*Var) *Var { return Log(x[0]) }, []gen{pos(2, 3)}, false},
		{"sqrt", func(x []*Var) *Var { return Sqrt(x[0]) }, []gen{pos(2, 3)}, false},
		{"pow", func(x []*Var) *Var { return Pow(x[0], 2.7) }, []gen{pos(2, 3)}, false},
		{"pow-var", func(x []*Var) *Var { return PowVar(x[0], x[1]) }, []gen{pos(2, 3), u(2, 3)}, false},
		{"abs", func(x []*Var) *Var { return Abs(x[0]) }, []gen{distinct(2, 3)}, false},
		{"clamp", func(x []*Var) *Var { return Clamp(x[0], -0.2, 0.3) }, []gen{distinct(3, 4)}, false},
		{"where", func(x []*Var) *Var {
			c := tensor.FromFloat64([]float64{1, 0, 1, 0, 0, 1}, 2, 3)
			return Where(c, x[0], x[1])
		}, []gen{u(2, 3), u(1, 3)}, false},
		{"relu", func(x []*Var) *Var { return Relu(x[0]) }, []gen{distinct(3, 4)}, false},
		{"leaky-relu", func(x []*Var) *Var { return LeakyRelu(x[0], 0.1) }, []gen{distinct(3, 4)}, false},
		{"sigmoid", func(x []*Var) *Var { return Sigmoid(x[0]) }, []gen{u(2, 3)}, false},
		{"tanh", func(x []*Var) *Var { return Tanh(x[0]) }, []gen{u(2, 3)}, false},
		{"sum-axes", func(x []*Var) *Var { return Sum(x[0], false, 0, 2) }, []gen{u(2, 3, 4)}, false},
		{"sum-keep", func(x []*Var) *Var { return Sum(x[0], true, 1) }, []gen{u(2, 3, 4)}, false},
		{"mean", func(x []*Var) *Var { return Mean(Mul(x[0], x[0]), false, -1) }, []gen{u(2, 3, 4)}, false},
		{"max", func(x []*Var) *Var { return Mul(Max(x[0], 1, false), Max(x[0], 1, false)) }, []gen{distinct(3, 4)}, false},
		{"min", func(x []*Var) *Var { return Min(x[0], 0, true) }, []gen{distinct(3, 4)}, false},
		{"reshape", func(x []*Var) *Var { return Mul(Reshape(x[0], 4, -1), Reshape(x[0], 4, -1)) }, []gen{u(2, 3, 2)}, false},
		{"transpose", func(x []*Var) *Var { return Mul(Transpose(x[0], 2, 0, 1), Transpose(x[0], 2, 0, 1)) }, []gen{u(2, 3, 4)}, false},
		{"broadcast-to", func(x []*Var) *Var { return Square(BroadcastTo(x[0], 2, 3, 4)) }, []gen{u(3, 1)}, false},
		{"slice", func(x []*Var) *Var { return Square(Slice(x[0], 1, 1, 3)) }, []gen{u(2, 4, 2)}, false},
		{"concat", func(x []*Var) *Var { return Square(Concat(1, x[0], x[1])) }, []gen{u(2, 2), u(2, 3)}, false},
		{"gather", func(x []*Var) *Var {
			return Square(Gather(x[0], 1, []int{2, 0, 1, 1}, []int{2, 2}))
		}, []gen{u(2, 3)}, false},
		{"pick-class", func(x []*Var) *Var { return Square(PickClass(x[0], []int{2, 0})) }, []gen{u(2, 3)}, false},
		{"matmul", func(x []*Var) *Var { return MatMul(x[0], x[1], false, false) }, []gen{u(2, 3), u(3, 4)}, false},
		{"matmul-ta", func(x []*Var) *Var { return MatMul(x[0], x[1], true, false) }, []gen{u(3, 2), u(3, 4)}, false},
		{"matmul-tb", func(x []*Var) *Var { return MatMul(x[0], x[1], false, true) }, []gen{u(2, 3), u(4, 3)}, false},
		{"matmul-tatb", func(x []*Var) *Var { return MatMul(x[0], x[1], true, true) }, []gen{u(3, 2), u(4, 3)}, false},
		{"matmul-batched", func(x []*Var) *Var { return MatMul(x[0], x[1], false, true) }, []gen{u(2, 2, 3), u(2, 4, 3)}, false},
		{"matmul-shared", func(x []*Var) *Var { return MatMul(x[0], x[1], false, false) }, []gen{u(2, 2, 3), u(3, 4)}, false},
		{"matmul-shared-ta-tb", func(x []*Var) *Var { return MatMul(x[0], x[1], true, true) }, []gen{u(2, 3, 2), u(4, 3)}, false},
		{"matmul-square", func(x []*Var) *Var { return Square(MatMul(x[0], x[1], false, false)) }, []gen{u(2, 3), u(3, 2)}, false},
		{"conv2d", func(x []*Var) *Var { return Conv2d(x[0], x[1], Conv2dParams{}) }, []gen{u(2, 2, 5, 4), u(3, 2, 3, 2)}, false},
		{"conv2d-stride-pad", func(x []*Var) *Var { return Conv2d(x[0], x[1], same(2, 1)) }, []gen{u(1, 2, 5, 6), u(2, 2, 3, 3)}, false},
		{"conv2d-same-asym", func(x []*Var) *Var { return Conv2d(x[0], x[1], samePad) }, []gen{u(1, 1, 7, 6), u(2, 1, 5, 5)}, false},
		{"conv2d-dilation", func(x []*Var) *Var {
			return Conv2d(x[0], x[1], Conv2dParams{DilationH: 2, DilationW: 3, PadTop: 1, PadLeft: 2})
		}, []gen{u(1, 2, 6, 7), u(2, 2, 2, 2)}, false},
		{"conv2d-1x1", func(x []*Var) *Var { return Conv2d(x[0], x[1], Conv2dParams{}) }, []gen{u(2, 3, 2, 2), u(2, 3, 1, 1)}, false},
		{"conv2d-squared", func(x []*Var) *Var { return Square(Conv2d(x[0], x[1], same(1, 1))) }, []gen{u(1, 2, 4, 4), u(2, 2, 3, 3)}, false},
		{"conv2d-bias", func(x []*Var) *Var { return Square(Conv2dBias(x[0], x[1], x[2], same(2, 1))) }, []gen{u(2, 2, 5, 4), u(3, 2, 3, 3), u(3)}, false},
		{"conv2d-bias-relu", func(x []*Var) *Var { return Square(Conv2dBiasRelu(x[0], x[1], x[2], same(1, 1))) }, []gen{u(2, 2, 5, 4), u(3, 2, 3, 3), u(3)}, false},
		{"conv2d-bias-relu-maxpool", func(x []*Var) *Var {
			return Square(Conv2dBiasReluMaxPool(x[0], x[1], x[2], same(1, 1), 2, 2, Conv2dParams{StrideH: 2, StrideW: 2}))
		}, []gen{u(2, 2, 5, 4), u(3, 2, 3, 3), u(3)}, false},
		{"linear", func(x []*Var) *Var { return Square(Linear(x[0], x[1], x[2])) }, []gen{u(3, 4), u(2, 4), u(2)}, false},
		{"conv-transpose2d", func(x []*Var) *Var {
			return ConvTranspose2d(x[0], x[1], Conv2dParams{StrideH: 2, StrideW: 2, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}, 1, 0)
		}, []gen{u(1, 2, 3, 3), u(2, 3, 3, 3)}, false},
		{"maxpool", func(x []*Var) *Var { return Square(MaxPool2d(x[0], 2, 2, Conv2dParams{StrideH: 2, StrideW: 2})) }, []gen{distinct(2, 2, 4, 4)}, false},
		{"maxpool-same", func(x []*Var) *Var {
			return MaxPool2d(x[0], 3, 3, Conv2dParams{StrideH: 2, StrideW: 2, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1})
		}, []gen{distinct(1, 2, 5, 5)}, false},
		{"avgpool", func(x []*Var) *Var { return Square(AvgPool2d(x[0], 2, 2, Conv2dParams{StrideH: 2, StrideW: 2}, true)) }, []gen{u(1, 2, 4, 5)}, false},
		{"avgpool-same-nopad", func(x []*Var) *Var {
			return AvgPool2d(x[0], 3, 3, Conv2dParams{StrideH: 2, StrideW: 2, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}, false)
		}, []gen{u(1, 1, 5, 4)}, false},
		{"avgpool-3x3-s1-countpad", func(x []*Var) *Var { return Square(AvgPool2d(x[0], 3, 3, same(1, 1), true)) }, []gen{u(2, 2, 5, 4)}, false},
		{"avgpool-strided-countpad", func(x []*Var) *Var {
			return Square(AvgPool2d(x[0], 3, 2, Conv2dParams{StrideH: 2, StrideW: 3, PadTop: 1, PadBottom: 2, PadLeft: 0, PadRight: 1}, true))
		}, []gen{u(1, 2, 6, 7)}, false},
		{"global-avgpool", func(x []*Var) *Var { return Square(GlobalAvgPool(x[0])) }, []gen{u(2, 3, 2, 2)}, false},
		{"resize-up", func(x []*Var) *Var { return Square(ResizeBilinear(x[0], 7, 5, false)) }, []gen{u(1, 2, 3, 2)}, false},
		{"resize-down", func(x []*Var) *Var { return ResizeBilinear(x[0], 2, 3, false) }, []gen{u(1, 1, 5, 7)}, false},
		{"resize-align", func(x []*Var) *Var { return ResizeBilinear(x[0], 5, 4, true) }, []gen{u(1, 1, 3, 3)}, false},
		{"lrn", func(x []*Var) *Var { return LRN(x[0], 2, 1, 0.3, 0.75) }, []gen{u(2, 5, 2, 2)}, false},
		{"lrn-radius1", func(x []*Var) *Var { return LRN(x[0], 1, 0.5, 0.7, 0.6) }, []gen{u(1, 4, 2, 3)}, false},
		{"lrn-vs-composed", func(x []*Var) *Var {
			return Sub(LRN(x[0], 2, 1, 0.3, 0.75), lrnComposed(x[0], 2, 1, 0.3, 0.75))
		}, []gen{u(2, 6, 2, 2)}, false},
		{"softmax", func(x []*Var) *Var { return Softmax(x[0], 1) }, []gen{u(2, 4)}, false},
		{"log-softmax", func(x []*Var) *Var { return LogSoftmax(x[0], -1) }, []gen{u(3, 4)}, false},
		{"cross-entropy", func(x []*Var) *Var { return CrossEntropy(x[0], []int{1, 0, 3}, 0) }, []gen{u(3, 4)}, false},
		{"cross-entropy-smooth", func(x []*Var) *Var { return CrossEntropy(x[0], []int{1, 0, 3}, 0.1) }, []gen{u(3, 4)}, false},
		{"kl-div-logits", func(x []*Var) *Var { return KLDivLogits(x[0], x[1]) }, []gen{u(3, 4), u(3, 4)}, false},
		{"dropout", func(x []*Var) *Var {
			return Square(Dropout(x[0], 0.5, true, rand.New(rand.NewPCG(1, 2))))
		}, []gen{u(4, 4)}, false},
		{"batchnorm-train", func(x []*Var) *Var { return BatchNorm(x[0], x[1], x[2], nil, true, 0.1, 1e-5) }, []gen{u(3, 2, 2, 2), u(2), u(2)}, false},
		{"batchnorm-eval", func(x []*Var) *Var {
			st := &BatchNormStats{Mean: tensor.FromFloat64([]float64{0.1, -0.2}, 2), Var: tensor.FromFloat64([]float64{0.5, 2}, 2)}
			return Square(BatchNorm(x[0], x[1], x[2], st, false, 0.1, 1e-5))
		}, []gen{u(3, 2, 2, 2), u(2), u(2)}, false},
	}
}

func TestGradients(t *testing.T) {
	for i, c := range opCases() {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 3))
			ins := make([]*tensor.Tensor, len(c.inputs))
			for j, g := range c.inputs {
				ins[j] = g.make(rng)
			}
			if err := CheckGrad(c.f, ins, CheckOptions{Seed: uint64(i)}); err != nil {
				t.Errorf("first order: %v", err)
			}
			if c.noGG {
				return
			}
			if err := CheckGradGrad(c.f, ins, CheckOptions{Seed: uint64(i), Atol: 1e-4}); err != nil {
				t.Errorf("%v", err)
			}
		})
	}
}

// TestCheckGradDetectsWrongGradient makes sure the checker can fail.
func TestCheckGradDetectsWrongGradient(t *testing.T) {
	wrong := func(xs []*Var) *Var {
		x := xs[0]
		// value of x*x, but gradient of 3x (wrong)
		return record("wrong", tensor.Mul(x.val, x.val), func(in []*Var, out, gy *Var, needs []bool) []*Var {
			return []*Var{Scale(gy, 3)}
		}, x)
	}
	x := tensor.FromFloat64([]float64{0.5, -1, 2}, 3)
	if err := CheckGrad(wrong, []*tensor.Tensor{x}, CheckOptions{}); err == nil {
		t.Fatal("CheckGrad accepted a wrong gradient")
	}
	// right first order, wrong second order: gradient is gy*2x computed on
	// a detached x, so its own derivative in x is lost
	wrong2 := func(xs []*Var) *Var {
		x := xs[0]
		return record("wrong2", tensor.Mul(x.val, x.val), func(in []*Var, out, gy *Var, needs []bool) []*Var {
			return []*Var{Mul(gy, Scale(in[0].Detach(), 2))}
		}, x)
	}
	if err := CheckGrad(wrong2, []*tensor.Tensor{x}, CheckOptions{}); err != nil {
		t.Fatalf("first order should pass: %v", err)
	}
	if err := CheckGradGrad(wrong2, []*tensor.Tensor{x}, CheckOptions{}); err == nil {
		t.Fatal("CheckGradGrad accepted a wrong second-order gradient")
	}
}

func TestSignHasZeroGradient(t *testing.T) {
	x := Param(tensor.FromFloat64([]float64{-2, 0, 3}, 3))
	y := Add(Sign(x), Scale(x, 0))
	g := MustGrad(SumAll(y), []*Var{x}, false)[0]
	for i := 0; i < 3; i++ {
		if g.Value().AtFlat(i) != 0 {
			t.Fatalf("sign gradient %v, want zeros", g.Value())
		}
	}
	if got := Sign(x).Value().Float64s(); got[0] != -1 || got[1] != 0 || got[2] != 1 {
		t.Fatalf("sign = %v", got)
	}
}

func TestGradOnlyWhatIsAsked(t *testing.T) {
	calls := 0
	a := Param(tensor.FromFloat64([]float64{1, 2}, 2))
	b := Param(tensor.FromFloat64([]float64{3, 4}, 2))
	spy := record("spy", b.val.Clone(), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		calls++
		return []*Var{gy}
	}, b)
	l := SumAll(Add(Mul(a, a), spy))
	g, err := Grad([]*Var{l}, nil, []*Var{a}, false)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 0 {
		t.Fatalf("backward of an op off the path to the inputs ran %d times", calls)
	}
	if got := g[0].Value().Float64s(); got[0] != 2 || got[1] != 4 {
		t.Fatalf("grad = %v, want [2 4]", got)
	}
}

func TestNoGrad(t *testing.T) {
	x := Param(tensor.FromFloat64([]float64{1}, 1))
	var y *Var
	NoGrad(func() { y = Mul(x, x) })
	if y.RequiresGrad() {
		t.Fatal("op inside NoGrad recorded a graph")
	}
	if _, err := Grad([]*Var{y}, nil, []*Var{x}, false); err == nil {
		t.Fatal("Grad through a NoGrad result should fail")
	}
	if !GradEnabled() {
		t.Fatal("grad mode not restored")
	}
}

func TestUnusedInputGetsZeros(t *testing.T) {
	x := Param(tensor.FromFloat64([]float64{1, 2}, 2))
	z := Param(tensor.FromFloat64([]float64{5}, 1))
	g := MustGrad(SumAll(Mul(x, x)), []*Var{x, z}, false)
	if g[1].Value().AtFlat(0) != 0 {
		t.Fatal("unused input gradient not zero")
	}
}

func TestGradWithRespectToIntermediate(t *testing.T) {
	x := Param(tensor.FromFloat64([]float64{1, 2}, 2))
	h := Scale(x, 3)
	l := SumAll(Mul(h, h))
	g := MustGrad(l, []*Var{h, x}, false)
	if got := g[0].Value().Float64s(); got[0] != 6 || got[1] != 12 {
		t.Fatalf("dL/dh = %v", got)
	}
	if got := g[1].Value().Float64s(); got[0] != 18 || got[1] != 36 {
		t.Fatalf("dL/dx = %v", got)
	}
}

func TestThirdOrder(t *testing.T) {
	// f = x^4: f' = 4x^3, f'' = 12x^2, f''' = 24x
	x := Param(tensor.FromFloat64([]float64{1.5}, 1))
	f := SumAll(Pow(x, 4))
	g1 := MustGrad(f, []*Var{x}, true)[0]
	g2 := MustGrad(SumAll(g1), []*Var{x}, true)[0]
	g3 := MustGrad(SumAll(g2), []*Var{x}, false)[0]
	want := []float64{4 * 3.375, 12 * 2.25, 24 * 1.5}
	for i, g := range []*Var{g1, g2, g3} {
		if d := math.Abs(g.Value().AtFlat(0) - want[i]); d > 1e-9 {
			t.Fatalf("order %d: got %v want %v", i+1, g.Value().AtFlat(0), want[i])
		}
	}
}

func TestShapeErrorsNameOpAndShapes(t *testing.T) {
	cases := []struct {
		name string
		f    func()
		want string
	}{
		{"add", func() {
			Add(Const(tensor.Zeros(tensor.Float32, 2, 3)), Const(tensor.Zeros(tensor.Float32, 4)))
		}, "autograd.Add: shapes [2 3] and [4] are not broadcastable"},
		{"matmul", func() {
			MatMul(Const(tensor.Zeros(tensor.Float32, 2, 3)), Const(tensor.Zeros(tensor.Float32, 4, 5)), false, false)
		}, "tensor.MatMul: inner dimensions differ"},
		{"conv", func() {
			Conv2d(Const(tensor.Zeros(tensor.Float32, 1, 3, 8, 8)), Const(tensor.Zeros(tensor.Float32, 4, 2, 3, 3)), Conv2dParams{})
		}, "tensor.Conv2d: input channels 3"},
		{"dtype", func() {
			Mul(Const(tensor.Zeros(tensor.Float32, 2)), Const(tensor.Zeros(tensor.Float64, 2)))
		}, "autograd.Mul: dtype mismatch"},
		{"reshape", func() { Reshape(Const(tensor.Zeros(tensor.Float32, 2, 3)), 4, -1) }, "autograd.Reshape: cannot reshape [2 3]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Try(c.f)
			if err == nil {
				t.Fatal("no error")
			}
			if got := err.Error(); len(got) < len(c.want) || got[:len(c.want)] != c.want {
				t.Fatalf("error %q, want prefix %q", got, c.want)
			}
		})
	}
}

func TestFusedLRNMatchesComposed(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		for _, r := range []int{0, 1, 4, 9} {
			x := Const(u(2, 7, 3, 3).make(rng).AsType(dt))
			a := LRN(x, r, 1, 0.001/9*50, 0.75).Value()
			b := lrnComposed(x, r, 1, 0.001/9*50, 0.75).Value()
			if d := tensor.MaxAbsDiff(a, b); d > 1e-6 {
				t.Fatalf("%v radius %d: fused LRN differs by %g", dt, r, d)
			}
		}
	}
}

// AddRelu must give Relu(Add(a, b))'s values bit for bit (NaN and signed
// zeros too) in both precisions.
func TestAddReluMatchesComposed(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		a, b := u(3, 5, 4, 4).make(rng), u(3, 5, 4, 4).make(rng)
		av, bv := a.Float64s(), b.Float64s()
		av[0], bv[1], av[2], bv[2], av[3], bv[3] = math.NaN(), math.Inf(1), 0.5, -0.5, math.Copysign(0, -1), math.Copysign(0, -1)
		a, b = tensor.FromFloat64(av, a.Shape()...).AsType(dt), tensor.FromFloat64(bv, b.Shape()...).AsType(dt)
		got := AddRelu(Const(a), Const(b)).Value().Float64s()
		want := Relu(Add(Const(a), Const(b))).Value().Float64s()
		for i := range want {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
				t.Fatalf("%v element %d: %v, composed %v", dt, i, got[i], want[i])
			}
		}
	}
}

// The fused convolution ops must give the composed ops' values bit for bit
// and their gradients of the first and second order (up to summation
// order), in both precisions, with and without bias, for 2x2 and
// overlapping 3x3 pools.
func TestFusedConvMatchesComposed(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	p := Conv2dParams{PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		for _, pool := range []struct{ k, s int }{{2, 2}, {3, 2}} {
			for _, withBias := range []bool{true, false} {
				x := Param(u(3, 4, 7, 6).make(rng).AsType(dt))
				w := Param(u(5, 4, 3, 3).make(rng).AsType(dt))
				var b *Var
				params := []*Var{x, w}
				if withBias {
					b = Param(u(5).make(rng).AsType(dt))
					params = append(params, b)
				}
				pp := Conv2dParams{StrideH: pool.s, StrideW: pool.s}
				fused := map[string]func() *Var{
					"relu":         func() *Var { return Conv2dBiasRelu(x, w, b, p) },
					"relu-maxpool": func() *Var { return Conv2dBiasReluMaxPool(x, w, b, p, pool.k, pool.k, pp) },
				}
				composed := map[string]func() *Var{
					"relu":         func() *Var { return Relu(Conv2dBias(x, w, b, p)) },
					"relu-maxpool": func() *Var { return MaxPool2d(Relu(Conv2dBias(x, w, b, p)), pool.k, pool.k, pp) },
				}
				for name, f := range fused {
					yf, yc := f(), composed[name]()
					if d := tensor.MaxAbsDiff(yf.Value(), yc.Value()); d != 0 {
						t.Fatalf("%v %s: values differ by %g", dt, name, d)
					}
					// second order: the gradient of the squared norm of the
					// first gradients
					grads := func(y *Var) []*tensor.Tensor {
						g1 := MustGrad(Sum(Square(y), false), params, true)
						s := Sum(Square(g1[0]), false)
						for _, g := range g1[1:] {
							s = Add(s, Sum(Square(g), false))
						}
						g2 := MustGrad(s, params, false)
						out := make([]*tensor.Tensor, 0, 2*len(params))
						for i := range params {
							out = append(out, g1[i].Value(), g2[i].Value())
						}
						return out
					}
					gf, gc := grads(yf), grads(yc)
					for i := range gf {
						scale := 1 + tensor.MaxAbsDiff(gc[i], tensor.ZerosLike(gc[i]))
						if d := tensor.MaxAbsDiff(gf[i], gc[i]); d > 1e-5*scale {
							t.Fatalf("%v %s bias=%v pool %v: gradient %d differs by %g (scale %g)", dt, name, withBias, pool, i, d, scale)
						}
					}
				}
			}
		}
	}
}

// Gradients of a variable used several times are summed in place once Grad
// owns the sum; a gradient a backward shares (Add passes its output
// gradient to both inputs) and the caller's output gradient are never
// written. x feeds four uses; u = x*x feeds two; o = u + x is an output
// whose gradient the caller gives.
func TestGradAccumulationLeavesSharedGradients(t *testing.T) {
	for _, create := range []bool{false, true} {
		x := Param(tensor.FromFloat64([]float64{1, -2, 3}, 3))
		u := Mul(x, x)
		o := Add(u, x)
		p := Add(Add(u, x), x)
		go0 := tensor.FromFloat64([]float64{1, 10, 100}, 3)
		g0 := go0.Clone()
		gp := tensor.FromFloat64([]float64{2, 2, 2}, 3)
		g, err := Grad([]*Var{o, p}, []*Var{Const(g0), Const(gp)}, []*Var{x, u}, create)
		if err != nil {
			t.Fatal(err)
		}
		if tensor.MaxAbsDiff(g0, go0) != 0 {
			t.Fatalf("create=%v: the output gradient was written: %v", create, g0.Float64s())
		}
		xs := x.Value().Float64s()
		for i, gu := range g[1].Value().Float64s() {
			if want := go0.Float64s()[i] + 2; gu != want {
				t.Fatalf("create=%v: du[%d] = %g, want %g", create, i, gu, want)
			}
			// do/dx = 2x+1, dp/dx = 2(2x)+2
			if gx, want := g[0].Value().Float64s()[i], go0.Float64s()[i]*(2*xs[i]+1)+2*(2*xs[i]+2); gx != want {
				t.Fatalf("create=%v: dx[%d] = %g, want %g", create, i, gx, want)
			}
		}
	}
}
