package attack

import (
	"context"
	"math/rand/v2"

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
	// FullSteps turns early stopping off for timing: every image takes
	// every step and only the final iterate is judged (as in a plain PGD
	// loop), which can only make the attack weaker; evaluations leave it off.
	FullSteps bool
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
	if a.NoRandomStart {
		s["restarts"] = 1 // restarts from the same start would repeat themselves
	}
	s["random_start"] = !a.NoRandomStart
	if a.FullSteps {
		s["early_stop"] = false
	}
	return s
}

func (a *PGD) Perturb(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	if err := validate(a.Name(), m, x, y, a.Eps); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, sign, err := a.targetsFor(m, x, y)
	if err != nil {
		return nil, err
	}
	l := a.ceLoop(m, y, t, sign)
	l.steps, l.restarts, l.fullSteps = a.steps(), a.restarts(), a.FullSteps
	if !a.NoRandomStart {
		eps := a.Eps
		l.start = func(r *rand.Rand, x0, xt []float32, per int) { uniformLinf(r, x0, xt, eps) }
	}
	l.update = signUpdate(a.alpha(), a.Eps)
	adv, err := l.run(ctx, a.Name(), m, asF32(x), a.Seed)
	if err != nil {
		return nil, err
	}
	return asDType(adv, x), nil
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
