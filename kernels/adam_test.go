package kernels

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Every path must give the Go loop's bits.
func TestAdamStep32SameBitsEveryPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	for _, n := range []int{1, 7, 16, 17, 100, 1000} {
		for _, decoupled := range []int32{0, 1} {
			c := AdamConsts{B1: 0.9, OneMinusB1: float32(1 - 0.9), B2: 0.999, OneMinusB2: float32(1 - 0.999), Eps: 1e-8,
				Step: float32(1e-3 / (1 - math.Pow(0.9, 3))), SqrtBC2: float32(math.Sqrt(1 - math.Pow(0.999, 3))),
				Decay: float32(1 - 1e-3*0.01), WD: 0.004, Decoupled: decoupled}
			w0, g := randSlice[float32](rng, n), randSlice[float32](rng, n)
			m0, v0 := randSlice[float32](rng, n), randSlice[float32](rng, n)
			for i := range v0 {
				v0[i] = v0[i] * v0[i]
			}
			w0[0], g[n-1] = 0, 0
			ref := func() ([]float32, []float32, []float32) {
				w, m, v := slices.Clone(w0), slices.Clone(m0), slices.Clone(v0)
				adamGo(w, g, m, v, &c)
				return w, m, v
			}
			ww, wm, wv := ref()
			forEachPath(t, func(t *testing.T) {
				w, m, v := slices.Clone(w0), slices.Clone(m0), slices.Clone(v0)
				AdamStep32(w, g, m, v, &c)
				for i := range w {
					if math.Float32bits(w[i]) != math.Float32bits(ww[i]) || m[i] != wm[i] || v[i] != wv[i] {
						t.Fatalf("n=%d decoupled=%d element %d: w %v m %v v %v, want %v %v %v", n, decoupled, i, w[i], m[i], v[i], ww[i], wm[i], wv[i])
					}
				}
			})
		}
	}
}
