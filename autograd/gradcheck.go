package autograd

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/arp-robustness/arp/tensor"
)

// CheckOptions sets the finite-difference step and tolerances of CheckGrad
// and CheckGradGrad. Zero values mean Eps 1e-6, Atol 1e-5, Rtol 1e-4.
type CheckOptions struct {
	Eps, Atol, Rtol float64
	Seed            uint64
}

func (o CheckOptions) norm() CheckOptions {
	if o.Eps == 0 {
		o.Eps = 1e-6
	}
	if o.Atol == 0 {
		o.Atol = 1e-5
	}
	if o.Rtol == 0 {
		o.Rtol = 1e-4
	}
	return o
}

// Func is a differentiable function of several variables, as checked by
// CheckGrad.
type Func func(xs []*Var) *Var

// CheckGrad compares the gradient computed by Grad with central finite
// differences for L(x) = sum(r * f(x)), r a fixed random weighting of f's
// output. Inputs must be float64. It returns an error describing the first
// elements that disagree.
func CheckGrad(f Func, inputs []*tensor.Tensor, opt CheckOptions) error {
	opt = opt.norm()
	rng := rand.New(rand.NewPCG(opt.Seed, 17))
	for i, in := range inputs {
		if in.DType() != tensor.Float64 {
			return fmt.Errorf("CheckGrad: input %d is %v, want float64", i, in.DType())
		}
	}
	vars := make([]*Var, len(inputs))
	for i, in := range inputs {
		vars[i] = Param(in.Clone())
	}
	out := f(vars)
	r := tensor.Zeros(tensor.Float64, out.Shape()...)
	for i := 0; i < r.Size(); i++ {
		r.SetFlat(i, rng.Float64()*2-1)
	}
	loss := func(xs []*Var) *Var { return SumAll(Mul(f(xs), Const(r))) }
	l := loss(vars)
	if !l.RequiresGrad() {
		return fmt.Errorf("CheckGrad: output does not depend on the inputs")
	}
	grads, err := Grad([]*Var{l}, nil, vars, false)
	if err != nil {
		return err
	}
	eval := func() float64 { return loss(vars).Item() }
	var errs []string
	for i, v := range vars {
		x := v.Value()
		for j := 0; j < x.Size(); j++ {
			orig := x.AtFlat(j)
			x.SetFlat(j, orig+opt.Eps)
			lp := eval()
			x.SetFlat(j, orig-opt.Eps)
			lm := eval()
			x.SetFlat(j, orig)
			num := (lp - lm) / (2 * opt.Eps)
			ana := grads[i].Value().AtFlat(j)
			if math.IsNaN(ana) || math.Abs(ana-num) > opt.Atol+opt.Rtol*math.Abs(num) {
				if len(errs) < 5 {
					errs = append(errs, fmt.Sprintf("input %d element %d: analytic %.8g, numeric %.8g", i, j, ana, num))
				} else {
					errs = append(errs, "...")
					return fmt.Errorf("gradient mismatch: %v", errs)
				}
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("gradient mismatch: %v", errs)
	}
	return nil
}

// CheckGradGrad checks second-order gradients: it applies CheckGrad to
// G(x, v) = sum_i sum(r_i * dL/dx_i) with L = sum(v * f(x)), where the inner
// gradient is taken with createGraph. This checks the backward of every
// op's backward with respect to both the inputs and the output gradient v.
func CheckGradGrad(f Func, inputs []*tensor.Tensor, opt CheckOptions) error {
	opt = opt.norm()
	rng := rand.New(rand.NewPCG(opt.Seed, 29))
	probe := make([]*Var, len(inputs))
	for i, in := range inputs {
		probe[i] = Param(in.Clone())
	}
	oshape := f(probe).Shape()
	rs := make([]*tensor.Tensor, len(inputs))
	for i, in := range inputs {
		rs[i] = tensor.Zeros(tensor.Float64, in.Shape()...)
		for j := 0; j < rs[i].Size(); j++ {
			rs[i].SetFlat(j, rng.Float64()*2-1)
		}
	}
	v0 := tensor.Zeros(tensor.Float64, oshape...)
	for j := 0; j < v0.Size(); j++ {
		v0.SetFlat(j, rng.Float64()*2-1)
	}
	n := len(inputs)
	g := func(all []*Var) *Var {
		xs, v := all[:n], all[n]
		l := SumAll(Mul(f(xs), v))
		gs, err := Grad([]*Var{l}, nil, xs, true)
		if err != nil {
			panic(err)
		}
		var total *Var
		for i, gi := range gs {
			t := SumAll(Mul(gi, Const(rs[i])))
			if total == nil {
				total = t
			} else {
				total = Add(total, t)
			}
		}
		return total
	}
	all := append(append([]*tensor.Tensor(nil), inputs...), v0)
	if err := CheckGrad(g, all, opt); err != nil {
		return fmt.Errorf("second order: %w", err)
	}
	return nil
}
