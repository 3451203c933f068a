package tensor

import (
	"math"

	"github.com/arp-robustness/arp/kernels"
)

const elemGrain = 1 << 15

// Apply returns f applied to every element of x (computed in float64).
func Apply(x *Tensor, f func(float64) float64) *Tensor {
	out := newOut(x.dtype, x.shape...) // every element is written
	if x.dtype == Float32 {
		xs, os := x.f32, out.f32
		ParallelFor(len(xs), elemGrain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				os[i] = float32(f(float64(xs[i])))
			}
		})
	} else {
		xs, os := x.f64, out.f64
		ParallelFor(len(xs), elemGrain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				os[i] = f(xs[i])
			}
		})
	}
	return out
}

// Exp returns e**x elementwise.
func Exp(x *Tensor) *Tensor { return Apply(x, math.Exp) }

// Log returns the natural logarithm elementwise.
func Log(x *Tensor) *Tensor { return Apply(x, math.Log) }

// Sqrt returns the square root elementwise.
func Sqrt(x *Tensor) *Tensor { return Apply(x, math.Sqrt) }

// Abs returns |x| elementwise.
func Abs(x *Tensor) *Tensor { return Apply(x, math.Abs) }

// Sign returns -1, 0 or 1 elementwise.
func Sign(x *Tensor) *Tensor {
	return Apply(x, func(v float64) float64 {
		switch {
		case v > 0:
			return 1
		case v < 0:
			return -1
		}
		return 0
	})
}

// Sigmoid returns 1/(1+e**-x) elementwise.
func Sigmoid(x *Tensor) *Tensor {
	return Apply(x, func(v float64) float64 {
		if v >= 0 {
			return 1 / (1 + math.Exp(-v))
		}
		e := math.Exp(v)
		return e / (1 + e)
	})
}

// Tanh returns tanh(x) elementwise.
func Tanh(x *Tensor) *Tensor { return Apply(x, math.Tanh) }

// Pow returns x**p elementwise.
func Pow(x *Tensor, p float64) *Tensor {
	switch p {
	case 1:
		return x.Clone()
	case 2:
		return Mul(x, x)
	case 0.5:
		return Sqrt(x)
	}
	// quarter powers (LRN's 0.75 and its derivative's -0.25) through square
	// roots: several times faster than math.Pow
	if q := p * 4; q == math.Trunc(q) && math.Abs(q) <= 16 {
		k := int(q)
		return Apply(x, func(v float64) float64 {
			if v < 0 {
				return math.Pow(v, p)
			}
			r := math.Sqrt(math.Sqrt(v))
			neg := k < 0
			n := k
			if neg {
				n = -n
			}
			out := 1.0
			for i := 0; i < n; i++ {
				out *= r
			}
			if neg {
				return 1 / out
			}
			return out
		})
	}
	return Apply(x, func(v float64) float64 { return math.Pow(v, p) })
}

// Relu returns max(x, 0) elementwise.
func Relu(x *Tensor) *Tensor {
	if x.dtype == Float32 {
		out := newOut(x.dtype, x.shape...) // every element is written
		xs, os := x.f32, out.f32
		ParallelFor(len(xs), elemGrain, func(lo, hi int) {
			xs, os := xs[lo:hi], os[lo:hi]
			for i, v := range xs {
				// branch-free: clear every bit when the sign bit is set
				b := math.Float32bits(v)
				os[i] = math.Float32frombits(b &^ uint32(int32(b)>>31))
			}
		})
		return out
	}
	out := ZerosLike(x)
	for i, v := range x.f64 {
		if v > 0 {
			out.f64[i] = v
		}
	}
	return out
}

// AddRelu returns max(a+b, 0) elementwise for a and b of one shape, in
// one pass (a residual connection followed by its ReLU). The result is
// Relu(Add(a, b))'s, bit for bit.
func AddRelu(a, b *Tensor) *Tensor {
	sameDType("tensor.AddRelu", a, b)
	if !SameShape(a.shape, b.shape) {
		Panicf("tensor.AddRelu", "operands %v and %v differ in shape", a.shape, b.shape)
	}
	if a.dtype == Float32 {
		out := newOut(a.dtype, a.shape...) // every element is written
		as, bs, os := a.f32, b.f32, out.f32
		ParallelFor(len(as), elemGrain, func(lo, hi int) {
			as, bs, os := as[lo:hi], bs[lo:hi], os[lo:hi]
			done := kernels.AddRelu32(as, bs, os) // the vector kernel's share
			as, bs, os = as[done:], bs[done:], os[done:]
			for i, v := range as {
				bits := math.Float32bits(v + bs[i])
				os[i] = math.Float32frombits(bits &^ uint32(int32(bits)>>31))
			}
		})
		return out
	}
	out := ZerosLike(a)
	for i, v := range a.f64 {
		if s := v + b.f64[i]; s > 0 {
			out.f64[i] = s
		}
	}
	return out
}

