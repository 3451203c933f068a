package attack

import (
	"context"

	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// PGDL2 is projected gradient descent under an L2 budget: from a uniform
// random point of the L2 ball of radius Eps (on the [0,1] pixel scale),
// Steps steps of length Alpha along the L2-normalised loss gradient, each
// projected back to the ball and clipped to [0,1]. Restarts and keeping
// the best per image as in PGD.
//
// Defaults: 40 steps, step size 2.5*eps/steps, 1 restart, random start on.
type PGDL2 struct {
	Base
	Steps         int
	Alpha         float64
	Restarts      int
	NoRandomStart bool
}

// NewPGDL2 returns untargeted L2 PGD with an L2 budget eps on the [0,1]
// pixel scale.
func NewPGDL2(eps float64, seed uint64) *PGDL2 { return &PGDL2{Base: Base{Eps: eps, Seed: seed}} }

func (a *PGDL2) Name() string { return "pgd-l2" }

func (a *PGDL2) steps() int    { return orDefault(a.Steps, 40) }
func (a *PGDL2) restarts() int { return orDefault(a.Restarts, 1) }
func (a *PGDL2) alpha() float64 {
	if a.Alpha > 0 {
		return a.Alpha
	}
	return 2.5 * a.Eps / float64(a.steps())
}

func (a *PGDL2) Settings() map[string]any {
	s := a.settings(a.Name())
	s["norm"] = "l2"
	s["kind"] = "iterative"
	s["steps"] = a.steps()
	s["step_size"] = a.alpha()
	s["restarts"] = a.restarts()
	if a.NoRandomStart {
		s["restarts"] = 1 // restarts from the same start would repeat themselves
	}
	s["random_start"] = !a.NoRandomStart
	return s
}

func (a *PGDL2) Perturb(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	if err := validateInputs(a.Name(), m, x, y); err != nil {
		return nil, err
	}
	if err := checkEps(a.Name(), "l2", a.Eps, perImage(x)); err != nil {
		return nil, err
	}
	l := loop{steps: a.steps(), restarts: a.restarts(), stepRule: stepRule{step: stepL2(a.alpha()), project: withinL2(a.Eps)}}
	if !a.NoRandomStart {
		l.start = startUniformL2(a.Eps)
	}
	return a.iterate(ctx, a.Name(), m, x, y, l, nil)
}
