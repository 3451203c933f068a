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
