package attack

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestQuantize8(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	for _, eps := range []float64{0, 0.5 / 255, 0.03, 0.3} {
		x, adv := make([]float32, 500), make([]float32, 500)
		for i := range x {
			x[i] = float32(math.Round(r.Float64()*255) / 255) // clean PNG pixels
			adv[i] = float32(min(max(float64(x[i])+(2*r.Float64()-1)*eps, 0), 1))
		}
		q := Quantize8(adv, x, "linf", eps)
		for i, v := range q {
			if k := float64(v) * 255; math.Abs(k-math.Round(k)) > 1e-4 {
				t.Fatalf("eps %g: pixel %d = %g is not a multiple of 1/255", eps, i, v)
			}
			if d := math.Abs(float64(v - x[i])); d > eps+1e-6 {
				t.Fatalf("eps %g: pixel %d moved %g, beyond the budget", eps, i, d)
			}
			if math.Abs(float64(v-adv[i])) > 1.0/255+1e-6 {
				t.Fatalf("eps %g: pixel %d rounded from %g to %g", eps, i, adv[i], v)
			}
		}
	}
	// L2: plain rounding
	if q := Quantize8([]float32{0.1234}, []float32{0}, "l2", 0.01); math.Abs(float64(q[0])-31.0/255) > 1e-7 {
		t.Errorf("L2: %g, want 31/255", q[0])
	}
}
