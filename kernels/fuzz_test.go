package kernels

import (
	"math/rand/v2"
	"testing"
)

// FuzzConv holds the convolution kernels of every path (forward with bias
// and ReLU, input gradient, weight gradient; float32 and float64) to the
// naive references on geometries the fuzzer chooses: image sides up to 36,
// kernel sides up to 7, strides and dilations up to 3, padding up to 4 on
// each side, up to 40 input and output channels (multiples of the vector
// width and not), on 1 to 3 workers. The seeds are CifarNet's conv1 and a
// slice of its conv2, 1x1 images, a 1x1 kernel with stride 2 and a 1x7
// kernel. (TestConvAgainstNaive runs the models' full shapes.)
func FuzzConv(f *testing.F) {
	f.Add(uint8(1), uint8(3), uint8(32), uint8(32), uint8(40), uint8(5), uint8(5), uint8(1), uint8(1), uint8(1), uint8(1), uint8(2), uint8(2), uint8(2), uint8(2), uint8(2), uint64(1))
	f.Add(uint8(1), uint8(32), uint8(16), uint8(16), uint8(16), uint8(5), uint8(5), uint8(1), uint8(1), uint8(1), uint8(1), uint8(2), uint8(2), uint8(2), uint8(2), uint8(1), uint64(2))
	f.Add(uint8(3), uint8(5), uint8(1), uint8(1), uint8(7), uint8(1), uint8(1), uint8(1), uint8(1), uint8(1), uint8(1), uint8(0), uint8(0), uint8(0), uint8(0), uint8(3), uint64(3))
	f.Add(uint8(1), uint8(17), uint8(9), uint8(11), uint8(33), uint8(1), uint8(1), uint8(2), uint8(2), uint8(1), uint8(1), uint8(0), uint8(0), uint8(0), uint8(0), uint8(2), uint64(4))
	f.Add(uint8(2), uint8(24), uint8(9), uint8(9), uint8(20), uint8(1), uint8(7), uint8(1), uint8(1), uint8(1), uint8(1), uint8(0), uint8(0), uint8(3), uint8(3), uint8(1), uint64(5))
	f.Fuzz(func(t *testing.T, n, c, h, w, fo, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, workers uint8, seed uint64) {
		g := ConvGeom{N: 1 + int(n)%3, C: 1 + int(c)%40, H: 1 + int(h)%36, W: 1 + int(w)%36, F: 1 + int(fo)%40,
			KH: 1 + int(kh)%7, KW: 1 + int(kw)%7, SH: 1 + int(sh)%3, SW: 1 + int(sw)%3, DH: 1 + int(dh)%3, DW: 1 + int(dw)%3,
			PT: int(pt) % 5, PB: int(pb) % 5, PL: int(pl) % 5, PR: int(pr) % 5}
		eh, ew := (g.KH-1)*g.DH+1, (g.KW-1)*g.DW+1
		if g.H+g.PT+g.PB < eh || g.W+g.PL+g.PR < ew {
			t.Skip("kernel larger than the padded image")
		}
		g.OH, g.OW = (g.H+g.PT+g.PB-eh)/g.SH+1, (g.W+g.PL+g.PR-ew)/g.SW+1
		if err := g.Check(); err != nil {
			t.Skip(err)
		}
		prev := Workers()
		SetWorkers(1 + int(workers)%3)
		defer SetWorkers(prev)
		forEachPath(t, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 9))
			testConv[float32](t, rng, g)
			testConv[float64](t, rng, g)
		})
	})
}

// FuzzGemm holds Gemm of every path to the naive product on sizes the
// fuzzer chooses (up to 300, past a kc block), both transposes, alpha and
// beta among 1, -0.5, 0 and 0.25, padded row strides, 1 to 3 workers.
func FuzzGemm(f *testing.F) {
	f.Add(uint16(50), uint16(384), uint16(300), uint8(0), uint8(0), uint8(1), uint64(1))
	f.Add(uint16(1), uint16(1), uint16(1), uint8(3), uint8(5), uint8(0), uint64(2))
	f.Add(uint16(17), uint16(65), uint16(129), uint8(1), uint8(2), uint8(2), uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k uint16, trans, ab, workers uint8, seed uint64) {
		tA, tB := trans&1 != 0, trans&2 != 0
		alpha := []float64{1, -0.5, 0.25}[int(ab)%3]
		beta := []float64{0, 1, 0.25}[int(ab)/3%3]
		mm, nn, kk := 1+int(m)%300, 1+int(n)%300, int(k)%300
		forEachPath(t, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 10))
			w := 1 + int(workers)%3
			checkGemm(t, rng, w, tA, tB, mm, nn, kk, float32(alpha), float32(beta))
			checkGemm(t, rng, w, tA, tB, mm, nn, kk, alpha, beta)
		})
	})
}
