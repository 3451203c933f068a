package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMaxPoolValuesPlane holds the row-and-column max-pool values
// (windows other than 2x2 at stride 2) to MaxPool2d's values bit for bit
// on random windows (1-5 by 1-5), strides (1-3) and paddings (some with
// windows entirely in the padding: value 0), with ties,
// -0 next to +0 and infinities, and NaNs in some planes only (those planes
// take the indices' route), float32 and float64; and checks that the rows
// and columns route is the one taken on planes without NaNs.
func TestMaxPoolValuesPlane(t *testing.T) {
	signed := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1))}
	rng := rand.New(rand.NewPCG(41, 43))
	for trial := 0; trial < 300; trial++ {
		kh, kw := 1+rng.IntN(5), 1+rng.IntN(5)
		p := Conv2dParams{StrideH: 1 + rng.IntN(3), StrideW: 1 + rng.IntN(3),
			PadTop: rng.IntN(kh), PadBottom: rng.IntN(kh), PadLeft: rng.IntN(kw), PadRight: rng.IntN(kw)}
		if trial%5 == 4 { // padding past the kernel's reach: windows entirely in it
			p.PadBottom, p.PadRight = kh+rng.IntN(3), kw+rng.IntN(3)
		}
		n, c, h, w := 1+rng.IntN(2), 1+rng.IntN(4), kh+rng.IntN(12), kw+rng.IntN(12)
		if kh == 2 && kw == 2 && p.StrideW == 2 {
			continue // the vector kernel's windows, tested in TestMaxPool2dValuesMatchesMaxPool2d
		}
		v := make([]float32, n*c*h*w)
		choice := trial % 4
		for i := range v {
			switch choice {
			case 0:
				v[i] = rng.Float32()*2 - 1
			case 1:
				v[i] = float32(rng.IntN(3))
			default:
				v[i] = signed[rng.IntN(len(signed))]
			}
		}
		if choice == 3 { // a NaN in one plane
			v[rng.IntN(h*w)+h*w*rng.IntN(n*c)] = float32(math.NaN())
		}
		for _, x := range []*Tensor{FromFloat32(v, n, c, h, w), FromFloat32(v, n, c, h, w).AsType(Float64)} {
			want, _ := MaxPool2d(x, kh, kw, p)
			if got := MaxPool2dValues(x, kh, kw, p); !sameBits(got, want) {
				t.Fatalf("trial %d: %dx%d window, %+v on %v: values differ from MaxPool2d's", trial, kh, kw, p, x.Shape())
			}
		}
		if choice < 3 {
			g, oshape := PoolOutShape("test", []int{n, c, h, w}, kh, kw, p)
			got := make([]float32, Numel(oshape)/(n*c))
			for i := range got {
				got[i] = float32(math.NaN()) // every value must be written
			}
			r := make([]float32, h*g.ow)
			for i := range r {
				r[i] = float32(i%3) - 1 // stale row maxima must not leak
			}
			if !maxPoolValuesPlane(v[:h*w], g, got, r) {
				t.Fatalf("trial %d: a plane without NaNs left the row and column route", trial)
			}
			want, _ := MaxPool2d(FromFloat32(v[:h*w], 1, 1, h, w), kh, kw, p)
			if !sameBits(FromFloat32(got, oshape[2:]...), want.Reshape(oshape[2:]...)) {
				t.Fatalf("trial %d: %dx%d window, %+v: one plane's values differ from MaxPool2d's", trial, kh, kw, p)
			}
		}
	}
}
