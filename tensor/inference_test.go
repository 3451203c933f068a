package tensor

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/arp-robustness/arp/kernels"
)

// sameBits reports whether a and b hold the same values bit for bit.
func sameBits(a, b *Tensor) bool {
	if !SameShape(a.shape, b.shape) || a.dtype != b.dtype {
		return false
	}
	if a.dtype == Float32 {
		for i := range a.f32 {
			if math.Float32bits(a.f32[i]) != math.Float32bits(b.f32[i]) {
				return false
			}
		}
		return true
	}
	for i := range a.f64 {
		if math.Float64bits(a.f64[i]) != math.Float64bits(b.f64[i]) {
			return false
		}
	}
	return true
}

// forEachKernelPath runs fn on every kernel path the CPU supports, with 1
// and 2 workers.
func forEachKernelPath(t *testing.T, fn func(t *testing.T)) {
	oldWorkers, oldPath := Workers(), kernels.Current()
	defer func() { SetWorkers(oldWorkers); kernels.Use(oldPath) }()
	for _, path := range []kernels.Path{kernels.AVX512, kernels.AVX2, kernels.Go} {
		if !kernels.Supported(path) {
			continue
		}
		kernels.Use(path)
		for _, workers := range []int{1, 2} {
			SetWorkers(workers)
			t.Run(path.String(), fn)
		}
	}
}

// MaxPool2dValues must give MaxPool2d's values bit for bit: random
// values, many ties, -0/+0, infinities and NaNs (the picked NaN's bits),
// 2x2 windows at stride 2 (the vector kernel; odd sizes, 1x1 and 2x2
// images, rows of full vector blocks and masked tails, row strides other
// than 2) and other windows (padding, stride 1, 3x3), float32 and float64.
func TestMaxPool2dValuesMatchesMaxPool2d(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), float32(math.Float32frombits(0xffc00001))}
	cases := []struct {
		k, sh, sw int
		p         Conv2dParams
		n, c      int
		h, w      int
	}{
		{2, 2, 2, Conv2dParams{}, 3, 16, 28, 28}, // mnist-small's pools
		{2, 2, 2, Conv2dParams{}, 3, 32, 14, 14},
		{2, 2, 2, Conv2dParams{}, 2, 5, 32, 32}, // CifarNet's
		{2, 2, 2, Conv2dParams{}, 2, 5, 16, 16},
		{2, 2, 2, Conv2dParams{}, 2, 3, 9, 11}, // odd: last row and column unused
		{2, 2, 2, Conv2dParams{}, 2, 3, 2, 2},
		{2, 2, 2, Conv2dParams{}, 1, 2, 5, 70}, // full blocks and a tail
		{2, 3, 2, Conv2dParams{}, 2, 3, 8, 8},  // row stride 3
		{2, 1, 2, Conv2dParams{}, 2, 3, 5, 6},  // row stride 1: windows overlap
		{1, 1, 1, Conv2dParams{}, 2, 3, 1, 1},  // 1x1 image and window
		{2, 2, 2, Conv2dParams{PadBottom: 1, PadRight: 1}, 2, 3, 7, 7},
		{3, 2, 2, Conv2dParams{PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}, 2, 3, 9, 9},
		{3, 1, 1, Conv2dParams{}, 2, 3, 6, 6},
	}
	forEachKernelPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(31, 31))
		for ci, c := range cases {
			for choice := 0; choice < 3; choice++ {
				p := c.p
				p.StrideH, p.StrideW = c.sh, c.sw
				n := c.n * c.c * c.h * c.w
				v32 := make([]float32, n)
				for i := range v32 {
					switch choice {
					case 0:
						v32[i] = rng.Float32()*2 - 1
					case 1:
						v32[i] = float32(rng.IntN(3))
					default:
						v32[i] = special[rng.IntN(len(special))]
					}
				}
				for _, x := range []*Tensor{FromFloat32(v32, c.n, c.c, c.h, c.w), FromFloat32(v32, c.n, c.c, c.h, c.w).AsType(Float64)} {
					want, _ := MaxPool2d(x, c.k, c.k, p)
					if got := MaxPool2dValues(x, c.k, c.k, p); !sameBits(got, want) {
						t.Fatalf("case %d (%+v), values %d, %v: MaxPool2dValues differs from MaxPool2d's values", ci, c, choice, x.dtype)
					}
				}
			}
		}
	})
}

