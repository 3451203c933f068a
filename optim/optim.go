// Package optim holds the optimisers that update a model's parameters from
// their gradients: SGD with momentum and Adam (with coupled L2 or decoupled
// weight decay). Their update rules follow PyTorch's torch.optim so that
// runs can be compared step by step.
//
// An optimiser is built over a fixed list of parameters; Step takes the
// gradients in the same order (as returned by autograd.Grad) and updates the
// parameter tensors in place. State and LoadState give the optimiser's
// internal buffers for checkpoints, so a resumed run continues exactly.
package optim

import (
	"fmt"
	"math"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/kernels"
	"github.com/arp-robustness/arp/tensor"
)

// Optimizer updates parameters in place from gradients.
type Optimizer interface {
	// Step applies one update; grads[i] is the gradient of params[i].
	Step(grads []*autograd.Var) error
	// LR returns the current learning rate; SetLR changes it (schedules).
	LR() float64
	SetLR(lr float64)
	// State returns named copies of the internal buffers and step count;
	// LoadState restores them.
	State() map[string]*tensor.Tensor
	LoadState(map[string]*tensor.Tensor) error
}

func checkGrads(name string, params, grads []*autograd.Var) error {
	if len(grads) != len(params) {
		return fmt.Errorf("%s: %d gradients for %d parameters", name, len(grads), len(params))
	}
	for i, g := range grads {
		if g == nil {
			continue
		}
		if !tensor.SameShape(g.Shape(), params[i].Shape()) {
			return fmt.Errorf("%s: gradient %d has shape %v, parameter %s has %v", name, i, g.Shape(), params[i], params[i].Shape())
		}
		if g.DType() != params[i].DType() {
			return fmt.Errorf("%s: gradient %d is %v, parameter is %v", name, i, g.DType(), params[i].DType())
		}
	}
	return nil
}

// SGD is stochastic gradient descent with momentum, optional Nesterov
// momentum and L2 weight decay, as torch.optim.SGD.
type SGD struct {
	params      []*autograd.Var
	lr          float64
	Momentum    float64
	Nesterov    bool
	WeightDecay []float64 // per parameter; nil means none
	buf         []*tensor.Tensor
	steps       int
}

// NewSGD returns SGD over params with learning rate lr and momentum.
func NewSGD(params []*autograd.Var, lr, momentum float64) *SGD {
	return &SGD{params: params, lr: lr, Momentum: momentum, buf: make([]*tensor.Tensor, len(params))}
}

// LR returns the learning rate.
func (o *SGD) LR() float64 { return o.lr }

// SetLR sets the learning rate.
func (o *SGD) SetLR(lr float64) { o.lr = lr }

// Step applies one SGD update.
func (o *SGD) Step(grads []*autograd.Var) error {
	if err := checkGrads("optim.SGD", o.params, grads); err != nil {
		return err
	}
	for i, p := range o.params {
		if grads[i] == nil {
			continue
		}
		w, g := p.Value(), grads[i].Value()
		wd := 0.0
		if o.WeightDecay != nil {
			wd = o.WeightDecay[i]
		}
		if o.Momentum != 0 && o.buf[i] == nil {
			o.buf[i] = tensor.ZerosLike(w)
		}
		if w.DType() == tensor.Float32 {
			sgdStep(w.F32(), g.F32(), bufData32(o.buf[i]), float32(o.lr), float32(o.Momentum), float32(wd), o.Nesterov, o.steps == 0)
		} else {
			sgdStep(w.F64(), g.F64(), bufData64(o.buf[i]), o.lr, o.Momentum, wd, o.Nesterov, o.steps == 0)
		}
	}
	o.steps++
	return nil
}

func bufData32(t *tensor.Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.F32()
}

func bufData64(t *tensor.Tensor) []float64 {
	if t == nil {
		return nil
	}
	return t.F64()
}

func sgdStep[T tensor.Float](w, g, buf []T, lr, mom, wd T, nesterov, first bool) {
	for j := range w {
		d := g[j] + wd*w[j]
		if buf != nil {
			if first {
				buf[j] = d
			} else {
				buf[j] = mom*buf[j] + d
			}
			if nesterov {
				d = d + mom*buf[j]
			} else {
				d = buf[j]
			}
		}
		w[j] -= lr * d
	}
}

// State returns the momentum buffers and step count.
func (o *SGD) State() map[string]*tensor.Tensor {
	s := map[string]*tensor.Tensor{"steps": tensor.Scalar(tensor.Float64, float64(o.steps))}
	for i, b := range o.buf {
		if b != nil {
			s[fmt.Sprintf("momentum.%d", i)] = b.Clone()
		}
	}
	return s
}

// LoadState restores buffers saved by State.
func (o *SGD) LoadState(s map[string]*tensor.Tensor) error {
	st, ok := s["steps"]
	if !ok {
		return fmt.Errorf("optim.SGD: state has no step count")
	}
	o.steps = int(st.Item())
	for i, p := range o.params {
		b, ok := s[fmt.Sprintf("momentum.%d", i)]
		if !ok {
			o.buf[i] = nil
			continue
		}
		if !tensor.SameShape(b.Shape(), p.Shape()) {
			return fmt.Errorf("optim.SGD: momentum %d has shape %v, parameter has %v", i, b.Shape(), p.Shape())
		}
		o.buf[i] = b.AsType(p.DType()).Clone()
	}
	return nil
}

