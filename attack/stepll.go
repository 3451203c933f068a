package attack

import (
	"context"
	"math/rand/v2"

	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }

// StepLL is the single-step least-likely-class attack of Kurakin et al.
// (2017) as used by the ARP paper: y_LL = argmin of the clean logits,
// x' = clip(x - eps*sign(grad_x CE_ls(f(x), y_LL))) with label smoothing 0.1.
// The paper's eps 0.15 on the [-1,1] scale is 0.075 on the pixel scale.
type StepLL struct{ Base }

// NewStepLL returns Step-LL with budget eps on the [0,1] scale and the
// paper's label smoothing 0.1.
func NewStepLL(eps float64) *StepLL {
	return &StepLL{Base{Eps: eps, Targeting: LeastLikely, Smoothing: 0.1}}
}

func (a *StepLL) Name() string { return "step-ll" }

func (a *StepLL) Settings() map[string]any { return a.settings(a.Name()) }

func (a *StepLL) Perturb(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	if err := validate(a.Name(), m, x, y, a.Eps); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var logits, g *tensor.Tensor
	var err error
	sign := -1.0
	if a.Targeting == LeastLikely {
		// targets and gradient from one forward pass
		logits, _, g, err = leastLikelyGrad(m, x, a.Smoothing)
	} else {
		var t []int
		t, sign, err = a.targetsFor(m, x, y)
		if err != nil {
			return nil, err
		}
		logits, g, _, err = lossGrad(m, x, t, a.Smoothing)
	}
	if err == nil {
		err = checkGrad(a.Name(), g, logits)
	}
	if err != nil {
		return nil, err
	}
	return signStep(x, g, sign*a.Eps), nil
}

// RStepLL is R+Step-LL (Tramèr et al. 2018): a random sign step of eps/2
// (alpha = eps/2 as in the ARP paper), then a Step-LL step of eps - alpha
// from there.
type RStepLL struct {
	Base
	Alpha float64 // size of the random step; default Eps/2
}

// NewRStepLL returns R+Step-LL with budget eps on the [0,1] scale.
func NewRStepLL(eps float64, seed uint64) *RStepLL {
	return &RStepLL{Base: Base{Eps: eps, Targeting: LeastLikely, Smoothing: 0.1, Seed: seed}}
}

func (a *RStepLL) Name() string { return "r-step-ll" }

func (a *RStepLL) Settings() map[string]any {
	s := a.settings(a.Name())
	s["alpha"] = a.alpha()
	s["step_size"] = a.Eps - a.alpha()
	s["random_start"] = true
	return s
}

func (a *RStepLL) alpha() float64 {
	if a.Alpha > 0 {
		return a.Alpha
	}
	return a.Eps / 2
}

func (a *RStepLL) Perturb(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	if err := validate(a.Name(), m, x, y, a.Eps); err != nil {
		return nil, err
	}
	if a.Alpha < 0 || a.Alpha > a.Eps {
		return nil, errorf(a.Name(), "random step %g must be in [0, eps=%g]", a.Alpha, a.Eps)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, sign, err := a.targetsFor(m, x, y)
	if err != nil {
		return nil, err
	}
	rs, err := a.rands(a.Name(), x.Shape()[0], 7)
	if err != nil {
		return nil, err
	}
	noise := tensor.ZerosLike(x)
	per := perImage(x)
	for i := 0; i < noise.Size(); i++ {
		noise.SetFlat(i, rs[i/per].NormFloat64())
	}
	x0 := signStep(x, noise, a.alpha())
	logits, g, _, err := lossGrad(m, x0, t, a.Smoothing)
	if err == nil {
		err = checkGrad(a.Name(), g, logits)
	}
	if err != nil {
		return nil, err
	}
	return signStep(x0, g, sign*(a.Eps-a.alpha())), nil
}
