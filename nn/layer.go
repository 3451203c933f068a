package nn

import (
	"math"
	"math/rand/v2"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/tensor"
)

// Mode says how a forward pass runs: in training, dropout is active (drawing
// from Rng) and batch normalisation uses and updates batch statistics.
type Mode struct {
	Train bool
	Rng   *rand.Rand
}

// Eval is the inference mode.
var Eval = Mode{}

// Layer is one named step of a model.
type Layer interface {
	Name() string
	Forward(x *autograd.Var, m Mode) *autograd.Var
}

// Param is a named tensor of a model: a trainable parameter or, when
// Buffer is set, a non-trainable state such as batch-norm running statistics.
type Param struct {
	Name        string
	Var         *autograd.Var
	Buffer      bool
	WeightDecay float64 // L2 coefficient the model's recipe asks for
}

// parameterised layers report their tensors.
type paramLayer interface {
	Params() []Param
}

// Padding chooses how a convolution or pool pads its input: "same"
// (TensorFlow SAME: output ceil(in/stride), odd padding after), "valid" (none)
// or explicit symmetric padding.
type Padding struct {
	Mode string // "same", "valid" or "explicit"
	H, W int    // explicit padding per side
}

var (
	Same  = Padding{Mode: "same"}
	Valid = Padding{Mode: "valid"}
)

// Explicit pads h rows and w columns on each side.
func Explicit(h, w int) Padding { return Padding{Mode: "explicit", H: h, W: w} }

func (p Padding) params(h, w, kh, kw, sh, sw, dh, dw int) tensor.Conv2dParams {
	q := tensor.Conv2dParams{StrideH: sh, StrideW: sw, DilationH: dh, DilationW: dw}
	switch p.Mode {
	case "same":
		q.PadTop, q.PadBottom = tensor.SamePadding(h, kh, sh, dh)
		q.PadLeft, q.PadRight = tensor.SamePadding(w, kw, sw, dw)
	case "explicit":
		q.PadTop, q.PadBottom, q.PadLeft, q.PadRight = p.H, p.H, p.W, p.W
	}
	return q
}

// Conv2d is a 2-D convolution layer with weight [F,C,KH,KW] and optional bias [F].
type Conv2d struct {
	name             string
	W, B             *autograd.Var
	StrideH, StrideW int
	DilH, DilW       int
	Pad              Padding
}

// NewConv2d makes a convolution layer with zero weights (see the Init functions).
func NewConv2d(name string, in, out, kh, kw, stride int, pad Padding, bias bool) *Conv2d {
	c := &Conv2d{name: name, StrideH: stride, StrideW: stride, DilH: 1, DilW: 1, Pad: pad,
		W: autograd.Param(tensor.Zeros(tensor.Float32, out, in, kh, kw))}
	if bias {
		c.B = autograd.Param(tensor.Zeros(tensor.Float32, out))
	}
	return c
}

func (c *Conv2d) Name() string { return c.name }

func (c *Conv2d) Forward(x *autograd.Var, m Mode) *autograd.Var {
	s := x.Shape()
	if len(s) != 4 {
		tensor.Panicf("nn."+c.name, "want input [N,C,H,W], got %v", s)
	}
	return autograd.Conv2dBias(x, c.W, c.B, c.Window(s[2], s[3]))
}

// fused runs the convolution together with the ReLU that follows it and,
// if pool is not nil, the max-pool after that, as one op of the engine
// (autograd.Conv2dBiasRelu, Conv2dBiasReluMaxPool): the same values and
// gradients, with fewer passes over memory and no intermediate tensors
// kept for the backward pass.
func (c *Conv2d) fused(x *autograd.Var, pool *maxPool) *autograd.Var {
	s := x.Shape()
	if len(s) != 4 {
		tensor.Panicf("nn."+c.name, "want input [N,C,H,W], got %v", s)
	}
	p := c.Window(s[2], s[3])
	if pool == nil {
		return autograd.Conv2dBiasRelu(x, c.W, c.B, p)
	}
	ws := c.W.Shape()
	oh := tensor.ConvOutSize(s[2], ws[2], p.StrideH, p.PadTop, p.PadBottom, p.DilationH)
	ow := tensor.ConvOutSize(s[3], ws[3], p.StrideW, p.PadLeft, p.PadRight, p.DilationW)
	return autograd.Conv2dBiasReluMaxPool(x, c.W, c.B, p, pool.k, pool.k, pool.window(oh, ow))
}

// Window returns the strides, padding and dilation the layer uses on an
// input of h x w pixels.
func (c *Conv2d) Window(h, w int) tensor.Conv2dParams {
	ws := c.W.Shape()
	return c.Pad.params(h, w, ws[2], ws[3], c.StrideH, c.StrideW, c.DilH, c.DilW)
}

func (c *Conv2d) Params() []Param {
	ps := []Param{{Name: c.name + ".weight", Var: c.W}}
	if c.B != nil {
		ps = append(ps, Param{Name: c.name + ".bias", Var: c.B})
	}
	return ps
}

