package autograd

import (
	"github.com/arp-robustness/arp/tensor"
)

func sameDType(op string, a, b *Var) {
	if a.DType() != b.DType() {
		tensor.Panicf(op, "dtype mismatch: %v %v and %v %v", a.DType(), a.Shape(), b.DType(), b.Shape())
	}
}

func broadcastCheck(op string, a, b *Var) {
	sameDType(op, a, b)
	if _, ok := tensor.BroadcastShapes(a.Shape(), b.Shape()); !ok {
		tensor.Panicf(op, "shapes %v and %v are not broadcastable", a.Shape(), b.Shape())
	}
}

// sumTo reduces a broadcast gradient back to shape (identity when equal).
func sumTo(g *Var, shape []int) *Var {
	if g == nil || tensor.SameShape(g.Shape(), shape) {
		return g
	}
	return SumTo(g, shape...)
}

// Add returns a+b with NumPy broadcasting.
func Add(a, b *Var) *Var {
	broadcastCheck("autograd.Add", a, b)
	return record("Add", tensor.Add(a.val, b.val), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		g := make([]*Var, 2)
		if needs[0] {
			g[0] = sumTo(gy, in[0].Shape())
		}
		if needs[1] {
			g[1] = sumTo(gy, in[1].Shape())
		}
		return g
	}, a, b)
}

// Sub returns a-b with broadcasting.
func Sub(a, b *Var) *Var {
	broadcastCheck("autograd.Sub", a, b)
	return record("Sub", tensor.Sub(a.val, b.val), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		g := make([]*Var, 2)
		if needs[0] {
			g[0] = sumTo(gy, in[0].Shape())
		}
		if needs[1] {
			g[1] = sumTo(Neg(gy), in[1].Shape())
		}
		return g
	}, a, b)
}

// Mul returns a*b elementwise with broadcasting.
func Mul(a, b *Var) *Var {
	broadcastCheck("autograd.Mul", a, b)
	return record("Mul", tensor.Mul(a.val, b.val), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		g := make([]*Var, 2)
		if needs[0] {
			g[0] = sumTo(Mul(gy, in[1]), in[0].Shape())
		}
		if needs[1] {
			g[1] = sumTo(Mul(gy, in[0]), in[1].Shape())
		}
		return g
	}, a, b)
}

// Div returns a/b elementwise with broadcasting.
func Div(a, b *Var) *Var {
	broadcastCheck("autograd.Div", a, b)
	return record("Div", tensor.Div(a.val, b.val), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		g := make([]*Var, 2)
		if needs[0] {
			g[0] = sumTo(Div(gy, in[1]), in[0].Shape())
		}
		if needs[1] {
			// d(a/b)/db = -a/b^2 = -out/b
			g[1] = sumTo(Neg(Div(Mul(gy, out), in[1])), in[1].Shape())
		}
		return g
	}, a, b)
}

// Neg returns -x.
func Neg(x *Var) *Var { return Scale(x, -1) }

// Scale returns c*x for a constant c.
func Scale(x *Var, c float64) *Var {
	return record("Scale", tensor.Scale(x.val, c), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{Scale(gy, c)}
	}, x)
}

// AddScalar returns x+c for a constant c.
func AddScalar(x *Var, c float64) *Var {
	return record("AddScalar", tensor.AddScalar(x.val, c), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{gy}
	}, x)
}

// Exp returns e**x.
func Exp(x *Var) *Var {
	return record("Exp", tensor.Exp(x.val), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{Mul(gy, out)}
	}, x)
}

// Log returns the natural logarithm.
func Log(x *Var) *Var {
	return record("Log", tensor.Log(x.val), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{Div(gy, in[0])}
	}, x)
}

// Sqrt returns the square root.
func Sqrt(x *Var) *Var {
	return record("Sqrt", tensor.Sqrt(x.val), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{Div(gy, Scale(out, 2))}
	}, x)
}

// Pow returns x**p for a constant exponent p.
func Pow(x *Var, p float64) *Var {
	return record("Pow", tensor.Pow(x.val, p), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		if p == 1 {
			return []*Var{gy}
		}
		return []*Var{Mul(gy, Scale(Pow(in[0], p-1), p))}
	}, x)
}

// PowVar returns a**b elementwise with broadcasting (a > 0 where b varies).
func PowVar(a, b *Var) *Var {
	broadcastCheck("autograd.PowVar", a, b)
	return Exp(Mul(b, Log(a)))
}

// Square returns x*x.
func Square(x *Var) *Var { return Mul(x, x) }

// Abs returns |x|; its gradient at 0 is 0.
func Abs(x *Var) *Var {
	sign := tensor.Sign(x.val)
	return record("Abs", tensor.Abs(x.val), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{Mul(gy, Const(sign))}
	}, x)
}

