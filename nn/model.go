package nn

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/tensor"
)

// Classifier is what attacks, attention maps and evaluation need of a model:
// a differentiable forward pass from pixels in [0,1] ([N,C,H,W]) to logits
// [N,K] that can also return the activations of named layers (taps).
type Classifier interface {
	// Forward returns the logits and, for each name in taps, that layer's
	// output. It panics (tensor.ShapeError) for unknown tap names; check
	// them first with CheckLayer.
	Forward(x *autograd.Var, m Mode, taps ...string) (*autograd.Var, map[string]*autograd.Var)
	// LayerNames lists the layers that can be tapped, in order.
	LayerNames() []string
	// InputShape is [C,H,W].
	InputShape() []int
	// NumClasses is the number of logits.
	NumClasses() int
}

// CheckLayer returns an error naming the valid layers when name is not one
// of c's layers.
func CheckLayer(c Classifier, name string) error {
	for _, l := range c.LayerNames() {
		if l == name {
			return nil
		}
	}
	return fmt.Errorf("unknown layer %q; valid layers: %s", name, strings.Join(c.LayerNames(), ", "))
}

// CheckInput returns an error when an image batch shape does not fit c.
func CheckInput(c Classifier, shape []int) error {
	in := c.InputShape()
	if len(shape) != 4 || shape[1] != in[0] || shape[2] != in[1] || shape[3] != in[2] {
		return fmt.Errorf("images of shape %v do not fit the model, which takes [N %d %d %d] (channels, height, width)", shape, in[0], in[1], in[2])
	}
	return nil
}

// Model is a sequence of named layers built from a Spec.
type Model struct {
	Spec   Spec
	layers []Layer
}

// Forward runs the layers in order.
func (m *Model) Forward(x *autograd.Var, mode Mode, taps ...string) (*autograd.Var, map[string]*autograd.Var) {
	return m.forward(x, 0, len(m.layers), mode, taps)
}

// ForwardTo runs the layers up to and including the layer named upTo and
// returns that layer's output, the value Forward(x, mode, upTo) taps;
// ForwardFrom(h, upTo, ...) continues from it.
func (m *Model) ForwardTo(x *autograd.Var, upTo string, mode Mode) *autograd.Var {
	i := slices.Index(m.LayerNames(), upTo)
	if i < 0 {
		tensor.Panicf("nn.ForwardTo", "%v", CheckLayer(m, upTo))
	}
	_, acts := m.forward(x, 0, i+1, mode, []string{upTo})
	return acts[upTo]
}

// ForwardFrom runs the layers after the layer named from on h, that
// layer's output (as Forward returned it for a tap on from), and returns
// the logits and the taps among the later layers. With from's output of an
// earlier pass whose layers up to from compute the same in every mode
// (SameInModes), it gives the same values as Forward(x, mode, taps...) and
// the graph joins the earlier pass's: gradients flow back through both.
func (m *Model) ForwardFrom(h *autograd.Var, from string, mode Mode, taps ...string) (*autograd.Var, map[string]*autograd.Var) {
	i := slices.Index(m.LayerNames(), from)
	if i < 0 {
		tensor.Panicf("nn.ForwardFrom", "%v", CheckLayer(m, from))
	}
	return m.forward(h, i+1, len(m.layers), mode, taps)
}

// SameInModes reports whether every layer up to and including the layer
// named upTo computes the same in training and evaluation mode (no
// dropout, no batch norm, no layer whose mode use is unknown), so that
// its output on a batch can serve a pass in either mode.
func (m *Model) SameInModes(upTo string) bool {
	for _, l := range m.layers {
		if !modeFree(l) {
			return false
		}
		if l.Name() == upTo {
			return true
		}
	}
	return false
}

// modeFree reports whether l ignores the mode it runs in.
func modeFree(l Layer) bool {
	switch l := l.(type) {
	case *Conv2d, *Dense, reluLayer, *maxPool, *Normalize:
		return true
	case *Func:
		return l.modeFree
	}
	return false
}

