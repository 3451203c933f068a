package attack

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// Attack turns clean images into adversarial ones.
type Attack interface {
	// Name is the attack's short name ("fgsm", "step-ll", ...).
	Name() string
	// Perturb returns adversarial versions of x (pixels in [0,1],
	// [N,C,H,W], float32) for true labels y. x is not modified.
	Perturb(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int) (*tensor.Tensor, error)
	// Settings describes the threat model and parameters for reports.
	Settings() map[string]any
}

// Targeting says which class an attack moves towards.
type Targeting string

const (
	// Untargeted increases the loss of the true class.
	Untargeted Targeting = "untargeted"
	// LeastLikely decreases the loss of the class with the lowest logit on the
	// clean image (Kurakin et al.'s Step-LL).
	LeastLikely Targeting = "least-likely"
	// Random decreases the loss of a random wrong class (seeded).
	Random Targeting = "random"
	// Given decreases the loss of classes supplied in Base.Targets.
	Given Targeting = "given"
)

// Base holds what every gradient attack shares: the budget on the [0,1]
// pixel scale, the targeting, label smoothing of the attack loss and the
// seed. Conversions between the pixel scale and a model's input scale
// happen in the model's first layer, never in attacks.
//
// Every image draws its random numbers (random starts, random targets,
// Square's proposals) from its own generator, seeded Seeds[j] for image j
// of the batch when Seeds is set and ImageSeed(Seed, j) otherwise, so an
// image's randomness does not depend on the other images of its batch.
// Callers that split a dataset into batches in different ways (shards of an
// evaluation) give every image a seed derived from its index in the dataset.
type Base struct {
	Eps       float64   // L-inf (or L2) budget on the [0,1] pixel scale
	Targeting Targeting // default Untargeted
	Targets   []int     // for Given
	Smoothing float64   // label smoothing of the attack's cross-entropy
	Seed      uint64
	Seeds     []uint64 // one seed per image of the batch (nil: derived from Seed)
}

