package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAvgPoolSeparableMatchesDirect: the separable average pool and its
// adjoint agree with the direct window loop on random shapes (odd sizes,
// 1x1 images, windows wider than the input with padding, strides, windows
// entirely in the padding, both divisors), in float64 and float32, and
// write every element of their result (the output starts as NaN).
func TestAvgPoolSeparableMatchesDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 16))
	type tc struct {
		n, c, h, w, kh, kw int
		p                  Conv2dParams
	}
	cases := []tc{
		{2, 3, 35, 35, 3, 3, Conv2dParams{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}}, // Inception's branch pool
		{1, 1, 1, 1, 3, 3, Conv2dParams{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
		{1, 2, 2, 2, 3, 3, Conv2dParams{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
		{1, 1, 4, 5, 2, 2, Conv2dParams{StrideH: 2, StrideW: 2}},
		{1, 1, 3, 3, 3, 3, Conv2dParams{StrideH: 1, StrideW: 1, PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2}}, // corner windows only in the padding
		{1, 2, 8, 8, 8, 8, Conv2dParams{StrideH: 1, StrideW: 1}},
	}
	for len(cases) < 300 {
		kh, kw := 1+rng.IntN(5), 1+rng.IntN(5)
		p := Conv2dParams{StrideH: 1 + rng.IntN(3), StrideW: 1 + rng.IntN(3),
			PadTop: rng.IntN(kh + 1), PadBottom: rng.IntN(kh + 1), PadLeft: rng.IntN(kw + 1), PadRight: rng.IntN(kw + 1)}
		h, w := 1+rng.IntN(11), 1+rng.IntN(11)
		if h+p.PadTop+p.PadBottom < kh || w+p.PadLeft+p.PadRight < kw {
			continue
		}
		cases = append(cases, tc{1 + rng.IntN(3), 1 + rng.IntN(4), h, w, kh, kw, p})
	}
	for i, c := range cases {
		for _, countPad := range []bool{false, true} {
			for _, dt := range []DType{Float64, Float32} {
				name := fmt.Sprintf("%d/%dx%dx%dx%d-k%dx%d-%+v-countPad=%v-%v", i, c.n, c.c, c.h, c.w, c.kh, c.kw, c.p, countPad, dt)
				xshape := []int{c.n, c.c, c.h, c.w}
				g, oshape := PoolOutShape("test", xshape, c.kh, c.kw, c.p)
				x := randT(rng, dt, xshape...)
				gy := randT(rng, dt, oshape...)
				tol := 1e-14
				if dt == Float32 {
					tol = 1e-6
				}
				want := Zeros(dt, oshape...)
				got := Full(dt, math.NaN(), oshape...)
				wantT := Zeros(dt, xshape...)
				gotT := Full(dt, math.NaN(), xshape...)
				if dt == Float32 {
					avgPool(x.f32, want.f32, g, countPad, false)
					avgPoolSeparable(x.f32, got.f32, g, countPad, false)
					avgPool(wantT.f32, gy.f32, g, countPad, true)
					avgPoolSeparable(gotT.f32, gy.f32, g, countPad, true)
				} else {
					avgPool(x.f64, want.f64, g, countPad, false)
					avgPoolSeparable(x.f64, got.f64, g, countPad, false)
					avgPool(wantT.f64, gy.f64, g, countPad, true)
					avgPoolSeparable(gotT.f64, gy.f64, g, countPad, true)
				}
				if e := maxAbsDiff(got, want); !(e <= tol) {
					t.Fatalf("%s: forward differs from the direct loop by %g", name, e)
				}
				if e := maxAbsDiff(gotT, wantT); !(e <= tol) {
					t.Fatalf("%s: adjoint differs from the direct loop by %g", name, e)
				}
				// the public entry points take the separable route
				if e := maxAbsDiff(AvgPool2d(x, c.kh, c.kw, c.p, countPad), want); !(e <= tol) {
					t.Fatalf("%s: AvgPool2d differs from the direct loop by %g", name, e)
				}
				if e := maxAbsDiff(AvgPool2dT(gy, xshape, c.kh, c.kw, c.p, countPad), wantT); !(e <= tol) {
					t.Fatalf("%s: AvgPool2dT differs from the direct loop by %g", name, e)
				}
			}
		}
	}
}

// TestAvgPoolSeparablePlanted: the comparison above catches a separable
// pool that drops the last row of each window.
func TestAvgPoolSeparablePlanted(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := Conv2dParams{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	x := randT(rng, Float64, 1, 1, 6, 6)
	g, oshape := PoolOutShape("test", x.shape, 3, 3, p)
	want := Zeros(Float64, oshape...)
	avgPool(x.f64, want.f64, g, true, false)
	g.kh = 2 // the defect: windows one row short
	got := Zeros(Float64, oshape...)
	avgPoolSeparable(x.f64, got.f64, g, true, false)
	if e := maxAbsDiff(got, want); e < 1e-3 {
		t.Fatalf("a pool with 2-row windows matches the 3x3 reference (difference %g)", e)
	}
}

func maxAbsDiff(a, b *Tensor) float64 {
	if !SameShape(a.shape, b.shape) {
		return math.Inf(1)
	}
	d := 0.0
	for i := 0; i < a.Size(); i++ {
		e := math.Abs(a.AtFlat(i) - b.AtFlat(i))
		if e != e {
			return e
		}
		d = max(d, e)
	}
	return d
}