// forward runs the layers from index start to end-1; a tap at end-1 keeps
// the fused ops from reaching past it.
func (m *Model) forward(x *autograd.Var, start, end int, mode Mode, taps []string) (*autograd.Var, map[string]*autograd.Var) {
	var acts map[string]*autograd.Var
	if len(taps) > 0 {
		acts = make(map[string]*autograd.Var, len(taps))
		for _, t := range taps {
			if err := CheckLayer(m, t); err != nil {
				tensor.Panicf("nn.Forward", "%v", err)
			}
		}
	}
	tapped := func(l Layer) bool { return slices.Contains(taps, l.Name()) }
	// Without a graph nothing refers to a layer's output once the next
	// layer has run: its storage goes back to the buffer pool unless it
	// is the caller's input, a tap, or shared with the next output (a
	// view, an identity layer).
	recycle := !autograd.GradEnabled()
	in := x
	var spent *autograd.Var // the previous layer's output, untapped
	for i := start; i < end; i++ {
		l := m.layers[i]
		// a convolution followed by a ReLU (and a max-pool) runs as one
		// fused op when the intermediate outputs are not tapped
		if c, ok := l.(*Conv2d); ok && i+1 < end && !tapped(c) {
			if r, ok := m.layers[i+1].(reluLayer); ok {
				var pool *maxPool
				if i+2 < end && !tapped(r) {
					pool, _ = m.layers[i+2].(*maxPool)
				}
				x = c.fused(x, pool)
				i++
				if pool != nil {
					i++
				}
				l = m.layers[i]
			} else {
				x = l.Forward(x, mode)
			}
		} else {
			x = l.Forward(x, mode)
		}
		if spent != nil && !kept(spent, x, in, acts) {
			tensor.Recycle(spent.Value())
		}
		spent = nil
		if recycle && !tapped(l) {
			spent = x
		}
		for _, t := range taps {
			if t == l.Name() {
				acts[t] = x
			}
		}
	}
	return x, acts
}

// kept reports whether v's storage must outlive the layer that consumed
// it: it is shared with that layer's output, the pass's input or a tap.
func kept(v, out, in *autograd.Var, acts map[string]*autograd.Var) bool {
	if tensor.SharesStorage(v.Value(), out.Value()) || tensor.SharesStorage(v.Value(), in.Value()) {
		return true
	}
	for _, a := range acts {
		if tensor.SharesStorage(v.Value(), a.Value()) {
			return true
		}
	}
	return false
}

// Logits runs the model in evaluation mode.
func (m *Model) Logits(x *autograd.Var) *autograd.Var {
	y, _ := m.Forward(x, Eval)
	return y
}

// LayerNames lists the layers in order.
func (m *Model) LayerNames() []string {
	names := make([]string, len(m.layers))
	for i, l := range m.layers {
		names[i] = l.Name()
	}
	return names
}

// Layers returns the layers in order (the model's own, not copies).
func (m *Model) Layers() []Layer { return m.layers }

// InputShape is [C,H,W].
func (m *Model) InputShape() []int { return []int{m.Spec.InChannels, m.Spec.Height, m.Spec.Width} }

// NumClasses is the number of outputs.
func (m *Model) NumClasses() int { return m.Spec.NumClasses }

// Params lists all named tensors (parameters and buffers) in a fixed order.
func (m *Model) Params() []Param {
	var ps []Param
	for _, l := range m.layers {
		if p, ok := l.(paramLayer); ok {
			ps = append(ps, p.Params()...)
		}
	}
	return ps
}

// Trainable returns the trainable parameters and their weight-decay
// coefficients, in the order of Params.
func (m *Model) Trainable() ([]*autograd.Var, []float64) {
	var vs []*autograd.Var
	var wd []float64
	for _, p := range m.Params() {
		if !p.Buffer {
			vs = append(vs, p.Var)
			wd = append(wd, p.WeightDecay)
		}
	}
	return vs, wd
}