// Dense is a fully connected layer y = x W^T + b with W [out,in] (PyTorch's
// nn.Linear layout).
type Dense struct {
	name        string
	W, B        *autograd.Var
	WeightDecay float64
}

// NewDense makes a dense layer with zero weights.
func NewDense(name string, in, out int, bias bool) *Dense {
	d := &Dense{name: name, W: autograd.Param(tensor.Zeros(tensor.Float32, out, in))}
	if bias {
		d.B = autograd.Param(tensor.Zeros(tensor.Float32, out))
	}
	return d
}

func (d *Dense) Name() string { return d.name }

func (d *Dense) Forward(x *autograd.Var, m Mode) *autograd.Var {
	if len(x.Shape()) != 2 || x.Shape()[1] != d.W.Shape()[1] {
		tensor.Panicf("nn."+d.name, "want input [N,%d], got %v", d.W.Shape()[1], x.Shape())
	}
	return autograd.Linear(x, d.W, d.B)
}

func (d *Dense) Params() []Param {
	ps := []Param{{Name: d.name + ".weight", Var: d.W, WeightDecay: d.WeightDecay}}
	if d.B != nil {
		ps = append(ps, Param{Name: d.name + ".bias", Var: d.B})
	}
	return ps
}

// Func is a parameter-free layer given by a function.
type Func struct {
	name string
	f    func(x *autograd.Var, m Mode) *autograd.Var
	// modeFree: f ignores the mode (see Model.SameInModes); false for
	// functions given to NewFunc, which may use it
	modeFree bool
}

// NewFunc wraps f as a named layer. f must return its input (or a view
// of it) or a value it computed afresh, never a tensor it keeps: a model
// running without a graph (autograd.NoGrad) gives each layer's output
// back to the buffer pool once the next layer has run.
func NewFunc(name string, f func(x *autograd.Var, m Mode) *autograd.Var) *Func {
	return &Func{name: name, f: f}
}

// modeFreeFunc wraps f, which ignores the mode, as a named layer.
func modeFreeFunc(name string, f func(x *autograd.Var) *autograd.Var) *Func {
	return &Func{name: name, f: func(x *autograd.Var, _ Mode) *autograd.Var { return f(x) }, modeFree: true}
}

func (f *Func) Name() string                                  { return f.name }
func (f *Func) Forward(x *autograd.Var, m Mode) *autograd.Var { return f.f(x, m) }

// ReLU is a rectifier layer.
func ReLU(name string) Layer { return reluLayer{name} }

type reluLayer struct{ name string }

func (r reluLayer) Name() string                                  { return r.name }
func (r reluLayer) Forward(x *autograd.Var, m Mode) *autograd.Var { return autograd.Relu(x) }

// Flatten reshapes [N,...] to [N,-1].
func Flatten(name string) Layer {
	return modeFreeFunc(name, autograd.Flatten)
}

// MaxPool is a max-pooling layer of a k x k window.
func MaxPool(name string, k, stride int, pad Padding) Layer {
	return &maxPool{name: name, k: k, stride: stride, pad: pad}
}

type maxPool struct {
	name      string
	k, stride int
	pad       Padding
}

func (p *maxPool) Name() string { return p.name }

func (p *maxPool) Forward(x *autograd.Var, m Mode) *autograd.Var {
	s := x.Shape()
	return autograd.MaxPool2d(x, p.k, p.k, p.window(s[2], s[3]))
}

// window places the pool on an input of h x w pixels.
func (p *maxPool) window(h, w int) tensor.Conv2dParams {
	return p.pad.params(h, w, p.k, p.k, p.stride, p.stride, 1, 1)
}

// AvgPool is an average-pooling layer (padding not counted in the mean).
func AvgPool(name string, k, stride int, pad Padding) Layer {
	return modeFreeFunc(name, func(x *autograd.Var) *autograd.Var {
		s := x.Shape()
		return autograd.AvgPool2d(x, k, k, pad.params(s[2], s[3], k, k, stride, stride, 1, 1), false)
	})
}

// GlobalAvgPool averages over the spatial dimensions, [N,C,H,W] -> [N,C].
func GlobalAvgPool(name string) Layer {
	return modeFreeFunc(name, autograd.GlobalAvgPool)
}

// LRN is TensorFlow's local response normalisation.
func LRN(name string, radius int, bias, alpha, beta float64) Layer {
	return modeFreeFunc(name, func(x *autograd.Var) *autograd.Var {
		return autograd.LRN(x, radius, bias, alpha, beta)
	})
}

// Dropout zeroes activations with probability p in training.
func Dropout(name string, p float64) Layer {
	return NewFunc(name, func(x *autograd.Var, m Mode) *autograd.Var {
		if !m.Train || p == 0 {
			return x
		}
		if m.Rng == nil {
			tensor.Panicf("nn."+name, "training mode without a random source")
		}
		return autograd.Dropout(x, p, true, m.Rng)
	})
}