// ImageSeed is the seed of image j of a batch attacked with seed s when no
// per-image seeds are given (splitmix64 of s and j).
func ImageSeed(s uint64, j int) uint64 {
	z := s + 0x9e3779b97f4a7c15*uint64(j+1)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// rands returns one generator per image of a batch of n for a stream (each
// attack uses its own stream number).
func (b Base) rands(name string, n int, stream uint64) ([]*rand.Rand, error) {
	if b.Seeds != nil && len(b.Seeds) != n {
		return nil, fmt.Errorf("%s: %d per-image seeds for %d images", name, len(b.Seeds), n)
	}
	out := make([]*rand.Rand, n)
	for j := range out {
		s := ImageSeed(b.Seed, j)
		if b.Seeds != nil {
			s = b.Seeds[j]
		}
		out[j] = newRand(s, stream)
	}
	return out, nil
}

// settings returns the keys every attack reports: its name, norm ("linf"
// unless changed), budget, white- or black-box access, kind ("single-step"
// unless changed), targeting, label smoothing and seed.
func (b Base) settings(name string) map[string]any {
	t := b.Targeting
	if t == "" {
		t = Untargeted
	}
	return map[string]any{"attack": name, "norm": "linf", "eps": b.Eps, "box": "white-box", "kind": "single-step",
		"steps": 1, "restarts": 1, "step_size": b.Eps, "random_start": false,
		"targeting": string(t), "label_smoothing": b.Smoothing, "seed": b.Seed}
}

// targeted reports whether success means reaching a chosen class (random or
// given targets). Least-likely attacks, like untargeted ones, succeed as
// soon as the prediction leaves the true class: the least-likely class only
// sets the direction of the steps.
func (b Base) targeted() bool { return b.Targeting == Random || b.Targeting == Given }

// success reports whether prediction pred counts as a successful attack on
// an image with true label y and attack class t.
func (b Base) success(pred, y, t int) bool {
	if b.targeted() {
		return pred == t
	}
	return pred != y
}

// validate checks the inputs of Perturb for an L-inf attack: images that
// fit the model, one label per image, pixel values in [0,1] and a budget
// 0 <= eps <= 1 on the [0,1] pixel scale.
func validate(name string, m nn.Classifier, x *tensor.Tensor, y []int, eps float64) error {
	if err := validateInputs(name, m, x, y); err != nil {
		return err
	}
	return checkEps(name, "linf", eps, 0)
}

// validateInputs checks everything but the budget.
func validateInputs(name string, m nn.Classifier, x *tensor.Tensor, y []int) error {
	if m == nil {
		return fmt.Errorf("%s: no model", name)
	}
	if x == nil {
		return fmt.Errorf("%s: no images", name)
	}
	if err := nn.CheckInput(m, x.Shape()); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	if x.DType() != tensor.Float32 && x.DType() != tensor.Float64 {
		return fmt.Errorf("%s: unsupported dtype %v", name, x.DType())
	}
	if len(y) != x.Shape()[0] {
		return fmt.Errorf("%s: %d labels for %d images", name, len(y), x.Shape()[0])
	}
	for i, l := range y {
		if l < 0 || l >= m.NumClasses() {
			return fmt.Errorf("%s: label %d of image %d outside [0,%d)", name, l, i, m.NumClasses())
		}
	}
	for i := 0; i < x.Size(); i++ {
		if v := x.AtFlat(i); !(v >= 0 && v <= 1) {
			per := x.Size() / x.Shape()[0]
			return fmt.Errorf("%s: image %d has pixel value %g outside [0,1] (images are on the [0,1] pixel scale)", name, i/per, v)
		}
	}
	return nil
}

// CheckBudget validates a budget eps of norm ("linf" or "l2") on the [0,1]
// pixel scale: finite, >= 0, at most 1 for L-inf, and for L2 at most
// sqrt(size), the largest L2 distance between two images of size values
// (size 0: not known yet). name is the budget as the user typed it
// ("--eps", "pgd: eps"); the error starts with it and the value.
func CheckBudget(name, norm string, eps float64, size int) error {
	what := "an L-inf"
	if norm == "l2" {
		what = "an L2"
	}
	switch {
	case math.IsNaN(eps) || math.IsInf(eps, 0) || eps < 0:
		return fmt.Errorf("%s %g: must be a finite number >= 0 (%s budget on the [0,1] pixel scale)", name, eps, what)
	case norm != "l2" && eps > 1:
		return fmt.Errorf("%s %g: must be <= 1 (an L-inf budget on the [0,1] pixel scale; for [-1,1] inputs halve the value)", name, eps)
	case norm == "l2" && size > 0 && eps > math.Sqrt(float64(size)):
		return fmt.Errorf("%s %g: exceeds %.4g, the largest L2 distance between two images of this size on the [0,1] pixel scale", name, eps, math.Sqrt(float64(size)))
	}
	return nil
}

// checkEps is CheckBudget for attack name.
func checkEps(name, norm string, eps float64, size int) error {
	return CheckBudget(name+": eps", norm, eps, size)
}

// targetsFor returns the classes the loss is computed for and the sign of
// the step: +1 to increase the true-class loss, -1 to decrease a target's.
func (b Base) targetsFor(m nn.Classifier, x *tensor.Tensor, y []int) ([]int, float64, error) {
	switch b.Targeting {
	case "", Untargeted:
		return y, 1, nil
	case LeastLikely:
		var ll []int
		err := autograd.Try(func() {
			autograd.NoGrad(func() {
				logits, _ := m.Forward(autograd.Const(x), nn.Eval)
				ll = autograd.ArgMin(logits, 1)
			})
		})
		return ll, -1, err
	case Random:
		k := m.NumClasses()
		t := make([]int, len(y))
		rs, err := b.rands("random targeting", len(y), 101)
		if err != nil {
			return nil, 0, err
		}
		for i, l := range y {
			c := rs[i].IntN(k - 1)
			if c >= l {
				c++
			}
			t[i] = c
		}
		return t, -1, nil
	case Given:
		if len(b.Targets) != len(y) {
			return nil, 0, fmt.Errorf("given targeting needs %d targets, got %d", len(y), len(b.Targets))
		}
		for _, c := range b.Targets {
			if c < 0 || c >= m.NumClasses() {
				return nil, 0, fmt.Errorf("target class %d outside [0,%d)", c, m.NumClasses())
			}
		}
		return b.Targets, -1, nil
	}
	return nil, 0, fmt.Errorf("unknown targeting %q; known: untargeted, least-likely, random, given", b.Targeting)
}

// LossGrad returns the cross-entropy loss of the model on x for classes t
// (with label smoothing) and its gradient with respect to x, each image's
// gradient that of its own loss. The model runs in evaluation mode. The
// loss's gradient with respect to the logits is computed without
// cancellation (autograd.CrossEntropy), so images the model is sure about
// (1 - p(label) far below float32's 1e-7) still get the gradient's true
// direction instead of rounding noise or zeros. A model
// whose output does not depend on x gives an error wrapping ErrNoGradient;
// a gradient that is zero everywhere is returned as it is (the attacks
// check for that themselves).
func LossGrad(m nn.Classifier, x *tensor.Tensor, t []int, smoothing float64) (loss float64, grad *tensor.Tensor, err error) {
	_, grad, loss, err = lossGrad(m, x, t, smoothing)
	return loss, grad, err
}

// ErrNoGradient reports a model without a usable gradient path from its
// input to its output: the outputs do not depend on the input, or the
// gradient is zero (or not finite) for every image of a batch.
var ErrNoGradient = errors.New("the model has no usable gradient with respect to its input")

// lossGrad returns the logits, the gradient of the summed per-image
// cross-entropy with respect to x and the mean loss.
func lossGrad(m nn.Classifier, x *tensor.Tensor, t []int, smoothing float64) (logits, grad *tensor.Tensor, loss float64, err error) {
	logits, _, grad, loss, err = targetLossGrad(m, x, func(*autograd.Var) []int { return t }, smoothing)
	return logits, grad, loss, err
}

// targetLossGrad is lossGrad with the targets chosen from the logits of the
// same forward pass; it also returns the targets.
func targetLossGrad(m nn.Classifier, x *tensor.Tensor, targets func(logits *autograd.Var) []int, smoothing float64) (logits *tensor.Tensor, t []int, grad *tensor.Tensor, loss float64, err error) {
	logits, grad, loss, err = inputGrad(m, x, func(lv *autograd.Var) *autograd.Var {
		t = targets(lv)
		return autograd.CrossEntropy(lv, t, smoothing)
	})
	if err != nil {
		return nil, nil, nil, 0, err
	}
	// the loss is a mean over the batch: undo it so each image's gradient
	// has its own scale
	return logits, t, tensor.Scale(grad, float64(x.Shape()[0])), loss, nil
}

// inputGrad returns the logits of m on x (evaluation mode), the gradient
// of loss(logits) with respect to x and the loss.
func inputGrad(m nn.Classifier, x *tensor.Tensor, loss func(logits *autograd.Var) *autograd.Var) (logits, grad *tensor.Tensor, value float64, err error) {
	// The forward and backward passes' working memory is recycled from one
	// gradient to the next; only the logits and the gradient escape.
	a := autograd.OpenArena()
	defer a.Close()
	terr := autograd.Try(func() {
		xv := autograd.Param(x)
		lv, _ := m.Forward(xv, nn.Eval)
		if !lv.RequiresGrad() {
			err = fmt.Errorf("%w: its outputs do not depend on the input (constant model?)", ErrNoGradient)
			return
		}
		l := loss(lv)
		g, e := autograd.Grad([]*autograd.Var{l}, nil, []*autograd.Var{xv}, false)
		if e != nil {
			err = e
			return
		}
		logits, grad, value = lv.Value(), g[0].Value(), l.Item()
		tensor.Keep(logits, grad)
	})
	if terr != nil {
		return nil, nil, 0, terr
	}
	return logits, grad, value, err
}

// checkGrad returns an error wrapping ErrNoGradient when g is zero or not
// finite for every image of the batch; logits (the model's outputs on
// those images, or nil) let the message say why and what to do.
func checkGrad(name string, g, logits *tensor.Tensor) error {
	n := g.Shape()[0]
	per := g.Size() / n
	bad, nonFinite := 0, 0
	for i := 0; i < n; i++ {
		zero, nf := true, false
		for j := i * per; j < (i+1)*per; j++ {
			v := g.AtFlat(j)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				nf = true
				break
			}
			if v != 0 {
				zero = false
			}
		}
		if nf {
			nonFinite++
		}
		if zero || nf {
			bad++
		}
	}
	if bad == n {
		what := "zero"
		if nonFinite > 0 {
			what = "zero or not finite (NaN/Inf)"
		}
		return fmt.Errorf("%s: %w: the input gradient of the loss is %s for all %d images: %s", name, ErrNoGradient, what, n, noGradientReason(logits))
	}
	return nil
}