// NumParams counts trainable scalars.
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.Params() {
		if !p.Buffer {
			n += p.Var.Value().Size()
		}
	}
	return n
}

// State returns copies of all named tensors.
func (m *Model) State() map[string]*tensor.Tensor {
	s := map[string]*tensor.Tensor{}
	for _, p := range m.Params() {
		s[p.Name] = p.Var.Value().Clone()
	}
	return s
}

// LoadState copies named tensors into the model; every tensor of the model
// must be present with its shape, and finite (a NaN or infinite weight is
// refused, naming the tensor, so nothing is computed with it). Extra names
// are an error too.
func (m *Model) LoadState(s map[string]*tensor.Tensor) error {
	ps := m.Params()
	seen := map[string]bool{}
	for _, p := range ps {
		t, ok := s[p.Name]
		if !ok {
			return fmt.Errorf("missing tensor %q for architecture %s", p.Name, m.Spec.Arch)
		}
		if !tensor.SameShape(t.Shape(), p.Var.Shape()) {
			return fmt.Errorf("tensor %q has shape %v, architecture %s needs %v", p.Name, t.Shape(), m.Spec.Arch, p.Var.Shape())
		}
		if i, v := t.NonFinite(); i >= 0 {
			return fmt.Errorf("tensor %q holds %v at element %d: non-finite weights (a diverged training or a damaged file) are refused", p.Name, v, i)
		}
		seen[p.Name] = true
	}
	var extra []string
	for k := range s {
		if !seen[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("tensors %v do not belong to architecture %s", extra, m.Spec.Arch)
	}
	for _, p := range ps {
		p.Var.Value().CopyFrom(s[p.Name].AsType(p.Var.DType()))
	}
	return nil
}

// Predict returns the predicted class and softmax probabilities for images
// in [0,1] ([N,C,H,W] flat), in evaluation mode, in batches.
func Predict(c Classifier, images []float32, n, batch int) (pred []int, probs [][]float64) {
	in := c.InputShape()
	per := in[0] * in[1] * in[2]
	if batch < 1 {
		batch = 100
	}
	for lo := 0; lo < n; lo += batch {
		hi := min(n, lo+batch)
		x := autograd.Const(tensor.FromFloat32(images[lo*per:hi*per], hi-lo, in[0], in[1], in[2]))
		var p *autograd.Var
		autograd.NoGrad(func() {
			logits, _ := c.Forward(x, Eval)
			p = autograd.Softmax(logits, 1)
		})
		k := p.Shape()[1]
		v := p.Value()
		for i := 0; i < hi-lo; i++ {
			row := make([]float64, k)
			best := 0
			for j := 0; j < k; j++ {
				row[j] = v.AtFlat(i*k + j)
				if row[j] > row[best] {
					best = j
				}
			}
			probs = append(probs, row)
			pred = append(pred, best)
		}
	}
	return pred, probs
}

// Spec describes an architecture and its input; it is stored with trained
// models (model.json) and is enough to rebuild the model.
type Spec struct {
	Arch       string    `json:"arch"`
	InChannels int       `json:"in_channels"`
	Height     int       `json:"height"`
	Width      int       `json:"width"`
	NumClasses int       `json:"num_classes"`
	LRN        bool      `json:"lrn,omitempty"` // cifarnet: local response normalisation
	Dropout    float64   `json:"dropout"`       // dropout probability of the hidden dense layers
	InputMean  []float64 `json:"input_mean"`    // pixels x in [0,1] enter as (x-mean)/std
	InputStd   []float64 `json:"input_std"`
	Attention  string    `json:"attention_layer"` // default attention layer
}

// Archs lists the architectures Build knows, with a one-line description.
func Archs() map[string]string {
	return map[string]string{
		"cifarnet":    "TF-slim CifarNet: conv5x5/64-pool2x2-LRN-conv5x5/64-LRN-pool2x2 (pool2)-fc384-fc192-fc (method.md §6)",
		"cifarnet-tf": "CifarNet with the TensorFlow tutorial's 3x3 stride-2 SAME pools",
		"mnist-cnn":   "conv5x5/32-pool-conv5x5/64-pool (pool2)-fc1024-dropout-fc",
		"mnist-small": "conv5x5/16-pool-conv5x5/32-pool (pool2)-fc128-dropout-fc (fast; used by arp demo)",
		"resnet20":    "ResNet-20 (3 stages of 3 basic blocks, 16/32/64 channels, batch norm; layer3 is the last stage)",
	}
}

// ArchNames lists the architecture names in order.
func ArchNames() []string {
	return slices.Sorted(maps.Keys(Archs()))
}

// DefaultSpec returns the spec of arch for inputs c x h x w and k classes
// with the range [-1,1] as the model's input scale (as in the ARP paper).
func DefaultSpec(arch string, c, h, w, k int) (Spec, error) {
	s := Spec{Arch: arch, InChannels: c, Height: h, Width: w, NumClasses: k,
		InputMean: []float64{0.5}, InputStd: []float64{0.5}, Attention: "pool2"}
	switch arch {
	case "cifarnet", "cifarnet-tf":
		s.LRN, s.Dropout = true, 0.5
	case "mnist-cnn", "mnist-small":
		s.Dropout = 0.5
	case "resnet20":
		s.Attention = "layer3"
	default:
		return s, fmt.Errorf("unknown architecture %q; known: %s", arch, strings.Join(ArchNames(), ", "))
	}
	return s, s.Validate()
}

// Validate checks a spec (from a user's model.json, say).
func (s Spec) Validate() error {
	if _, ok := Archs()[s.Arch]; !ok {
		return fmt.Errorf("unknown architecture %q; known: %s", s.Arch, strings.Join(ArchNames(), ", "))
	}
	switch {
	case s.InChannels < 1 || s.InChannels > MaxChannels:
		return fmt.Errorf("in_channels %d: want 1 to %d", s.InChannels, MaxChannels)
	case s.Height < 4 || s.Height > MaxInputSide:
		return fmt.Errorf("height %d: want 4 to %d pixels", s.Height, MaxInputSide)
	case s.Width < 4 || s.Width > MaxInputSide:
		return fmt.Errorf("width %d: want 4 to %d pixels", s.Width, MaxInputSide)
	case s.NumClasses < 2 || s.NumClasses > MaxClasses:
		return fmt.Errorf("num_classes %d: want 2 to %d", s.NumClasses, MaxClasses)
	}
	if s.Dropout < 0 || s.Dropout >= 1 {
		return fmt.Errorf("dropout %g outside [0,1)", s.Dropout)
	}
	if len(s.InputMean) != len(s.InputStd) || (len(s.InputMean) != 1 && len(s.InputMean) != s.InChannels) {
		return fmt.Errorf("input mean/std need 1 or %d values, got %d and %d", s.InChannels, len(s.InputMean), len(s.InputStd))
	}
	for _, v := range s.InputStd {
		if v <= 0 {
			return fmt.Errorf("input std %g must be positive", v)
		}
	}
	return nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Bounds of a Spec: inputs and class counts beyond them are refused by
// Validate before anything is allocated.
const (
	MaxInputSide = 4096
	MaxChannels  = 16
	MaxClasses   = 100000
)

// firstDense returns the input and output sizes of the first dense layer,
// the one whose size grows with the input's: CifarNet's fc3 and the MNIST
// CNNs' fc1 take the flattened pool2 output, ResNet-20's fc the 64 pooled
// channels.
func (s Spec) firstDense() (in, out int) {
	fh, fw := ceilDiv(ceilDiv(s.Height, 2), 2), ceilDiv(ceilDiv(s.Width, 2), 2)
	switch s.Arch {
	case "cifarnet", "cifarnet-tf":
		return 64 * fh * fw, 384
	case "mnist-cnn":
		return 64 * fh * fw, 1024
	case "mnist-small":
		return 32 * fh * fw, 128
	}
	return 64, s.NumClasses
}

// MinWeightBytes is a lower bound on the bytes of the model's float32
// weights (its largest layer's), known before Build allocates them.
func (s Spec) MinWeightBytes() int64 {
	in, out := s.firstDense()
	return limits.Need(4, in, out)
}

// Build constructs the model of spec with weights initialised from seed.
func Build(spec Spec, seed uint64) (*Model, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	in, out := spec.firstDense()
	what := fmt.Sprintf("a %s for %dx%dx%d inputs (its first dense layer alone has %d x %d weights)", spec.Arch, spec.InChannels, spec.Height, spec.Width, in, out)
	if err := limits.Check(what, spec.MinWeightBytes()); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	m := &Model{Spec: spec}
	add := func(l Layer) { m.layers = append(m.layers, l) }
	add(NewNormalize("input", spec.InputMean, spec.InputStd))
	c := spec.InChannels
	flat, _ := spec.firstDense()
	init := func(t *autograd.Var, f Init) { f(t.Value(), rng) }
	switch spec.Arch {
	case "cifarnet", "cifarnet-tf":
		pk, ps := 2, 2
		if spec.Arch == "cifarnet-tf" {
			pk = 3
		}
		conv1 := NewConv2d("conv1", c, 64, 5, 5, 1, Same, true)
		init(conv1.W, TruncatedNormal(5e-2))
		add(conv1)
		add(ReLU("relu1"))
		add(MaxPool("pool1", pk, ps, Same))
		if spec.LRN {
			add(LRN("norm1", 4, 1, 0.001/9, 0.75))
		}
		conv2 := NewConv2d("conv2", 64, 64, 5, 5, 1, Same, true)
		init(conv2.W, TruncatedNormal(5e-2))
		init(conv2.B, Constant(0.1))
		add(conv2)
		add(ReLU("relu2"))
		if spec.LRN {
			add(LRN("norm2", 4, 1, 0.001/9, 0.75))
		}
		add(MaxPool("pool2", pk, ps, Same))
		add(Flatten("flatten"))
		fc3 := NewDense("fc3", flat, 384, true)
		init(fc3.W, TruncatedNormal(4e-2))
		init(fc3.B, Constant(0.1))
		fc3.WeightDecay = 0.004
		add(fc3)
		add(ReLU("relu3"))
		add(Dropout("dropout3", spec.Dropout))
		fc4 := NewDense("fc4", 384, 192, true)
		init(fc4.W, TruncatedNormal(4e-2))
		init(fc4.B, Constant(0.1))
		fc4.WeightDecay = 0.004
		add(fc4)
		add(ReLU("relu4"))
		logits := NewDense("logits", 192, spec.NumClasses, true)
		init(logits.W, TruncatedNormal(1.0/192))
		add(logits)
	case "mnist-cnn", "mnist-small":
		c1, c2, fc := 32, 64, 1024
		if spec.Arch == "mnist-small" {
			c1, c2, fc = 16, 32, 128
		}
		conv1 := NewConv2d("conv1", c, c1, 5, 5, 1, Same, true)
		init(conv1.W, KaimingNormal(c*25))
		add(conv1)
		add(ReLU("relu1"))
		add(MaxPool("pool1", 2, 2, Same))
		conv2 := NewConv2d("conv2", c1, c2, 5, 5, 1, Same, true)
		init(conv2.W, KaimingNormal(c1*25))
		add(conv2)
		add(ReLU("relu2"))
		add(MaxPool("pool2", 2, 2, Same))
		add(Flatten("flatten"))
		fc1 := NewDense("fc1", flat, fc, true)
		init(fc1.W, KaimingNormal(flat))
		add(fc1)
		add(ReLU("relu3"))
		add(Dropout("dropout", spec.Dropout))
		out := NewDense("logits", fc, spec.NumClasses, true)
		init(out.W, TorchDefault(fc))
		init(out.B, TorchDefault(fc))
		add(out)
	case "resnet20":
		conv := NewConv2d("conv1", c, 16, 3, 3, 1, Explicit(1, 1), false)
		init(conv.W, KaimingNormal(c*9))
		add(conv)
		add(NewBatchNorm2d("bn1", 16))
		add(ReLU("relu1"))
		in := 16
		for stage, width := range []int{16, 32, 64} {
			stride := 1
			if stage > 0 {
				stride = 2
			}
			var blocks []Layer
			for b := 0; b < 3; b++ {
				blk := newBasicBlock(fmt.Sprintf("layer%d.%d", stage+1, b), in, width, stride, rng)
				blocks = append(blocks, blk)
				in, stride = width, 1
			}
			add(&Stage{name: fmt.Sprintf("layer%d", stage+1), blocks: blocks})
		}
		add(GlobalAvgPool("avgpool"))
		fc := NewDense("fc", 64, spec.NumClasses, true)
		init(fc.W, TorchDefault(64))
		init(fc.B, TorchDefault(64))
		add(fc)
	}
	return m, nil
}

// Stage is a sequence of layers tapped as one (a ResNet stage).
type Stage struct {
	name   string
	blocks []Layer
}

func (s *Stage) Name() string { return s.name }

func (s *Stage) Forward(x *autograd.Var, m Mode) *autograd.Var {
	for _, b := range s.blocks {
		x = b.Forward(x, m)
	}
	return x
}

func (s *Stage) Params() []Param {
	var ps []Param
	for _, b := range s.blocks {
		if p, ok := b.(paramLayer); ok {
			ps = append(ps, p.Params()...)
		}
	}
	return ps
}

// BasicBlock is ResNet's two-convolution residual block with a 1x1
// projection shortcut when the shape changes.
type BasicBlock struct {
	name         string
	conv1, conv2 *Conv2d
	bn1, bn2     *BatchNorm2d
	proj         *Conv2d
	projBN       *BatchNorm2d
}

func newBasicBlock(name string, in, out, stride int, rng *rand.Rand) *BasicBlock {
	b := &BasicBlock{name: name,
		conv1: NewConv2d(name+".conv1", in, out, 3, 3, stride, Explicit(1, 1), false),
		bn1:   NewBatchNorm2d(name+".bn1", out),
		conv2: NewConv2d(name+".conv2", out, out, 3, 3, 1, Explicit(1, 1), false),
		bn2:   NewBatchNorm2d(name+".bn2", out)}
	KaimingNormal(in*9)(b.conv1.W.Value(), rng)
	KaimingNormal(out*9)(b.conv2.W.Value(), rng)
	if stride != 1 || in != out {
		b.proj = NewConv2d(name+".shortcut.0", in, out, 1, 1, stride, Valid, false)
		KaimingNormal(in)(b.proj.W.Value(), rng)
		b.projBN = NewBatchNorm2d(name+".shortcut.1", out)
	}
	return b
}

func (b *BasicBlock) Name() string { return b.name }

func (b *BasicBlock) Forward(x *autograd.Var, m Mode) *autograd.Var {
	y := autograd.Relu(b.bn1.Forward(b.conv1.Forward(x, m), m))
	y = b.bn2.Forward(b.conv2.Forward(y, m), m)
	sc := x
	if b.proj != nil {
		sc = b.projBN.Forward(b.proj.Forward(x, m), m)
	}
	return autograd.Relu(autograd.Add(y, sc))
}

func (b *BasicBlock) Params() []Param {
	ps := append(b.conv1.Params(), b.bn1.Params()...)
	ps = append(ps, b.conv2.Params()...)
	ps = append(ps, b.bn2.Params()...)
	if b.proj != nil {
		ps = append(ps, b.proj.Params()...)
		ps = append(ps, b.projBN.Params()...)
	}
	return ps
}
