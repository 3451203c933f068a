package attack

import (
	"context"
	"fmt"
	"math"
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
type Base struct {
	Eps       float64   // L-inf (or L2) budget on the [0,1] pixel scale
	Targeting Targeting // default Untargeted
	Targets   []int     // for Given
	Smoothing float64   // label smoothing of the attack's cross-entropy
	Seed      uint64
}

func (b Base) settings(name string) map[string]any {
	t := b.Targeting
	if t == "" {
		t = Untargeted
	}
	return map[string]any{"attack": name, "eps": b.Eps, "targeting": string(t), "label_smoothing": b.Smoothing, "seed": b.Seed}
}

// validate checks the inputs of Perturb.
func validate(name string, m nn.Classifier, x *tensor.Tensor, y []int, eps float64) error {
	if err := nn.CheckInput(m, x.Shape()); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	if x.DType() != tensor.Float32 && x.DType() != tensor.Float64 {
		return fmt.Errorf("%s: unsupported dtype %v", name, x.DType())
	}
	if len(y) != x.Shape()[0] {
		return fmt.Errorf("%s: %d labels for %d images", name, len(y), x.Shape()[0])
	}
	for _, l := range y {
		if l < 0 || l >= m.NumClasses() {
			return fmt.Errorf("%s: label %d outside [0,%d)", name, l, m.NumClasses())
		}
	}
	if math.IsNaN(eps) || eps < 0 {
		return fmt.Errorf("%s: eps %g must be >= 0 (on the [0,1] pixel scale)", name, eps)
	}
	return nil
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
		r := newRand(b.Seed, 101)
		for i, l := range y {
			c := r.IntN(k - 1)
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
// (with label smoothing) and its gradient with respect to x. The model runs
// in evaluation mode.
func LossGrad(m nn.Classifier, x *tensor.Tensor, t []int, smoothing float64) (loss float64, grad *tensor.Tensor, err error) {
	err = autograd.Try(func() {
		xv := autograd.Param(x)
		logits, _ := m.Forward(xv, nn.Eval)
		l := autograd.CrossEntropy(logits, t, smoothing)
		g, e := autograd.Grad([]*autograd.Var{l}, nil, []*autograd.Var{xv}, false)
		if e != nil {
			err = e
			return
		}
		// the loss is a mean over the batch: undo it so each image's
		// gradient has its own scale
		grad = tensor.Scale(g[0].Value(), float64(x.Shape()[0]))
		loss = l.Item()
	})
	return loss, grad, err
}

// signStep returns clip(x + step*sign(g), 0, 1).
func signStep(x, g *tensor.Tensor, step float64) *tensor.Tensor {
	return tensor.Clamp(tensor.Add(x, tensor.Scale(tensor.Sign(g), step)), 0, 1)
}

// Names lists the attacks New knows.
func Names() []string {
	return []string{"fgsm", "step-ll", "r-step-ll"}
}

func unknown(name string) error {
	return fmt.Errorf("unknown attack %q; known: %s", name, strings.Join(Names(), ", "))
}
