package attack

import (
	"context"

	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// PGD is projected gradient descent under an L-inf budget (Madry et al.
// 2018): from a uniform random point of the eps-ball, Steps steps of size
// Alpha along the sign of the loss gradient, each projected back to the
// eps-ball and [0,1]; Restarts independent random starts, keeping for each
// image its first successful iterate, else the final iterate with the
// highest loss.
//
// Defaults: 40 steps (Madry et al.'s MNIST attack), step size
// 2.5*eps/steps (their rule), 1 restart, random start on.
type PGD struct {
	Base
	Steps         int     // default 40
	Alpha         float64 // default 2.5*Eps/Steps
	Restarts      int     // default 1
	NoRandomStart bool    // start at the clean image (deterministic)
	// FinalIterate runs the plain PGD loop of adversarial training (and of
	// timings): every image takes every step of a single run (Restarts is
	// ignored) and the final iterate is returned, with no early stopping,
	// no judging and no zero-gradient check. It can only make the attack
	// weaker; evaluations leave it off.
	FinalIterate bool
}

// NewPGD returns untargeted L-inf PGD with budget eps on the [0,1] scale.
func NewPGD(eps float64, seed uint64) *PGD { return &PGD{Base: Base{Eps: eps, Seed: seed}} }

func (a *PGD) Name() string { return "pgd" }

func (a *PGD) steps() int    { return orDefault(a.Steps, 40) }
func (a *PGD) restarts() int { return orDefault(a.Restarts, 1) }
func (a *PGD) alpha() float64 {
	if a.Alpha > 0 {
		return a.Alpha
	}
	return 2.5 * a.Eps / float64(a.steps())
}

func (a *PGD) Settings() map[string]any {
	s := a.settings(a.Name())
	s["kind"] = "iterative"
	s["steps"] = a.steps()
	s["step_size"] = a.alpha()
	s["restarts"] = a.restarts()
	if a.NoRandomStart || a.FinalIterate {
		s["restarts"] = 1 // restarts from the same start would repeat themselves
	}
	s["random_start"] = !a.NoRandomStart
	if a.FinalIterate {
		s["final_iterate"] = true
	}
	return s
}

func (a *PGD) Perturb(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	if err := validate(a.Name(), m, x, y, a.Eps); err != nil {
		return nil, err
	}
	l := loop{steps: a.steps(), restarts: a.restarts(), finalIterate: a.FinalIterate,
		stepRule: stepRule{step: stepSign(a.alpha()), project: withinLinf(a.Eps)}}
	if !a.NoRandomStart {
		l.start = startUniformLinf(a.Eps)
	}
	return a.iterate(ctx, a.Name(), m, x, y, l, nil)
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