// noGradientReason explains, from a model's outputs on a batch, why the
// loss has no input gradient there, in terms a user can act on.
func noGradientReason(logits *tensor.Tensor) string {
	const other = "the model's outputs do not change with its input at these images (a constant model, or every unit on the path switched off)"
	if logits == nil || len(logits.Shape()) != 2 || logits.Size() == 0 {
		return other
	}
	n, k := logits.Shape()[0], logits.Shape()[1]
	v := logits.Float64s()
	probs, saturated := true, true
	for i := 0; i < n; i++ {
		row := v[i*k : (i+1)*k]
		sum, top := 0.0, math.Inf(-1)
		for _, z := range row {
			sum += z
			top = math.Max(top, z)
			probs = probs && z >= 0 && z <= 1
		}
		probs = probs && math.Abs(sum-1) < 1e-3
		below := 0 // classes whose float32 probability is not 0
		for _, z := range row {
			if float32(math.Exp(z-top)) != 0 {
				below++
			}
		}
		saturated = saturated && below == 1
	}
	switch {
	case probs:
		return "its outputs are probabilities (every row lies in [0,1] and sums to 1), not logits, and the final softmax is saturated at 1 on these images, so no gradient reaches the input; " +
			"give the attack the logits before the Softmax (for an ONNX model, name that value as \"output\" in its metadata file, docs/onnx.md), or use a black-box attack (square)"
	case saturated:
		return "the model is saturated on these images: the predicted class's logit exceeds every other by so much (more than about 100) that their probabilities are 0 in float32, and the cross-entropy has no gradient; " +
			"use a black-box attack (square), which needs only the predictions, or attack images the model is less sure about"
	}
	return other
}

