package defense

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// DefaultEps is the default attack budget on the [0,1] pixel scale: the
// ARP paper's 0.15 on its [-1,1] input scale.
const DefaultEps = 0.075

// AttackNames lists the attacks that generate training examples.
func AttackNames() []string { return []string{"step-ll", "fgsm", "r-step-ll", "pgd"} }

// AttackConfig chooses the attack that makes a step's adversarial
// examples. The attack runs with the model in evaluation mode; its result
// is a constant for the loss (no gradient flows through the generation).
type AttackConfig struct {
	Name string  `json:"attack"`
	Eps  float64 `json:"eps"` // L-inf budget on the [0,1] pixel scale
	// Steps and StepSize configure PGD (and TRADES's inner maximisation):
	// default 10 steps of 2.5*Eps/Steps.
	Steps    int     `json:"pgd_steps,omitempty"`
	StepSize float64 `json:"pgd_step_size,omitempty"`
}

// Validate checks the configuration.
func (c AttackConfig) Validate() error {
	known := false
	for _, n := range AttackNames() {
		known = known || n == c.Name
	}
	if !known {
		return fmt.Errorf("unknown training attack %q; known: %s", c.Name, strings.Join(AttackNames(), ", "))
	}
	if !(c.Eps > 0) || c.Eps > 1 {
		return fmt.Errorf("attack eps %g must be in (0,1] (pixel scale [0,1]; the paper's 0.15 on [-1,1] is 0.075)", c.Eps)
	}
	if c.Steps < 0 || c.StepSize < 0 || math.IsNaN(c.StepSize) {
		return fmt.Errorf("PGD steps %d and step size %g must be >= 0", c.Steps, c.StepSize)
	}
	return nil
}

func (c AttackConfig) pgdSteps() int {
	if c.Steps > 0 {
		return c.Steps
	}
	return 10
}

func (c AttackConfig) pgdStepSize() float64 {
	if c.StepSize > 0 {
		return c.StepSize
	}
	return 2.5 * c.Eps / float64(c.pgdSteps())
}

func (c AttackConfig) settings() map[string]any {
	s := map[string]any{"attack": c.Name, "eps": c.Eps}
	if c.Name == "pgd" {
		s["pgd_steps"] = c.pgdSteps()
		s["pgd_step_size"] = c.pgdStepSize()
	}
	return s
}

// New returns the attack, seeded with seed where it draws random numbers.
func (c AttackConfig) New(seed uint64) (attack.Attack, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	switch c.Name {
	case "fgsm":
		return attack.NewFGSM(c.Eps), nil
	case "r-step-ll":
		return attack.NewRStepLL(c.Eps, seed), nil
	case "pgd":
		return &pgd{eps: c.Eps, alpha: c.pgdStepSize(), steps: c.pgdSteps(), seed: seed}, nil
	}
	return attack.NewStepLL(c.Eps), nil
}

func (c AttackConfig) perturb(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int, seed uint64) (*tensor.Tensor, error) {
	a, err := c.New(seed)
	if err != nil {
		return nil, err
	}
	return a.Perturb(ctx, m, x, y)
}

// pgd is projected gradient descent (Madry et al. 2018) on the L-inf ball:
// a uniform random start, then steps of alpha*sign(gradient) projected back
// to the ball and to [0,1]. With kl it maximises KL(p(x) || p(x')) from a
// start at x + 0.001*N(0,1), TRADES's inner maximisation; otherwise the
// cross-entropy of the true class.
type pgd struct {
	eps, alpha float64
	steps      int
	seed       uint64
	kl         bool
}

func (a *pgd) Name() string {
	if a.kl {
		return "pgd-kl"
	}
	return "pgd"
}

func (a *pgd) Settings() map[string]any {
	return map[string]any{"attack": a.Name(), "eps": a.eps, "step_size": a.alpha, "steps": a.steps, "seed": a.seed}
}

func (a *pgd) Perturb(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	if err := nn.CheckInput(m, x.Shape()); err != nil {
		return nil, fmt.Errorf("%s: %v", a.Name(), err)
	}
	if len(y) != x.Shape()[0] {
		return nil, fmt.Errorf("%s: %d labels for %d images", a.Name(), len(y), x.Shape()[0])
	}
	x = x.AsType(tensor.Float32)
	r := newRand(a.seed, 0x9d, 0)
	xa := x.Clone()
	v := xa.F32()
	for i := range v {
		if a.kl {
			v[i] += float32(0.001 * r.NormFloat64())
		} else {
			v[i] += float32(a.eps * (2*r.Float64() - 1))
		}
	}
	xa = tensor.Clamp(xa, 0, 1)
	var clean *tensor.Tensor // logits of x, for the KL version
	if a.kl {
		var err error
		autograd.NoGrad(func() {
			err = autograd.Try(func() {
				l, _ := m.Forward(autograd.Const(x), nn.Eval)
				clean = l.Value()
			})
		})
		if err != nil {
			return nil, err
		}
	}
	lo, hi := tensor.AddScalar(x, -a.eps), tensor.AddScalar(x, a.eps)
	for k := 0; k < a.steps; k++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var g *tensor.Tensor
		var err error
		if a.kl {
			g, err = klGrad(m, xa, clean)
		} else {
			_, g, err = attack.LossGrad(m, xa, y, 0)
		}
		if err != nil {
			return nil, err
		}
		xa = tensor.Add(xa, tensor.Scale(tensor.Sign(g), a.alpha))
		xa = tensor.Clamp(tensor.Minimum(tensor.Maximum(xa, lo), hi), 0, 1)
	}
	return xa, nil
}

// klGrad returns the gradient with respect to x' of
// sum_i KL(p(x)_i || p(x')_i), the model in evaluation mode; clean holds
// the logits of x.
func klGrad(m nn.Classifier, xa, clean *tensor.Tensor) (*tensor.Tensor, error) {
	var g *tensor.Tensor
	var err error
	terr := autograd.Try(func() {
		xv := autograd.Param(xa)
		logits, _ := m.Forward(xv, nn.Eval)
		kl := klLogits(autograd.Const(clean), logits)
		var gs []*autograd.Var
		gs, err = autograd.Grad([]*autograd.Var{kl}, nil, []*autograd.Var{xv}, false)
		if err == nil {
			g = gs[0].Value()
		}
	})
	if terr != nil {
		return nil, terr
	}
	return g, err
}

// klLogits returns sum over rows of KL(softmax(lp) || softmax(lq)) =
// sum p * (log p - log q), computed with log-softmax for stability.
func klLogits(lp, lq *autograd.Var) *autograd.Var {
	p := autograd.Softmax(lp, 1)
	return autograd.SumAll(autograd.Mul(p, autograd.Sub(autograd.LogSoftmax(lp, 1), autograd.LogSoftmax(lq, 1))))
}
