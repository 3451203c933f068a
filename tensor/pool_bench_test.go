package tensor

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkMaxPool(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct {
		name string
		k, s int
		h    int
		p    Conv2dParams
	}{
		{"2x2s2/32", 2, 2, 32, Conv2dParams{StrideH: 2, StrideW: 2}},
		{"3x3s2same/32", 3, 2, 32, Conv2dParams{StrideH: 2, StrideW: 2, PadBottom: 1, PadRight: 1}},
	} {
		x := randT(rng, Float32, 50, 64, c.h, c.h)
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				MaxPool2dIndices(x, c.k, c.k, c.p)
			}
		})
	}
}

func BenchmarkMaxPoolScatter(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := randT(rng, Float32, 50, 64, 32, 32)
	idx, shape := MaxPool2dIndices(x, 2, 2, Conv2dParams{StrideH: 2, StrideW: 2})
	g := randT(rng, Float32, shape...)
	b.Run("serial", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			ScatterAddFlat(g, idx, x.Shape()...)
		}
	})
	b.Run("blocks", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			ScatterAddFlatBlocks(g, idx, shape[2]*shape[3], x.Shape()...)
		}
	})
}

// CifarNet's LRN (radius 4) on conv1's pooled output at batch 50, and the
// ReLU gradient on conv1's output.
func BenchmarkLRNAndRelu(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := randT(rng, Float32, 50, 64, 16, 16)
	gy := randT(rng, Float32, 50, 64, 16, 16)
	b.Run("lrn-forward", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			LRN(x, 4, 1, 0.001/9, 0.75)
		}
	})
	b.Run("lrn-gradient", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			LRNGrad(x, gy, 4, 1, 0.001/9, 0.75)
		}
	})
	y := randT(rng, Float32, 50, 64, 32, 32)
	g := randT(rng, Float32, 50, 64, 32, 32)
	b.Run("relu-gradient", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			ReluGrad(g, y)
		}
	})
}

// BenchmarkAvgPool: Inception v3's branch pool (3x3, stride 1, padding 1,
// padding counted) on a Mixed_5 input at batch 4, the separable pool
// against the direct window loop, forward and adjoint.
func BenchmarkAvgPool(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	p := Conv2dParams{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	x := randT(rng, Float32, 4, 288, 35, 35)
	g, oshape := PoolOutShape("bench", x.Shape(), 3, 3, p)
	y := Zeros(Float32, oshape...)
	b.SetBytes(int64(4 * (x.Size() + y.Size())))
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"separable", func() { avgPoolSeparable(x.f32, y.f32, g, true, false) }},
		{"direct", func() { clear(y.f32); avgPool(x.f32, y.f32, g, true, false) }},
		{"separable-adjoint", func() { avgPoolSeparable(x.f32, y.f32, g, true, true) }},
		{"direct-adjoint", func() { clear(x.f32); avgPool(x.f32, y.f32, g, true, true) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				c.f()
			}
		})
	}
}
