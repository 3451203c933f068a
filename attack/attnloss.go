package attack

import (
	"context"
	"fmt"
	"math"

	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// AttentionLoss is the adaptive attack on attention-based defenses: PGD
// under an L-inf budget on the objective
//
//	J(x') = CE(f(x'), y) + Lambda * mean_pixels |B - M(x') / max M(x')|
//
// where B is the mean-threshold mask of the clean image's ARP Grad-CAM map
// and M(x') the adversarial image's map, both for the true class at the
// model's attention layer and upsampled to the image. The second term pushes
// the attention away from where it was. Since M is itself a gradient of the
// network, the attack differentiates through it (second-order gradients,
// attention.Options.CreateGraph), so a defense that only shapes the
// attention map cannot hide from it.
//
// Defaults: 20 steps of 2.5*eps/steps from a random start, 1 restart,
// Lambda 1. With Lambda 0 the objective is the cross-entropy alone and the
// attack takes PGD's steps (from its own random starts, seeded by its
// name) without computing the map.
type AttentionLoss struct {
	Base
	Steps         int
	Alpha         float64
	Restarts      int
	NoRandomStart bool
	Lambda        *float64 // weight of the attention term; nil: 1
	Layer         string   // default: the model's attention layer
}

// NewAttentionLoss returns the adaptive attention-loss attack with budget
// eps on the [0,1] scale.
func NewAttentionLoss(eps float64, seed uint64) *AttentionLoss {
	return &AttentionLoss{Base: Base{Eps: eps, Seed: seed}}
}

func (a *AttentionLoss) Name() string { return "attention-loss" }

func (a *AttentionLoss) steps() int    { return orDefault(a.Steps, 20) }
func (a *AttentionLoss) restarts() int { return orDefault(a.Restarts, 1) }
func (a *AttentionLoss) lambda() float64 {
	if a.Lambda == nil {
		return 1
	}
	return *a.Lambda
}
func (a *AttentionLoss) alpha() float64 {
	if a.Alpha > 0 {
		return a.Alpha
	}
	return 2.5 * a.Eps / float64(a.steps())
}

func (a *AttentionLoss) Settings() map[string]any {
	s := a.settings(a.Name())
	s["kind"] = "iterative"
	s["adaptive"] = true
	s["steps"] = a.steps()
	s["step_size"] = a.alpha()
	s["restarts"] = a.restarts()
	if a.NoRandomStart {
		s["restarts"] = 1 // restarts from the same start would repeat themselves
	}
	s["random_start"] = !a.NoRandomStart
	s["lambda"] = a.lambda()
	s["layer"] = layerSetting(a.Layer)
	s["objective"] = "CE + lambda * mean|clean mask - adversarial map/max| (second-order)"
	if a.lambda() == 0 {
		s["objective"] = "CE (lambda 0: the attention map is not computed; PGD's steps with this attack's own random starts)"
	}
	return s
}

func (a *AttentionLoss) Perturb(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	if err := validate(a.Name(), m, x, y, a.Eps); err != nil {
		return nil, err
	}
	if l := a.lambda(); !(l >= 0) || math.IsInf(l, 0) {
		return nil, fmt.Errorf("%s: lambda %g must be a finite number >= 0", a.Name(), l)
	}
	layer, err := attentionLayer(a.Name(), m, a.Layer)
	if err != nil {
		return nil, err
	}
	l := loop{steps: a.steps(), restarts: a.restarts(), stepRule: stepRule{step: stepSign(a.alpha()), project: withinLinf(a.Eps)}}
	if !a.NoRandomStart {
		l.start = startUniformLinf(a.Eps)
	}
	if a.lambda() == 0 {
		// the attention term weighs nothing: PGD on the cross-entropy, without
		// the map and its second-order gradient (which cost as much again)
		return a.iterate(ctx, a.Name(), m, x, y, l, nil)
	}
	return a.iterate(ctx, a.Name(), m, x, y, l, func(x32 *tensor.Tensor, t []int, sign float64) (objective, error) {
		_, clean, err := attentionMasks(m, x32, y, layer)
		if err != nil {
			return objective{}, fmt.Errorf("%s: %v", a.Name(), err)
		}
		o := a.crossEntropy(m, y, t, sign)
		o.grad = a.grad(m, y, t, sign, clean, layer, x.Shape()[2], x.Shape()[3])
		return o, nil
	})
}

// grad returns the gradient of CE + Lambda * map distance from the clean
// masks.
func (a *AttentionLoss) grad(m nn.Classifier, y, t []int, sign float64, clean [][]bool, layer string, h, w int) func(xt *tensor.Tensor, idx []int) (logits, grad *tensor.Tensor, err error) {
	lambda := a.lambda()
	return func(xt *tensor.Tensor, idx []int) (logits, grad *tensor.Tensor, err error) {
		k := len(idx)
		b := tensor.Zeros(tensor.Float32, k, h*w)
		for j, i := range idx {
			for p, on := range clean[i] {
				if on {
					b.F32()[j*h*w+p] = 1
				}
			}
		}
		terr := autograd.Try(func() {
			xv := autograd.Param(xt)
			res, e := attention.Compute(m, xv, pick(y, idx), attention.Options{Layer: layer, Upsample: true, CreateGraph: true})
			if e != nil {
				err = e
				return
			}
			if !res.Logits.RequiresGrad() {
				err = fmt.Errorf("%w: its outputs do not depend on the input (constant model?)", ErrNoGradient)
				return
			}
			ce := autograd.Scale(autograd.CrossEntropy(res.Logits, pick(t, idx), a.Smoothing), sign*float64(k))
			mp := autograd.Reshape(res.Map, k, h*w)
			mn := autograd.Div(mp, autograd.AddScalar(autograd.Max(mp, 1, true), 1e-12))
			dist := autograd.SumAll(autograd.Mean(autograd.Abs(autograd.Sub(mn, autograd.Const(b))), false, 1))
			obj := autograd.Add(ce, autograd.Scale(dist, lambda))
			gs, e := autograd.Grad([]*autograd.Var{obj}, nil, []*autograd.Var{xv}, false)
			if e != nil {
				err = e
				return
			}
			logits, grad = res.Logits.Value(), gs[0].Value()
		})
		if terr != nil {
			err = terr
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", a.Name(), err)
		}
		return logits, grad, err
	}
}
