package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkPadImage times copying one image into its zero-padded buffer
// (the forward pass and both gradients of a convolution do it per image)
// for CifarNet's two convolution inputs and conv1's output gradient.
func BenchmarkPadImage(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, g := range []ConvGeom{modelGeoms(1)[0], modelGeoms(1)[1], {N: 1, C: 64, H: 32, W: 32, PT: 2, PB: 2, PL: 2, PR: 2}} {
		x := randSlice[float32](rng, g.C*g.H*g.W)
		xp := make([]float32, g.C*g.hp()*g.wp()+16)
		b.Run(fmt.Sprintf("C%d_%dx%d", g.C, g.H, g.W), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				padImage(g, x, xp, 16)
			}
		})
	}
}
