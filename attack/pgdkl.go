package attack

import (
	"context"
	"fmt"
	"math"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// PGDKL is TRADES's inner maximisation (Zhang et al. 2019): L-inf PGD on
// the Kullback-Leibler divergence KL(p(x) || p(x')) of the model's
// predictions on the clean and the adversarial image. It starts at
// x + 0.001*N(0,1) in the eps-ball (the divergence and its gradient vanish
// at x' = x) and
// takes Steps steps of Alpha along the sign of the gradient, each projected
// to the eps-ball and [0,1]. The steps need no labels; the labels judge
// success (misclassification), and among failed restarts the iterate with
// the largest divergence is kept. The objective has no target class, so
// only untargeted attacks are possible.
//
// Defaults: TRADES's schedule, 10 steps of eps/4 (their CIFAR-10 attack
// takes steps of 0.007 at eps 0.031), 1 restart.
type PGDKL struct {
	Base
	Steps    int     // default 10
	Alpha    float64 // default Eps/4
	Restarts int     // default 1
	// FinalIterate: see PGD.FinalIterate (TRADES training sets it).
	FinalIterate bool
}

func (a *PGDKL) Name() string { return "pgd-kl" }

func (a *PGDKL) steps() int    { return orDefault(a.Steps, 10) }
func (a *PGDKL) restarts() int { return orDefault(a.Restarts, 1) }
func (a *PGDKL) alpha() float64 {
	if a.Alpha > 0 {
		return a.Alpha
	}
	return a.Eps / 4
}

func (a *PGDKL) Settings() map[string]any {
	s := a.settings(a.Name())
	s["kind"] = "iterative"
	s["steps"] = a.steps()
	s["step_size"] = a.alpha()
	s["restarts"] = a.restarts()
	if a.FinalIterate {
		s["restarts"] = 1
		s["final_iterate"] = true
	}
	s["random_start"] = true
	s["objective"] = "KL(p(x) || p(x')) (TRADES)"
	return s
}

func (a *PGDKL) Perturb(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	if err := validate(a.Name(), m, x, y, a.Eps); err != nil {
		return nil, err
	}
	if a.Targeting != "" && a.Targeting != Untargeted {
		return nil, fmt.Errorf("%s: the KL objective has no target class; targeting %q is not possible", a.Name(), a.Targeting)
	}
	l := loop{steps: a.steps(), restarts: a.restarts(), finalIterate: a.FinalIterate,
		stepRule: stepRule{start: startGaussian(0.001, a.Eps), step: stepSign(a.alpha()), project: withinLinf(a.Eps)}}
	return a.iterate(ctx, a.Name(), m, x, y, l, func(x32 *tensor.Tensor, t []int, _ float64) (objective, error) {
		clean, err := forward(m, x32)
		if err != nil {
			return objective{}, err
		}
		o := a.crossEntropy(m, y, t, 1)
		o.grad = func(xt *tensor.Tensor, idx []int) (logits, grad *tensor.Tensor, err error) {
			p := autograd.Const(rowsOf(clean, idx))
			logits, grad, _, err = inputGrad(m, xt, func(q *autograd.Var) *autograd.Var { return autograd.KLDivLogits(p, q) })
			return logits, grad, err
		}
		o.score = func(logits *tensor.Tensor, row, i int) float64 { return klRow(clean, i, logits, row) }
		return o, nil
	})
}

// klRow returns KL(softmax(p[pr]) || softmax(q[qr])) for rows of logits.
func klRow(p *tensor.Tensor, pr int, q *tensor.Tensor, qr int) float64 {
	k := p.Shape()[1]
	lp, lq := logSoftmaxRow(p, pr), logSoftmaxRow(q, qr)
	s := 0.0
	for j := 0; j < k; j++ {
		s += math.Exp(lp[j]) * (lp[j] - lq[j])
	}
	return s
}
