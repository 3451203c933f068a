package attack

import (
	"context"
	"math"

	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// MIFGSM is the momentum iterative FGSM of Dong et al. (2018): the
// accumulated gradient g_{t+1} = Decay*g_t + grad/||grad||_1 sets the sign
// of each step of size Alpha; each step is projected to the eps-ball and
// [0,1].
//
// Defaults are the paper's: 10 steps, Alpha = eps/steps, Decay 1.0.
type MIFGSM struct {
	Base
	Steps int
	Alpha float64
	Decay *float64 // nil: 1.0
}

// NewMIFGSM returns untargeted MI-FGSM with budget eps on the [0,1] scale.
func NewMIFGSM(eps float64) *MIFGSM { return &MIFGSM{Base: Base{Eps: eps}} }

func (a *MIFGSM) Name() string { return "mifgsm" }

func (a *MIFGSM) steps() int { return orDefault(a.Steps, 10) }
func (a *MIFGSM) alpha() float64 {
	if a.Alpha > 0 {
		return a.Alpha
	}
	return a.Eps / float64(a.steps())
}
func (a *MIFGSM) decay() float64 {
	if a.Decay != nil {
		return *a.Decay
	}
	return 1
}

func (a *MIFGSM) Settings() map[string]any {
	s := a.settings(a.Name())
	s["kind"] = "iterative"
	s["steps"] = a.steps()
	s["step_size"] = a.alpha()
	s["decay"] = a.decay()
	return s
}

func (a *MIFGSM) Perturb(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	if err := validate(a.Name(), m, x, y, a.Eps); err != nil {
		return nil, err
	}
	l := loop{steps: a.steps(), stepRule: stepRule{step: a.stepMomentum(x.Size()), project: withinLinf(a.Eps)}}
	return a.iterate(ctx, a.Name(), m, x, y, l, nil)
}

// stepMomentum moves by Alpha*sign of the accumulated momentum
// Decay*g_t + grad/||grad||_1, kept per image of a batch of n values.
func (a *MIFGSM) stepMomentum(n int) func(xt, g []float32, idx []int, per int) {
	mom := make([]float64, n)
	mu, alpha := a.decay(), float32(a.alpha())
	return func(xt, g []float32, idx []int, per int) {
		for j, i := range idx {
			gr := g[j*per : (j+1)*per]
			l1 := 0.0
			for _, v := range gr {
				l1 += math.Abs(float64(v))
			}
			l1 = math.Max(l1, 1e-12)
			mo := mom[i*per : (i+1)*per]
			xr := xt[j*per : (j+1)*per]
			for k, v := range gr {
				mo[k] = mu*mo[k] + float64(v)/l1
				switch {
				case mo[k] > 0:
					xr[k] += alpha
				case mo[k] < 0:
					xr[k] -= alpha
				}
			}
		}
	}
}
