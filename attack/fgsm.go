package attack

import (
	"context"

	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// FGSM is the fast gradient sign method (Goodfellow et al. 2015):
// x' = clip(x + eps*sign(grad_x CE(f(x), y))). With a targeting other than
// untargeted it steps against the gradient of the target's loss instead.
type FGSM struct{ Base }

// NewFGSM returns untargeted FGSM with budget eps on the [0,1] scale.
func NewFGSM(eps float64) *FGSM { return &FGSM{Base{Eps: eps}} }

func (a *FGSM) Name() string { return "fgsm" }

func (a *FGSM) Settings() map[string]any { return a.settings(a.Name()) }

func (a *FGSM) Perturb(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	if err := validate(a.Name(), m, x, y, a.Eps); err != nil {
		return nil, err
	}
	t, sign, err := a.targetsFor(m, x, y)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	logits, g, _, err := lossGrad(m, x, t, a.Smoothing)
	if err == nil {
		err = checkGrad(a.Name(), g, logits)
	}
	if err != nil {
		return nil, err
	}
	return signStep(x, g, sign*a.Eps), nil
}
