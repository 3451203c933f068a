package kernels

import (
	"math/rand/v2"
	"testing"
)

// fewChannelGeom draws a stride-1 geometry with 1 to 3 input channels:
// odd sizes, 1x1 images, widths that are and are not multiples of the
// vector width, dilations, padding past the kernel's reach.
func fewChannelGeom(rng *rand.Rand) ConvGeom {
	for {
		g := ConvGeom{N: 1 + rng.IntN(3), C: 1 + rng.IntN(3), H: 1 + rng.IntN(20), W: 1 + rng.IntN(40),
			F: 1 + rng.IntN(40), KH: 1 + rng.IntN(6), KW: 1 + rng.IntN(6), SH: 1, SW: 1,
			DH: 1 + rng.IntN(2), DW: 1 + rng.IntN(2), PT: rng.IntN(5), PB: rng.IntN(5), PL: rng.IntN(5), PR: rng.IntN(5)}
		if rng.IntN(2) == 0 { // right padding to output rows of whole vectors
			ow := g.W + g.PL - (g.KW-1)*g.DW
			g.PR = (16 - ow%16) % 16
			if ow+g.PR <= 0 {
				g.PR += 16
			}
		}
		g.OH = g.H + g.PT + g.PB - (g.KH-1)*g.DH
		g.OW = g.W + g.PL + g.PR - (g.KW-1)*g.DW
		if g.OH >= 1 && g.OW >= 1 && g.Check() == nil {
			return g
		}
	}
}

// TestFewChannelGrads holds the AVX-512 kernels of convolutions with few
// input channels (colsPlan's input gradient, dotPlan's weight gradient)
// to the naive references, by ConvInputGrad, ConvWeightGrad and
// ConvBackwardEach, on random geometries that take them (checked, so that
// the test cannot pass on another path), and CifarNet's conv1.
func TestFewChannelGrads(t *testing.T) {
	if !Supported(AVX512) {
		t.Skip("no AVX-512")
	}
	prev, workers := Current(), Workers()
	defer Use(prev)
	defer SetWorkers(workers)
	Use(AVX512)
	rng := rand.New(rand.NewPCG(31, 32))
	geoms := []ConvGeom{modelGeoms(3)[0], modelGeoms(2)[2]} // CifarNet's and the MNIST CNN's conv1
	for range 60 {
		geoms = append(geoms, fewChannelGeom(rng))
	}
	dots := 0 // geometries whose weight gradient takes dotPlan
	for i, g := range geoms {
		if !useCols[float32](g) {
			t.Fatalf("%+v does not take colsPlan", g)
		}
		SetWorkers(1 + i%3)
		x := randSlice[float32](rng, g.N*g.C*g.H*g.W)
		w := randSlice[float32](rng, g.F*g.ckk())
		gy := randSlice[float32](rng, g.N*g.F*g.ohw())
		wdx, _ := naiveConvGrads(g, x, w, gy)
		dx := randSlice[float32](rng, len(x))
		ConvInputGrad(g, gy, w, dx)
		closeTo(t, "input grad", g, dx, wdx, g.F*g.KH*g.KW)
		dx = randSlice[float32](rng, len(x))
		fo := g.F * g.ohw()
		ConvBackwardEach(g, x, w, func(n int, buf []float32) []float32 { return gy[n*fo : (n+1)*fo] }, dx, nil)
		closeTo(t, "each: input grad", g, dx, wdx, g.F*g.KH*g.KW)
		if !useDot[float32](g) {
			continue
		}
		dots++
		_, wdw := naiveConvGrads(g, x, w, gy)
		dw := randSlice[float32](rng, len(w))
		ConvWeightGrad(g, x, gy, dw)
		closeTo(t, "weight grad", g, dw, wdw, g.N*g.ohw())
		dw = randSlice[float32](rng, len(w))
		ConvBackwardEach(g, x, w, func(n int, buf []float32) []float32 { return gy[n*fo : (n+1)*fo] }, nil, dw)
		closeTo(t, "each: weight grad", g, dw, wdw, g.N*g.ohw())
	}
	t.Logf("%d of %d geometries took dotPlan", dots, len(geoms))
	if dots < 15 {
		t.Fatalf("only %d geometries took dotPlan", dots)
	}
}
