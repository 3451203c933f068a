package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMaxPoolGrad2x2Plane holds the AVX-512 plane kernel to the scatter it
// replaces (clear, then add gy where y > 0 at the index) bit for bit on
// random planes (full blocks of 16 windows, masked tails, NaN and signed
// zero gradients, NaN pooled values), checks its sum, and that an index
// outside its block, or another path, is refused.
func TestMaxPoolGrad2x2Plane(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(31, 32))
		for trial := 0; trial < 400; trial++ {
			ph, pw := 1+rng.IntN(9), 1+rng.IntN(40)
			n, ow := ph*pw, 2*pw
			base := int32(rng.IntN(1000))
			gy, y := randSlice[float32](rng, n+3), randSlice[float32](rng, n+3)
			idx := make([]int32, n)
			for i := range idx {
				r, c := i/pw, i%pw
				idx[i] = base + int32(2*r*ow+2*c+rng.IntN(2)*ow+rng.IntN(2))
				switch rng.IntN(12) {
				case 0:
					gy[i] = float32(math.Copysign(0, -1))
					y[i] = 1
				case 1:
					gy[i] = float32(math.NaN())
				case 2:
					y[i] = float32(math.NaN())
				case 3:
					y[i] = 0
				}
			}
			want := make([]float32, 4*n)
			var wsum float64
			for i, j := range idx {
				if y[i] > 0 {
					want[j-base] += gy[i]
					wsum += float64(gy[i])
				}
			}
			z := randSlice[float32](rng, 4*n+5)
			guard := append([]float32(nil), z[4*n:]...)
			s, ok := MaxPoolGrad2x2Plane(gy, y, idx, base, ph, pw, z)
			if Current() != AVX512 {
				if ok {
					t.Fatal("a path without the AVX-512 kernel reported success")
				}
				return
			}
			if !ok {
				t.Fatalf("%dx%d: refused valid indices", ph, pw)
			}
			for i := range want {
				if math.Float32bits(z[i]) != math.Float32bits(want[i]) && !(want[i] != want[i] && z[i] != z[i]) {
					t.Fatalf("%dx%d: element %d = %v, want %v", ph, pw, i, z[i], want[i])
				}
			}
			for i, v := range guard {
				if math.Float32bits(z[4*n+i]) != math.Float32bits(v) {
					t.Fatalf("%dx%d: element %d past the plane written", ph, pw, 4*n+i)
				}
			}
			if !(math.IsNaN(wsum) && math.IsNaN(float64(s))) && math.Abs(float64(s)-wsum) > 1e-4*(1+math.Abs(wsum)) {
				t.Fatalf("%dx%d: sum %v, want %v", ph, pw, s, wsum)
			}
			// an index outside its block (two rows down, or two columns
			// right: a 3x3 window's third row or column)
			bad := rng.IntN(n)
			if pw > 1 && rng.IntN(2) == 0 {
				idx[bad] += 2
			} else {
				idx[bad] += int32(2 * ow)
			}
			if _, ok := MaxPoolGrad2x2Plane(gy, y, idx, base, ph, pw, z); ok {
				t.Fatalf("%dx%d: index %d moved out of its block was accepted", ph, pw, bad)
			}
		}
	})
}
