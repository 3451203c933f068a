package attack

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/arp-robustness/arp/tensor"
)

// TestSignStepsMatchComposedOps holds the branch-free sign steps to the
// operations they stand for, bit for bit, with gradients that include
// zeros of both signs, NaNs, infinities and subnormals, pixels at and
// beyond the range's ends (-0 included), and steps of both signs and 0:
// signStep to Clamp(x + step*Sign(g), 0, 1) and the iterative attacks'
// stepSign to x + alpha where g > 0, x - alpha where g < 0.
func TestSignStepsMatchComposedOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)),
		float32(math.Inf(-1)), 1e-42, -1e-42, 1, -1}
	n := 4099
	x, g := tensor.Zeros(tensor.Float32, n), tensor.Zeros(tensor.Float32, n)
	for i := 0; i < n; i++ {
		x.F32()[i] = float32(rng.Float64()*1.4 - 0.2)
		g.F32()[i] = float32(rng.NormFloat64())
		if rng.IntN(4) == 0 {
			g.F32()[i] = special[rng.IntN(len(special))]
		}
		if rng.IntN(8) == 0 {
			x.F32()[i] = special[rng.IntN(len(special))]
		}
	}
	same := func(a, b float32) bool {
		return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b
	}
	for _, step := range []float64{0.075, 8.0 / 255, 0, -0.03} {
		got := signStep(x, g, step).F32()
		want := tensor.Clamp(tensor.Add(x, tensor.Scale(tensor.Sign(g), step)), 0, 1).F32()
		for i := range want {
			if !same(got[i], want[i]) {
				t.Fatalf("signStep, step %g: x %v g %v: %v, want %v", step, x.F32()[i], g.F32()[i], got[i], want[i])
			}
		}
		xt := x.Float32s()
		stepSign(step)(xt, g.F32(), nil, 0)
		a := float32(step)
		for i, v := range x.F32() {
			w := v
			if gv := g.F32()[i]; gv > 0 {
				w += a
			} else if gv < 0 {
				w -= a
			}
			if !same(xt[i], w) {
				t.Fatalf("stepSign, alpha %g: x %v g %v: %v, want %v", step, v, g.F32()[i], xt[i], w)
			}
		}
	}
}

// TestProjectLinfMatchesBranches holds the branch-free L-inf projection
// to the comparisons it replaces (v < lo: lo; v > hi: hi; then [0,1]),
// bit for bit, with iterates that include NaNs, infinities and zeros of
// both signs, clean pixels in [0,1] (as attacks check) and budgets 0,
// positive, infinite and negative (no ball).
func TestProjectLinfMatchesBranches(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)),
		float32(math.Inf(-1)), 1e-42, 1, 1.5, -0.5}
	n := 3001
	x0, xt := make([]float32, n), make([]float32, n)
	for i := range xt {
		x0[i] = float32(rng.Float64())
		if rng.IntN(10) == 0 {
			x0[i] = []float32{0, 1}[rng.IntN(2)]
		}
		xt[i] = x0[i] + float32(rng.NormFloat64()*0.05)
		if rng.IntN(6) == 0 {
			xt[i] = special[rng.IntN(len(special))]
		}
	}
	for _, eps := range []float64{0.03, 0, math.Inf(1), -1} {
		got := append([]float32(nil), xt...)
		projectLinf(got, x0, eps)
		e := float32(eps)
		for i, v := range xt {
			if eps >= 0 {
				if lo := x0[i] - e; v < lo {
					v = lo
				}
				if hi := x0[i] + e; v > hi {
					v = hi
				}
			}
			if v <= 0 {
				v = 0
			} else if v > 1 {
				v = 1
			}
			if math.Float32bits(got[i]) != math.Float32bits(v) && !(v != v && got[i] != got[i]) {
				t.Fatalf("eps %g: x0 %v xt %v: %v, want %v", eps, x0[i], xt[i], got[i], v)
			}
		}
	}
}
