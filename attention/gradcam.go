package attention

import (
	"fmt"
	"strings"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// Weighting computes the channel weights of a class activation map from the
// layer's activations A [N,K,h,w] and the gradient G = d score / d A. A new
// CAM method only needs to define this.
type Weighting interface {
	// Weights returns [N,K,1,1] channel weights.
	Weights(a, g *autograd.Var) *autograd.Var
}

// Method is a complete CAM recipe: a channel weighting and what is done to
// the weighted sum S = sum_k w_k A_k.
type Method struct {
	Name      string
	Weighting Weighting
	// Post turns S [N,1,h,w] into the map: softmax over positions for the ARP
	// variant, ReLU and division by the maximum for standard Grad-CAM.
	Post func(s *autograd.Var) *autograd.Var
}

// Methods lists the built-in methods by name.
func Methods() []string { return []string{"gradcam-arp", "gradcam", "gradcam++"} }

// MethodByName returns a built-in method: "gradcam-arp" (the ARP paper's
// variant: normalised gradients, no ReLU, softmax over positions; batchWide
// selects the original code's batch-wide gradient normalisation),
// "gradcam" (Selvaraju et al.: mean gradients, ReLU, divided by the
// maximum) or "gradcam++" (Chattopadhay et al.).
func MethodByName(name string, batchWide bool) (Method, error) {
	switch name {
	case "gradcam-arp", "arp":
		return Method{Name: "gradcam-arp", Weighting: NormalizedMean{BatchWide: batchWide}, Post: SoftmaxPositions}, nil
	case "gradcam", "standard":
		return Method{Name: "gradcam", Weighting: MeanGradient{}, Post: ReluMax}, nil
	case "gradcam++", "gradcampp":
		return Method{Name: "gradcam++", Weighting: PlusPlus{}, Post: ReluMax}, nil
	}
	return Method{}, fmt.Errorf("unknown attention method %q; known: %s", name, strings.Join(Methods(), ", "))
}

// NormalizedMean is the ARP weighting: g_hat = g / (sqrt(mean(g^2)) + 1e-5)
// with the mean over each sample (or the whole batch when BatchWide), then
// w_k = mean over positions of g_hat.
type NormalizedMean struct{ BatchWide bool }

func (n NormalizedMean) Weights(a, g *autograd.Var) *autograd.Var {
	var ms *autograd.Var
	if n.BatchWide {
		ms = autograd.MeanAll(autograd.Square(g))
	} else {
		ms = autograd.Mean(autograd.Square(g), true, 1, 2, 3)
	}
	gh := autograd.Div(g, autograd.AddScalar(autograd.Sqrt(autograd.AddScalar(ms, 1e-30)), 1e-5))
	return autograd.Mean(gh, true, 2, 3)
}

// MeanGradient is standard Grad-CAM's weighting: w_k = mean over positions
// of g.
type MeanGradient struct{}

func (MeanGradient) Weights(a, g *autograd.Var) *autograd.Var { return autograd.Mean(g, true, 2, 3) }

// PlusPlus is Grad-CAM++'s weighting with the exponential-score closed form:
// alpha = g^2 / (2 g^2 + sum_ij A g^3), w_k = sum_ij alpha * relu(g).
type PlusPlus struct{}

func (PlusPlus) Weights(a, g *autograd.Var) *autograd.Var {
	g2 := autograd.Square(g)
	g3 := autograd.Mul(g2, g)
	sumA := autograd.Sum(a, true, 2, 3)
	den := autograd.Add(autograd.Scale(g2, 2), autograd.Mul(sumA, g3))
	// where den == 0 use 1 (alpha is 0 there since g2 is 0 too)
	dv := den.Value()
	fix := tensor.Apply(dv, func(v float64) float64 {
		if v == 0 {
			return 1
		}
		return 0
	})
	alpha := autograd.Div(g2, autograd.Add(den, autograd.Const(fix)))
	return autograd.Sum(autograd.Mul(alpha, autograd.Relu(g)), true, 2, 3)
}

// SoftmaxPositions normalises S [N,1,h,w] with a softmax over all h*w
// positions (the map sums to 1).
func SoftmaxPositions(s *autograd.Var) *autograd.Var {
	sh := s.Shape()
	return autograd.Reshape(autograd.Softmax(autograd.Reshape(s, sh[0], -1), 1), sh...)
}

// ReluMax applies ReLU and divides each map by its maximum (maps that are
// zero everywhere stay zero).
func ReluMax(s *autograd.Var) *autograd.Var {
	sh := s.Shape()
	r := autograd.Relu(s)
	m := autograd.Max(autograd.Reshape(r, sh[0], -1), 1, true)
	return autograd.Reshape(autograd.Div(autograd.Reshape(r, sh[0], -1), autograd.AddScalar(m, 1e-12)), sh...)
}

// ReluMinMax applies ReLU, subtracts each map's minimum and divides by the
// maximum of the result plus 1e-7: how pytorch-grad-cam scales Grad-CAM
// and Grad-CAM++ maps (scale_cam_image). It differs from ReluMax when every
// cell of a map is positive: the smallest cell then becomes 0.
func ReluMinMax(s *autograd.Var) *autograd.Var {
	sh := s.Shape()
	r := autograd.Reshape(autograd.Relu(s), sh[0], -1)
	shifted := autograd.Sub(r, autograd.Min(r, 1, true))
	m := autograd.Max(shifted, 1, true)
	return autograd.Reshape(autograd.Div(shifted, autograd.AddScalar(m, 1e-7)), sh...)
}

// Scalings lists how the ReLU maps of gradcam and gradcam++ can be
// scaled: "max" (ReluMax, the default) and "min-max" (ReluMinMax, as
// pytorch-grad-cam).
func Scalings() []string { return []string{"max", "min-max"} }

// WithScaling returns m with its ReLU map scaled as scale says (see
// Scalings; "" is "max"). The ARP variant's softmax has no such choice.
func WithScaling(m Method, scale string) (Method, error) {
	switch scale {
	case "", "max":
		return m, nil
	case "min-max":
		if m.Name != "gradcam" && m.Name != "gradcam++" {
			return Method{}, fmt.Errorf("scaling %q applies to gradcam and gradcam++, not %s (a softmax over positions)", scale, m.Name)
		}
		m.Post = ReluMinMax
		m.Name += " (min-max scaled)"
		return m, nil
	}
	return Method{}, fmt.Errorf("unknown map scaling %q; known: %s", scale, strings.Join(Scalings(), ", "))
}

// Options select how a map is computed.
type Options struct {
	// Layer is the tapped layer (default: the model's attention layer when
	// it is an *nn.Model).
	Layer string
	// Method is the CAM recipe (default gradcam-arp, per-sample).
	Method Method
	// Mode is the model's forward mode (default evaluation).
	Mode nn.Mode
	// Upsample resizes the map to the input size (bilinear, half-pixel
	// centres) when set.
	Upsample bool
	// CreateGraph makes the map differentiable through the gradient that
	// defines the channel weights (double backpropagation), as the ARP
	// loss and the adaptive attack need. Without it the map is still
	// differentiable with respect to the activations, with the channel
	// weights treated as constants (the "first-order" option).
	CreateGraph bool
}

// Result is the output of Compute.
type Result struct {
	Map         *autograd.Var // [N,1,h,w] (or [N,1,H,W] when upsampled)
	Logits      *autograd.Var // [N,K]
	Activations *autograd.Var // the tapped layer's output
	Targets     []int         // the class each map explains
}

// FromActivations computes the map from a forward pass that has already been
// done: logits [N,K] and the tapped activations A [N,K',h,w], for target
// classes targets (one per sample). inputHW is the input size used when
// upsampling.
func FromActivations(logits, a *autograd.Var, targets []int, opt Options, inputH, inputW int) (*autograd.Var, error) {
	if opt.Method.Weighting == nil {
		opt.Method, _ = MethodByName("gradcam-arp", false)
	}
	s := a.Shape()
	if len(s) != 4 {
		return nil, fmt.Errorf("attention: layer output has shape %v; a map needs a convolutional layer [N,C,H,W]", s)
	}
	if len(targets) != s[0] || len(logits.Shape()) != 2 || logits.Shape()[0] != s[0] {
		return nil, fmt.Errorf("attention: %d targets for logits %v and activations %v", len(targets), logits.Shape(), s)
	}
	for _, t := range targets {
		if t < 0 || t >= logits.Shape()[1] {
			return nil, fmt.Errorf("attention: target class %d outside [0,%d)", t, logits.Shape()[1])
		}
	}
	score := autograd.SumAll(autograd.PickClass(logits, targets))
	gs, err := autograd.Grad([]*autograd.Var{score}, nil, []*autograd.Var{a}, opt.CreateGraph)
	if err != nil {
		return nil, fmt.Errorf("attention: %v", err)
	}
	var m *autograd.Var
	err = autograd.Try(func() {
		w := opt.Method.Weighting.Weights(a, gs[0])
		sm := autograd.Sum(autograd.Mul(w, a), true, 1)
		m = opt.Method.Post(sm)
		if opt.Upsample && (inputH != s[2] || inputW != s[3]) {
			m = autograd.ResizeBilinear(m, inputH, inputW, false)
		}
	})
	return m, err
}

// Compute runs the model on x (pixels in [0,1], [N,C,H,W]) and returns the
// class activation maps for targets, one class per image. nil targets mean
// the predicted classes; a target of -1 means the prediction for that image
// (so true labels with -1 for unknown ones give DefaultTargets).
func Compute(model nn.Classifier, x *autograd.Var, targets []int, opt Options) (*Result, error) {
	if opt.Layer == "" {
		opt.Layer = nn.DefaultAttentionLayer(model)
	}
	if err := nn.CheckLayer(model, opt.Layer); err != nil {
		return nil, fmt.Errorf("attention: %v", err)
	}
	if err := nn.CheckInput(model, x.Shape()); err != nil {
		return nil, fmt.Errorf("attention: %v", err)
	}
	// the map needs d score / dA even when x itself is a constant
	return mapOf(func() (*autograd.Var, *autograd.Var, error) {
		logits, acts := model.Forward(x, opt.Mode, opt.Layer)
		a := acts[opt.Layer]
		if !a.RequiresGrad() {
			return nil, nil, fmt.Errorf("attention: layer %q does not depend on anything differentiable", opt.Layer)
		}
		return logits, a, nil
	}, targets, opt, x.Shape()[2], x.Shape()[3])
}

// mapOf runs pass, which returns the logits and the tapped activations,
// and computes the map of Compute from them, for targets (DefaultTargets
// of the logits where nil or negative), with the engine's panics returned
// as errors.
func mapOf(pass func() (logits, a *autograd.Var, err error), targets []int, opt Options, h, w int) (*Result, error) {
	var res *Result
	var err error
	terr := autograd.Try(func() {
		var logits, a *autograd.Var
		if logits, a, err = pass(); err != nil {
			return
		}
		if targets == nil || hasNegative(targets) {
			if targets, err = DefaultTargets(targets, autograd.ArgMax(logits, 1)); err != nil {
				return
			}
		}
		var m *autograd.Var
		m, err = FromActivations(logits, a, targets, opt, h, w)
		res = &Result{Map: m, Logits: logits, Activations: a, Targets: append([]int(nil), targets...)}
	})
	if terr != nil {
		return nil, fmt.Errorf("attention: %v", terr)
	}
	return res, err
}

func hasNegative(v []int) bool {
	for _, x := range v {
		if x < 0 {
			return true
		}
	}
	return false
}
