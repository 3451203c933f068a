package attack

import (
	"context"
	"math"

	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// Iterative is the basic iterative method of Kurakin et al. (2017, "Adversarial
// examples in the physical world"): Steps steps of size Alpha along the sign
// of the gradient, each followed by projection to the eps-ball and clipping to
// [0,1]. Untargeted it is BIM; with least-likely targeting (and label
// smoothing 0.1, as in the ARP paper's Step-LL) it is Iter-LL.
//
// Defaults: BIM uses Kurakin et al.'s schedule, Alpha = 1/255 and Steps =
// ceil(min(255*eps + 4, 1.25*255*eps)). Iter-LL uses the ARP paper's: 2
// Step-LL steps of size eps, so that its first iterate is exactly Step-LL;
// the paper's code did not project back to the eps-ball, which Unprojected
// reproduces (the result may then lie up to Steps*Alpha from the clean
// image). Kurakin's schedule for Iter-LL is steps=ceil(...), alpha=1/255.
//
// Like every iterative attack here, an image stops being attacked at its
// first misclassified iterate (for random or given targets: at the target),
// which is kept; so Iter-LL with its defaults is never weaker than Step-LL.
type Iterative struct {
	Base
	Steps       int     // 0: Kurakin et al.'s schedule
	Alpha       float64 // step size on the [0,1] scale; 0: 1/255
	Unprojected bool    // the paper's variant: no projection to the eps-ball
	name        string
}

// NewBIM returns untargeted BIM with budget eps on the [0,1] scale.
func NewBIM(eps float64) *Iterative { return &Iterative{Base: Base{Eps: eps}, name: "bim"} }

// NewIterLL returns Iter-LL (least-likely targeting, label smoothing 0.1)
// with budget eps on the [0,1] scale.
func NewIterLL(eps float64) *Iterative {
	return &Iterative{Base: Base{Eps: eps, Targeting: LeastLikely, Smoothing: 0.1}, name: "iter-ll"}
}

func (a *Iterative) Name() string {
	if a.name == "" {
		return "bim"
	}
	return a.name
}

func (a *Iterative) alpha() float64 {
	if a.Alpha > 0 {
		return a.Alpha
	}
	if a.Name() == "iter-ll" {
		return a.Eps
	}
	return 1.0 / 255
}

func (a *Iterative) steps() int {
	if a.Steps > 0 {
		return a.Steps
	}
	if a.Name() == "iter-ll" {
		return 2
	}
	e := 255 * a.Eps
	return int(math.Ceil(math.Min(e+4, 1.25*e)))
}

func (a *Iterative) Settings() map[string]any {
	s := a.settings(a.Name())
	s["kind"] = "iterative"
	s["steps"] = a.steps()
	s["step_size"] = a.alpha()
	s["projected"] = !a.Unprojected
	if a.Unprojected {
		s["max_linf"] = math.Min(1, float64(a.steps())*a.alpha())
	}
	return s
}

func (a *Iterative) Perturb(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	if err := validate(a.Name(), m, x, y, a.Eps); err != nil {
		return nil, err
	}
	eps := a.Eps
	if a.Unprojected {
		eps = -1
	}
	l := loop{steps: a.steps(), stepRule: stepRule{step: stepSign(a.alpha()), project: withinLinf(eps)}}
	return a.iterate(ctx, a.Name(), m, x, y, l, nil)
}