// ReluGrad returns gy where y > 0 and 0 elsewhere (also where gy is NaN):
// the gradient of a ReLU given its output y, in one pass.
func ReluGrad(gy, y *Tensor) *Tensor {
	sameDType("tensor.ReluGrad", gy, y)
	if !SameShape(gy.shape, y.shape) {
		Panicf("tensor.ReluGrad", "gradient %v does not match output %v", gy.shape, y.shape)
	}
	if gy.dtype == Float32 {
		out := newOut(gy.dtype, gy.shape...) // every element is written
		gs, ys, os := gy.f32, y.f32, out.f32
		ParallelFor(len(gs), elemGrain, func(lo, hi int) {
			gs, ys, os := gs[lo:hi], ys[lo:hi], os[lo:hi]
			done := kernels.ReluGrad32(gs, ys, os) // the vector kernel's share
			gs, ys, os = gs[done:], ys[done:], os[done:]
			for i, v := range ys {
				// all ones for positive values (sign bit clear and not zero), branch-free
				b := math.Float32bits(v)
				keep := -((uint32(int32(b)>>31) ^ 1) & 1 & ((b | -b) >> 31))
				os[i] = math.Float32frombits(math.Float32bits(gs[i]) & keep)
			}
		})
		return out
	}
	out := ZerosLike(gy)
	for i, v := range y.f64 {
		if v > 0 {
			out.f64[i] = gy.f64[i]
		}
	}
	return out
}

// PositiveMask returns 1 where x > 0 and 0 elsewhere.
func PositiveMask(x *Tensor) *Tensor {
	if x.dtype == Float32 {
		out := ZerosLike(x)
		xs, os := x.f32, out.f32
		ParallelFor(len(xs), elemGrain, func(lo, hi int) {
			xs, os := xs[lo:hi], os[lo:hi]
			for i, v := range xs {
				// 1 for positive values (sign bit clear and not zero), branch-free
				b := math.Float32bits(v)
				pos := (uint32(int32(b)>>31) ^ 1) & 1 & ((b | -b) >> 31)
				os[i] = float32(pos)
			}
		})
		return out
	}
	return Apply(x, func(v float64) float64 {
		if v > 0 {
			return 1
		}
		return 0
	})
}

// RangeMask returns 1 where lo <= x <= hi and 0 elsewhere.
func RangeMask(x *Tensor, lo, hi float64) *Tensor {
	return Apply(x, func(v float64) float64 {
		if v >= lo && v <= hi {
			return 1
		}
		return 0
	})
}

// Clamp limits x to [lo, hi] elementwise.
func Clamp(x *Tensor, lo, hi float64) *Tensor {
	return Apply(x, func(v float64) float64 { return math.Min(math.Max(v, lo), hi) })
}

// Scale returns c*x.
func Scale(x *Tensor, c float64) *Tensor {
	out := newOut(x.dtype, x.shape...) // every element is written
	if x.dtype == Float32 {
		cf := [1]float32{float32(c)}
		xs, os := x.f32, out.f32
		ParallelFor(len(xs), elemGrain, func(lo, hi int) {
			// whole vectors in assembly (AVX-512, the same bits), the rest here
			lo += kernels.Binary32(kernels.BinMul, cf[:], 0, xs[lo:hi], 1, os[lo:hi])
			for i := lo; i < hi; i++ {
				os[i] = cf[0] * xs[i]
			}
		})
	} else {
		for i, v := range x.f64 {
			out.f64[i] = c * v
		}
	}
	return out
}

// AddScalar returns x+c.
func AddScalar(x *Tensor, c float64) *Tensor {
	out := newOut(x.dtype, x.shape...) // every element is written
	if x.dtype == Float32 {
		cf := float32(c)
		for i, v := range x.f32 {
			out.f32[i] = v + cf
		}
	} else {
		for i, v := range x.f64 {
			out.f64[i] = v + c
		}
	}
	return out
}

// AddInPlace adds src (same dtype and size) into t elementwise.
func (t *Tensor) AddInPlace(src *Tensor) {
	sameDType("tensor.AddInPlace", t, src)
	if t.Size() != src.Size() {
		Panicf("tensor.AddInPlace", "shapes %v and %v differ in size", t.shape, src.shape)
	}
	if t.dtype == Float32 {
		for i, v := range src.f32 {
			t.f32[i] += v
		}
	} else {
		for i, v := range src.f64 {
			t.f64[i] += v
		}
	}
}

// Sum returns the sum of all elements (accumulated in float64).
func (t *Tensor) Sum() float64 {
	s := 0.0
	if t.dtype == Float32 {
		for _, v := range t.f32 {
			s += float64(v)
		}
	} else {
		for _, v := range t.f64 {
			s += v
		}
	}
	return s
}

// MaxAbsDiff returns the largest |a-b| over all elements.
func MaxAbsDiff(a, b *Tensor) float64 {
	if a.Size() != b.Size() {
		Panicf("tensor.MaxAbsDiff", "shapes %v and %v differ in size", a.shape, b.shape)
	}
	m := 0.0
	for i := 0; i < a.Size(); i++ {
		d := math.Abs(a.AtFlat(i) - b.AtFlat(i))
		if d > m || math.IsNaN(d) {
			m = d
		}
	}
	return m
}