// Normalize maps input pixels in [0,1] to the model's input scale:
// (x - Mean[c]) / Std[c]. [-1,1] is Mean 0.5, Std 0.5.
type Normalize struct {
	name      string
	Mean, Std []float64
}

// NewNormalize makes a per-channel normalisation layer.
func NewNormalize(name string, mean, std []float64) *Normalize {
	return &Normalize{name: name, Mean: mean, Std: std}
}

func (n *Normalize) Name() string { return n.name }

func (n *Normalize) Forward(x *autograd.Var, m Mode) *autograd.Var {
	c := x.Shape()[1]
	if len(n.Mean) != c && len(n.Mean) != 1 {
		tensor.Panicf("nn."+n.name, "%d channel means for input %v", len(n.Mean), x.Shape())
	}
	sh := tensor.Zeros(x.DType(), 1, c, 1, 1)
	sc := tensor.Zeros(x.DType(), 1, c, 1, 1)
	for i := 0; i < c; i++ {
		j := i
		if len(n.Mean) == 1 {
			j = 0
		}
		sc.SetFlat(i, 1/n.Std[j])
		sh.SetFlat(i, -n.Mean[j]/n.Std[j])
	}
	if !autograd.GradEnabled() || !x.RequiresGrad() {
		// no graph: one pass, the same bits; the result is adopted by the
		// open arena like every op's value (a Const is not), so a training
		// step does not take a fresh buffer for it every time
		y := tensor.MulAddChannels(x.Value(), sc, sh)
		tensor.Adopt(y)
		return autograd.Const(y)
	}
	return autograd.Add(autograd.Mul(x, autograd.Const(sc)), autograd.Const(sh))
}

// BatchNorm2d normalises each channel with batch statistics in training and
// running statistics in evaluation (PyTorch's BatchNorm2d, momentum 0.1,
// eps 1e-5).
type BatchNorm2d struct {
	name        string
	Gamma, Beta *autograd.Var
	Stats       autograd.BatchNormStats
	mean, vr    *autograd.Var
	Momentum    float64
	Eps         float64
}

// NewBatchNorm2d makes a batch-norm layer for c channels.
func NewBatchNorm2d(name string, c int) *BatchNorm2d {
	b := &BatchNorm2d{name: name,
		Gamma:    autograd.Param(tensor.Full(tensor.Float32, 1, c)),
		Beta:     autograd.Param(tensor.Zeros(tensor.Float32, c)),
		Stats:    autograd.BatchNormStats{Mean: tensor.Zeros(tensor.Float32, c), Var: tensor.Full(tensor.Float32, 1, c)},
		Momentum: 0.1, Eps: 1e-5}
	b.mean = autograd.Const(b.Stats.Mean)
	b.vr = autograd.Const(b.Stats.Var)
	return b
}

func (b *BatchNorm2d) Name() string { return b.name }

func (b *BatchNorm2d) Forward(x *autograd.Var, m Mode) *autograd.Var {
	return autograd.BatchNorm(x, b.Gamma, b.Beta, &b.Stats, m.Train, b.Momentum, b.Eps)
}

func (b *BatchNorm2d) Params() []Param {
	return []Param{
		{Name: b.name + ".weight", Var: b.Gamma},
		{Name: b.name + ".bias", Var: b.Beta},
		{Name: b.name + ".running_mean", Var: b.mean, Buffer: true},
		{Name: b.name + ".running_var", Var: b.vr, Buffer: true},
	}
}

// Init fills a tensor from rng.
type Init func(t *tensor.Tensor, rng *rand.Rand)

// TruncatedNormal draws from N(0, std^2) truncated to two standard
// deviations (TensorFlow's truncated_normal_initializer).
func TruncatedNormal(std float64) Init {
	return func(t *tensor.Tensor, rng *rand.Rand) {
		for i := 0; i < t.Size(); i++ {
			v := rng.NormFloat64()
			for math.Abs(v) > 2 {
				v = rng.NormFloat64()
			}
			t.SetFlat(i, v*std)
		}
	}
}

// Constant fills with v.
func Constant(v float64) Init {
	return func(t *tensor.Tensor, rng *rand.Rand) { t.Fill(v) }
}

// Uniform draws from U(-a, a).
func Uniform(a float64) Init {
	return func(t *tensor.Tensor, rng *rand.Rand) {
		for i := 0; i < t.Size(); i++ {
			t.SetFlat(i, (rng.Float64()*2-1)*a)
		}
	}
}

// KaimingNormal draws from N(0, 2/fanIn) (He initialisation for ReLU nets).
func KaimingNormal(fanIn int) Init {
	std := math.Sqrt(2 / float64(fanIn))
	return func(t *tensor.Tensor, rng *rand.Rand) {
		for i := 0; i < t.Size(); i++ {
			t.SetFlat(i, rng.NormFloat64()*std)
		}
	}
}

// TorchDefault is PyTorch's default initialisation of Conv2d and Linear
// weights and biases: U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
func TorchDefault(fanIn int) Init { return Uniform(1 / math.Sqrt(float64(fanIn))) }