// signStep returns clip(x + step*sign(g), 0, 1).
func signStep(x, g *tensor.Tensor, step float64) *tensor.Tensor {
	if x.DType() != tensor.Float32 || g.DType() != tensor.Float32 || !tensor.SameShape(x.Shape(), g.Shape()) {
		return tensor.Clamp(tensor.Add(x, tensor.Scale(tensor.Sign(g), step)), 0, 1)
	}
	// one pass, bit for bit the composed ops' float32 result: x plus
	// +-float32(step) where g is positive or negative (nothing where it is
	// zero or NaN), then clamped to [0,1] with -0 made +0 and NaN kept
	// (the gradient's signs are random: branch-free, see signOf)
	out := tensor.Zeros(tensor.Float32, x.Shape()...)
	xs, gs, os := x.F32(), g.F32()[:len(x.F32())], out.F32()[:len(x.F32())]
	ab := math.Float32bits(float32(step))
	for i, v := range xs {
		d, _ := signOf(gs[i], ab)
		// +-step, or +0 where the composed ops add 0*step (+-0: the
		// clamp makes either +0); max(-0, 0) is +0, NaN stays
		os[i] = min(max(v+math.Float32frombits(d), 0), 1)
	}
	return out
}

// signOf returns the bits of a (bits ab) where g is positive, of -a where
// g is negative and of +0 where g is zero or NaN, and a mask of all ones
// where g is neither zero nor NaN, without a branch (the signs of a
// gradient are unpredictable).
func signOf(g float32, ab uint32) (d, nz uint32) {
	gb := math.Float32bits(g)
	t := int32(gb&0x7fffffff) - 1                    // -1 for zeros; >= 0x7f800000 for NaNs
	nz = uint32(^t>>31) & uint32((t-0x7f800000)>>31) // all ones unless zero or NaN
	return (ab ^ gb&0x80000000) & nz, nz
}

func unknown(name string) error {
	return fmt.Errorf("unknown attack %q; known: %s", name, strings.Join(Names(), ", "))
}

// errorf formats an error message prefixed with the attack's name.
func errorf(name, format string, args ...any) error {
	return fmt.Errorf(name+": "+format, args...)
}

// leastLikelyGrad is lossGrad for the least-likely class of each image,
// taken from the same forward pass (Step-LL needs only one).
func leastLikelyGrad(m nn.Classifier, x *tensor.Tensor, smoothing float64) (logits *tensor.Tensor, t []int, grad *tensor.Tensor, err error) {
	logits, t, grad, _, err = targetLossGrad(m, x, func(lv *autograd.Var) []int { return autograd.ArgMin(lv, 1) }, smoothing)
	return logits, t, grad, err
}
