package tensor

import (
	"math/rand/v2"
	"testing"
)

// benchConvShape times one pass of a 5x5 SAME convolution with 64 filters
// of [50,c,hw,hw] images and reports GFLOP/s.
func benchConvShape(b *testing.B, which string, c, hw int) {
	rng := rand.New(rand.NewPCG(1, 1))
	x, w := randT(rng, Float32, 50, c, hw, hw), randT(rng, Float32, 64, c, 5, 5)
	p := Conv2dParams{PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2}
	gy := randT(rng, Float32, 50, 64, hw, hw)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		switch which {
		case "forward":
			Conv2d(x, w, p)
		case "input":
			Conv2dInputGrad(gy, w, x.Shape(), p)
		case "weight":
			Conv2dWeightGrad(x, gy, w.Shape(), p)
		}
	}
	b.ReportMetric(2*50*float64(hw*hw*64*c*25*b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// CifarNet's conv2 at batch 50: [50,64,16,16] * [64,64,5,5], SAME padding.
func BenchmarkConv2(b *testing.B) {
	for _, which := range []string{"forward", "input", "weight"} {
		b.Run(which, func(b *testing.B) { benchConvShape(b, which, 64, 16) })
	}
}

// CifarNet's conv1 at batch 50: [50,3,32,32] * [64,3,5,5], SAME padding.
func BenchmarkConv1(b *testing.B) {
	for _, which := range []string{"forward", "input", "weight"} {
		b.Run(which, func(b *testing.B) { benchConvShape(b, which, 3, 32) })
	}
}

// BenchmarkConvReluPoolGrads times the fused backward of CifarNet's
// conv+ReLU+2x2 max-pool layers at batch 50 (Conv2dBiasReluMaxPoolGrads):
// the input gradient alone (an attack's pass; conv1 makes the image
// gradient), the weight and bias gradients alone (conv1 in training) and
// all three (conv2 in training).
func BenchmarkConvReluPoolGrads(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	p := Conv2dParams{PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2}
	pp := Conv2dParams{StrideH: 2, StrideW: 2}
	for _, l := range []struct {
		name  string
		c, hw int
	}{{"conv1", 3, 32}, {"conv2", 64, 16}} {
		x, w, bias := randT(rng, Float32, 50, l.c, l.hw, l.hw), randT(rng, Float32, 64, l.c, 5, 5), randT(rng, Float32, 64)
		y, idx, zs := Conv2dBiasReluMaxPool(x, w, bias, p, 2, 2, pp)
		gy := randT(rng, Float32, y.Shape()...)
		for _, need := range []struct {
			name    string
			x, w, b bool
		}{{"input", true, false, false}, {"weight", false, true, true}, {"all", true, true, true}} {
			b.Run(l.name+"/"+need.name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					Conv2dBiasReluMaxPoolGrads(x, w, gy, y, idx, p, zs, need.x, need.w, need.b)
				}
			})
		}
	}
}