// Adam is the Adam optimiser of torch.optim.Adam (coupled L2 weight decay
// added to the gradient) or, with Decoupled, torch.optim.AdamW.
type Adam struct {
	params       []*autograd.Var
	lr           float64
	Beta1, Beta2 float64
	Eps          float64
	WeightDecay  []float64 // per parameter; nil means none
	Decoupled    bool
	m, v         []*tensor.Tensor
	steps        int
}

// NewAdam returns Adam over params with PyTorch's defaults (betas 0.9,
// 0.999, eps 1e-8).
func NewAdam(params []*autograd.Var, lr float64) *Adam {
	o := &Adam{params: params, lr: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	o.m = make([]*tensor.Tensor, len(params))
	o.v = make([]*tensor.Tensor, len(params))
	for i, p := range params {
		o.m[i] = tensor.ZerosLike(p.Value())
		o.v[i] = tensor.ZerosLike(p.Value())
	}
	return o
}

// LR returns the learning rate.
func (o *Adam) LR() float64 { return o.lr }

// SetLR sets the learning rate.
func (o *Adam) SetLR(lr float64) { o.lr = lr }

// Step applies one Adam update.
func (o *Adam) Step(grads []*autograd.Var) error {
	if err := checkGrads("optim.Adam", o.params, grads); err != nil {
		return err
	}
	o.steps++
	bc1 := 1 - math.Pow(o.Beta1, float64(o.steps))
	bc2 := 1 - math.Pow(o.Beta2, float64(o.steps))
	for i, p := range o.params {
		if grads[i] == nil {
			continue
		}
		wd := 0.0
		if o.WeightDecay != nil {
			wd = o.WeightDecay[i]
		}
		w, g := p.Value(), grads[i].Value()
		if w.DType() == tensor.Float32 {
			adamStep(w.F32(), g.F32(), o.m[i].F32(), o.v[i].F32(), o.lr, o.Beta1, o.Beta2, o.Eps, wd, bc1, bc2, o.Decoupled)
		} else {
			adamStep(w.F64(), g.F64(), o.m[i].F64(), o.v[i].F64(), o.lr, o.Beta1, o.Beta2, o.Eps, wd, bc1, bc2, o.Decoupled)
		}
	}
	return nil
}

func adamStep[T tensor.Float](w, g, m, v []T, lr, b1, b2, eps, wd, bc1, bc2 float64, decoupled bool) {
	stepSize := lr / bc1
	sq := math.Sqrt(bc2)
	if w32, ok := any(w).([]float32); ok {
		adamStep32(w32, any(g).([]float32), any(m).([]float32), any(v).([]float32), lr, b1, b2, eps, wd, stepSize, sq, decoupled)
		return
	}
	tensor.ParallelFor(len(w), 1<<14, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			gj := float64(g[j])
			wj := float64(w[j])
			if decoupled {
				wj -= lr * wd * wj
			} else {
				gj += wd * wj
			}
			mj := b1*float64(m[j]) + (1-b1)*gj
			vj := b2*float64(v[j]) + (1-b2)*gj*gj
			m[j], v[j] = T(mj), T(vj)
			wj -= stepSize * mj / (math.Sqrt(vj)/sq + eps)
			w[j] = T(wj)
		}
	})
}

// adamStep32 is adamStep in float32 arithmetic, as PyTorch does it for
// float32 parameters (and about twice as fast as widening every element to
// float64 for the square root and the division): kernels.AdamStep32, whose
// vector paths give the bits of its Go loop, on every worker's share.
func adamStep32(w, g, m, v []float32, lr, b1, b2, eps, wd, stepSize, sq float64, decoupled bool) {
	c := kernels.AdamConsts{B1: float32(b1), OneMinusB1: float32(1 - b1), B2: float32(b2), OneMinusB2: float32(1 - b2),
		Eps: float32(eps), Step: float32(stepSize), SqrtBC2: float32(sq), Decay: float32(1 - lr*wd), WD: float32(wd)}
	if decoupled {
		c.Decoupled = 1
	}
	tensor.ParallelFor(len(w), 1<<14, func(lo, hi int) {
		kernels.AdamStep32(w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], &c)
	})
}

// State returns the moment estimates and step count.
func (o *Adam) State() map[string]*tensor.Tensor {
	s := map[string]*tensor.Tensor{"steps": tensor.Scalar(tensor.Float64, float64(o.steps))}
	for i := range o.params {
		s[fmt.Sprintf("exp_avg.%d", i)] = o.m[i].Clone()
		s[fmt.Sprintf("exp_avg_sq.%d", i)] = o.v[i].Clone()
	}
	return s
}

// LoadState restores buffers saved by State.
func (o *Adam) LoadState(s map[string]*tensor.Tensor) error {
	st, ok := s["steps"]
	if !ok {
		return fmt.Errorf("optim.Adam: state has no step count")
	}
	for i, p := range o.params {
		for _, k := range []string{"exp_avg", "exp_avg_sq"} {
			b, ok := s[fmt.Sprintf("%s.%d", k, i)]
			if !ok {
				return fmt.Errorf("optim.Adam: state has no %s for parameter %d", k, i)
			}
			if !tensor.SameShape(b.Shape(), p.Shape()) {
				return fmt.Errorf("optim.Adam: %s %d has shape %v, parameter has %v", k, i, b.Shape(), p.Shape())
			}
		}
	}
	o.steps = int(st.Item())
	for i, p := range o.params {
		o.m[i] = s[fmt.Sprintf("exp_avg.%d", i)].AsType(p.DType()).Clone()
		o.v[i] = s[fmt.Sprintf("exp_avg_sq.%d", i)].AsType(p.DType()).Clone()
	}
	return nil
}