// The fused convolution + ReLU + max-pool without indices must give the
// values of the one with indices bit for bit, on both of its routes
// (per-image pooling with enough images, a scratch output otherwise).
func TestConv2dBiasReluMaxPoolValues(t *testing.T) {
	p := Conv2dParams{PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2}
	forEachKernelPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(32, 32))
		for _, n := range []int{1, 7} {
			for _, s := range []struct{ c, f, h, w, k, stride int }{{1, 16, 28, 28, 2, 2}, {3, 5, 12, 10, 2, 2}, {3, 5, 12, 10, 3, 2}, {17, 3, 7, 9, 2, 2}, {2, 4, 1, 1, 1, 1}} {
				for _, dt := range []DType{Float32, Float64} {
					x, w, b := randT(rng, dt, n, s.c, s.h, s.w), randT(rng, dt, s.f, s.c, 5, 5), randT(rng, dt, s.f)
					pp := Conv2dParams{StrideH: s.stride, StrideW: s.stride, PadBottom: 1, PadRight: 1}
					if s.k == 2 {
						pp = Conv2dParams{StrideH: 2, StrideW: 2}
					}
					want, _, _ := Conv2dBiasReluMaxPool(x, w, b, p, s.k, s.k, pp)
					if got := Conv2dBiasReluMaxPoolValues(x, w, b, p, s.k, s.k, pp); !sameBits(got, want) {
						t.Fatalf("%d images, %+v, %v: values-only differs", n, s, dt)
					}
				}
			}
		}
	})
}

// MulAddChannels must give Add(Mul(x, scale), shift) bit for bit (the
// product rounded before the sum), float32 and float64, one channel and
// several, 1x1 images, planes of whole vectors and with a tail, on every
// kernel path; the float32 results also equal a scalar Go loop's.
func TestMulAddChannelsMatchesMulThenAdd(t *testing.T) {
	forEachKernelPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(33, 33))
		for _, shape := range [][]int{{5, 1, 28, 28}, {3, 3, 32, 32}, {2, 7, 1, 1}, {4, 3}, {2, 3, 5, 7}, {1, 2, 9, 9}} {
			for _, dt := range []DType{Float32, Float64} {
				x := randT(rng, dt, shape...)
				bs := make([]int, len(shape))
				for i := range bs {
					bs[i] = 1
				}
				bs[1] = shape[1]
				sc, sh := randT(rng, dt, bs...), randT(rng, dt, bs...)
				want := Add(Mul(x, sc), sh)
				got := MulAddChannels(x, sc, sh)
				if !sameBits(got, want) {
					t.Fatalf("%v %v: differs from Add(Mul) by %g", shape, dt, MaxAbsDiff(got, want))
				}
				if dt != Float32 {
					continue
				}
				inner := x.Size() / (shape[0] * shape[1])
				for i, v := range x.f32 {
					c := i / inner % shape[1]
					p := float32(v * sc.f32[c]) // rounded, never fused
					if r := p + sh.f32[c]; math.Float32bits(got.f32[i]) != math.Float32bits(r) {
						t.Fatalf("%v: element %d is %g, the scalar loop's %g", shape, i, got.f32[i], r)
					}
				}
			}
		}
	})
}

// Scale's float32 result must be the scalar product of a Go loop bit for
// bit (whole vectors go through the AVX-512 kernel), on every kernel path,
// lengths with and without a tail, specials included.
func TestScaleMatchesScalarLoop(t *testing.T) {
	forEachKernelPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(35, 35))
		special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.NaN()), 1e-40, 3e38}
		for _, n := range []int{1, 15, 16, 17, 100, 1 << 16, 1<<16 + 5} {
			x := randT(rng, Float32, n)
			for i := 0; i < len(special) && i < n; i++ {
				x.f32[rng.IntN(n)] = special[i]
			}
			for _, c := range []float64{-1, 0.3, 1e30} {
				got := Scale(x, c)
				for i, v := range x.f32 {
					if w := float32(c) * v; math.Float32bits(got.f32[i]) != math.Float32bits(w) {
						t.Fatalf("n %d c %g: element %d is %g, want %g", n, c, i, got.f32[i], w)
					}
				}
			}
		}
	})
}