// Sign returns -1, 0 or 1; its gradient is zero everywhere.
func Sign(x *Var) *Var { return constValue(tensor.Sign(x.val)) }

// Clamp limits x to [lo, hi]; the gradient is passed where lo <= x <= hi.
func Clamp(x *Var, lo, hi float64) *Var {
	if lo > hi {
		tensor.Panicf("autograd.Clamp", "lo %g > hi %g", lo, hi)
	}
	mask := tensor.RangeMask(x.val, lo, hi)
	return record("Clamp", tensor.Clamp(x.val, lo, hi), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{Mul(gy, Const(mask))}
	}, x)
}

// ClampVar limits x elementwise to [lo, hi] given as tensors broadcastable
// to x (used for projections onto eps-balls); gradient flows to x only.
func ClampVar(x *Var, lo, hi *tensor.Tensor) *Var {
	v := tensor.Minimum(tensor.Maximum(x.val, lo), hi)
	if !tensor.SameShape(v.Shape(), x.Shape()) {
		tensor.Panicf("autograd.ClampVar", "bounds %v, %v do not broadcast to %v", lo.Shape(), hi.Shape(), x.Shape())
	}
	// mask = 1 where lo <= x <= hi
	mask := tensor.Mul(tensor.Sub(tensor.Full(x.DType(), 1, x.Shape()...), tensor.Greater(lo, x.val)), tensor.Sub(tensor.Full(x.DType(), 1, x.Shape()...), tensor.Greater(x.val, hi)))
	return record("ClampVar", v, func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{Mul(gy, Const(mask))}
	}, x)
}

// Where returns a where cond is non-zero and b elsewhere (with
// broadcasting). cond is a constant tensor.
func Where(cond *tensor.Tensor, a, b *Var) *Var {
	broadcastCheck("autograd.Where", a, b)
	one := tensor.Scalar(cond.DType(), 1)
	c := tensor.Apply(cond, func(v float64) float64 {
		if v != 0 {
			return 1
		}
		return 0
	})
	c = c.AsType(a.DType())
	nc := tensor.Sub(one.AsType(a.DType()), c)
	return Add(Mul(a, Const(c)), Mul(b, Const(nc)))
}

// Relu returns max(x, 0); its gradient at 0 is 0.
func Relu(x *Var) *Var {
	// the mask is rebuilt from the output in the backward pass (out > 0
	// exactly where x > 0), so the forward pass keeps no extra tensor
	return record("Relu", tensor.Relu(x.val), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{reluGrad(gy, out.val)}
	}, x)
}

// AddRelu returns Relu(Add(a, b)) for a and b of one shape as one op (one
// pass, one tensor): the residual connection and ReLU that end a ResNet
// block. The backward pass is the composed one: ReLU's gradient, passed to
// both operands, so gradients of every order are the same.
func AddRelu(a, b *Var) *Var {
	sameDType("autograd.AddRelu", a, b)
	if !tensor.SameShape(a.Shape(), b.Shape()) {
		tensor.Panicf("autograd.AddRelu", "operands %v and %v differ in shape", a.Shape(), b.Shape())
	}
	return record("AddRelu", tensor.AddRelu(a.val, b.val), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		g := reluGrad(gy, out.val)
		return []*Var{nilUnless(needs[0], g), nilUnless(needs[1], g)}
	}, a, b)
}

// nilUnless returns g if need, else nil.
func nilUnless(need bool, g *Var) *Var {
	if need {
		return g
	}
	return nil
}

// reluGrad passes gy where the ReLU output y is positive. It is linear in
// gy, so its own gradient is the same selection; y is a constant of it.
func reluGrad(gy *Var, y *tensor.Tensor) *Var {
	return saving(record("ReluGrad", tensor.ReluGrad(gy.val, y), func(in []*Var, out, gz *Var, needs []bool) []*Var {
		return []*Var{reluGrad(gz, y)}
	}, gy), y)
}

// LeakyRelu returns x for x > 0 and slope*x otherwise.
func LeakyRelu(x *Var, slope float64) *Var {
	m := tensor.Apply(x.val, func(v float64) float64 {
		if v > 0 {
			return 1
		}
		return slope
	})
	return Mul(x, Const(m))
}

// Sigmoid returns 1/(1+e**-x).
func Sigmoid(x *Var) *Var {
	return record("Sigmoid", tensor.Sigmoid(x.val), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		// out*(1-out)
		return []*Var{Mul(gy, Mul(out, AddScalar(Neg(out), 1)))}
	}, x)
}

// Tanh returns tanh(x).
func Tanh(x *Var) *Var {
	return record("Tanh", tensor.Tanh(x.val), func(in []*Var, out, gy *Var, needs []bool) []*Var {
		return []*Var{Mul(gy, AddScalar(Neg(Mul(out, out)), 1))}
	}, x)
}
